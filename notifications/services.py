"""Recording notifications: the outbox rows and inbox items written inside the caller's transaction.

``notify`` must be called inside the transaction of the change that caused the event, so that a change
that rolls back sends nothing. Delivery is handed to Celery only after commit; if the broker is down
then, the outbox sweep sends the rows later.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import Organisation, OrganisationKind, User

from .models import Channel, Event, InboxItem, Notification

logger = logging.getLogger(__name__)


def manager_organisations() -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind=OrganisationKind.CONTRACTOR)


def inbox_message(event: str, reference: str, due_at: datetime.datetime | None = None) -> str:
    """The one-line message for an event. Case reference and due time only: never personal data."""
    text = f"{Event(event).label}: {reference}" if reference else Event(event).label
    if due_at is not None:
        text += f" (due {due_at:%d %b %Y %H:%M})"
    return text


def notify(
    *,
    event: Event,
    organisations: Iterable[Organisation],
    referral_id: int | None = None,
    reference: str = "",
    due_at: datetime.datetime | None = None,
) -> list[Notification]:
    """Write the inbox items and outbox rows for an event, and queue delivery after commit."""
    organisations = {org.pk: org for org in organisations}.values()
    message = inbox_message(event, reference, due_at)
    users = User.objects.filter(organisation__in=[org.pk for org in organisations], is_active=True)
    InboxItem.objects.bulk_create(
        InboxItem(user_id=user_id, event=event, referral_id=referral_id, reference=reference, message=message)
        for user_id in users.values_list("pk", flat=True)
    )
    outbox = []
    for org in organisations:
        if org.notification_emails:
            outbox.append(Notification(event=event, channel=Channel.EMAIL, organisation=org))
        if org.webhook_url:
            outbox.append(Notification(event=event, channel=Channel.WEBHOOK, organisation=org))
    for row in outbox:
        row.referral_id = referral_id
        row.reference = reference
        row.due_at = due_at
    Notification.objects.bulk_create(outbox)
    ids = [str(row.pk) for row in outbox]
    if ids:
        transaction.on_commit(lambda: queue_delivery(ids))
    return outbox


def queue_delivery(notification_ids: list[str]) -> None:
    """Hand notifications to Celery. A broker failure is logged, not raised: the outbox sweep retries."""
    from .tasks import deliver_notification

    for notification_id in notification_ids:
        try:
            deliver_notification.delay(notification_id)
        except Exception:  # the broker is down; the row stays pending for the sweep
            logger.warning("Could not queue notification %s; the outbox sweep will send it", notification_id)
            return
