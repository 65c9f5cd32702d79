"""Inbox items record the clock a deadline's reminder or breach is about, so that stopping the clock marks
its reminders read. The column has a default in the database, so that the release still serving while
this one migrates, which names no clock, can go on writing inbox items; 0005 fills in the clocks of the
reminders written before."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_notification_resent_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboxitem",
            name="clock",
            field=models.CharField(blank=True, db_default="", default="", max_length=20),
        ),
    ]
