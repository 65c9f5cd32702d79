from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0007_still_missing'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='sequence',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
