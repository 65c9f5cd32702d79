"""The recovery reviews of people missing now, which the release before left running while they were
missing (reminded, escalated and listed overdue when nobody could hold the review), are paused as this
release pauses them when a person is reported missing: from the time they were (their ``state_changed_at``),
so that being found runs them on with all the time they had left. A review still ahead then has its
reminder and any escalation since undone: both go again, with its new due time, once it runs on; its
unread reminders are read, as this release reads them on pausing it. One already overdue then keeps its
escalation. Safe to run again: it looks only at open reviews. A migration of its own, apart
from the column's: interrupted, it is simply run again. Undone, the paused reviews run again as before."""

from django.db import migrations
from django.utils import timezone


def pause_missing_recovery_reviews(apps, schema_editor):
    deadline = apps.get_model("referrals", "Deadline")
    inbox_item = apps.get_model("notifications", "InboxItem")
    now = timezone.now()
    reviews = deadline.objects.filter(
        clock="recovery_review", stopped_at__isnull=True, referral__state="missing"
    ).select_related("referral")
    for review in reviews:
        review.stopped_at, review.paused = review.referral.state_changed_at, True
        if review.due_at > review.stopped_at:
            review.reminded_at = review.breached_at = None
            inbox_item.objects.filter(
                referral_id=review.referral_id,
                event="deadline.reminder",
                clock="recovery_review",
                read_at__isnull=True,
            ).update(read_at=now)
        review.save(update_fields=["stopped_at", "paused", "reminded_at", "breached_at"])


def run_paused_reviews_again(apps, schema_editor):
    apps.get_model("referrals", "Deadline").objects.filter(paused=True).update(stopped_at=None, paused=False)


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0016_deadline_paused"),
        ("notifications", "0005_unread_reminders_clock"),
    ]

    operations = [migrations.RunPython(pause_missing_recovery_reviews, run_paused_reviews_again)]
