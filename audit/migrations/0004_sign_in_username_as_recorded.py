from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_indexes")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="username",
            field=models.CharField(
                blank=True,
                help_text='For sign-ins: the username, or "unknown #" and a digest when it names no user.',
                max_length=150,
            ),
        ),
    ]
