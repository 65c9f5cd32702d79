from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0008_notification_sequence'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='delivered_to',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
