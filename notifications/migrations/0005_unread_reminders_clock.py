"""The unread reminders written before inbox items recorded their clock: the clock is read from the message
("…, check-in (due …)"), and a reminder whose deadline was met before this release (its clock no longer
runs) is marked read, as this release marks it when the deadline is met. Read reminders and breaches are
left as they are: nothing reads their clock. Safe to run again: it looks only at reminders with no clock.
A migration of its own, apart from the column's: interrupted, it is simply run again."""

from django.db import migrations
from django.db.models import Exists, OuterRef
from django.utils import timezone

# The clocks' labels as inbox messages spell them (lower case), at the time of this migration.
CLOCK_LABELS = {
    "assessment": "assessment",
    "placement": "placement",
    "offer_response": "offer response",
    "check_in": "check-in",
    "recovery_review": "recovery review",
    "missing": "missing",
}


def clocks_of_unread_reminders(apps, schema_editor):
    inbox_item = apps.get_model("notifications", "InboxItem")
    deadline = apps.get_model("referrals", "Deadline")
    now = timezone.now()
    for clock, label in CLOCK_LABELS.items():
        reminders = inbox_item.objects.filter(
            event="deadline.reminder", read_at__isnull=True, clock="", message__contains=f", {label} (due "
        )
        # The clock the reminder was about still runs if it started before the reminder; one started
        # since is a new clock of the kind (a check-in restarted by a progress note, a new offer's).
        running = deadline.objects.filter(
            referral_id=OuterRef("referral_id"),
            clock=clock,
            stopped_at__isnull=True,
            started_at__lte=OuterRef("created_at"),
        )
        reminders.filter(~Exists(running)).update(clock=clock, read_at=now)
        reminders.update(clock=clock)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0004_inboxitem_clock"),
        ("referrals", "0006_draft_form_key"),
    ]

    operations = [migrations.RunPython(clocks_of_unread_reminders, migrations.RunPython.noop)]
