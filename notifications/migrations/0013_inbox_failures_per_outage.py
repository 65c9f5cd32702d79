"""A manager's inbox item for a failed delivery tells of every failure to the same organisation by the
same channel while it is unread: it keeps the first failed notification, and counts the failures. The
count has a default in the database, so that the release still serving while this one migrates can go
on writing inbox items; the items written before tell of one failure each, as they always did."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0012_notification_state_outdated'),
    ]

    operations = [
        migrations.AddField(
            model_name='inboxitem',
            name='failures',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='inboxitem',
            name='notification',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='notifications.notification'),
        ),
    ]
