from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0009_notification_delivered_to'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='claimed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
