"""Inbox items record the clock a deadline's reminder or breach is about, so that stopping the clock marks
its reminders read. Unread reminders written before say the clock only in their message ("…, check-in
(due …)"): it is read from there, so that they too are marked read when their deadline is met. Read ones
and breaches are left as they are: nothing reads their clock."""

from django.db import migrations, models

# The clocks' labels as inbox messages spell them (lower case), at the time of this migration.
CLOCK_LABELS = {
    "assessment": "assessment",
    "placement": "placement",
    "offer_response": "offer response",
    "check_in": "check-in",
    "recovery_review": "recovery review",
    "missing": "missing",
}


def clock_from_message(apps, schema_editor):
    inbox_item = apps.get_model("notifications", "InboxItem")
    waiting = inbox_item.objects.filter(event="deadline.reminder", read_at__isnull=True, clock="")
    for clock, label in CLOCK_LABELS.items():
        waiting.filter(message__contains=f", {label} (due ").update(clock=clock)


class Migration(migrations.Migration):
    # Not one transaction: the new column's lock on the inbox (a large table, whose unread count every
    # signed-in page reads) ends as soon as the column is added, before the unread reminders are filled in.
    atomic = False

    dependencies = [
        ("notifications", "0003_notification_resent_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboxitem",
            name="clock",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.RunPython(clock_from_message, migrations.RunPython.noop),
    ]
