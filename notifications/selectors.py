from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User

from .models import DeliveryAttempt, DeliveryState, InboxItem, Notification


def inbox_for(user: User) -> QuerySet[InboxItem]:
    """A user's own inbox, newest first. Nobody sees anyone else's."""
    return InboxItem.objects.filter(user=user).order_by("-created_at", "-id")


# Counted for the header of every page: the query's shape is built once and each count filters a copy.
_UNREAD = InboxItem.objects.filter(read_at__isnull=True)


def unread_count(user: User) -> int:
    return _UNREAD.filter(user=user).count()


def pending_count() -> int:
    """Notifications neither delivered nor failed yet, counted on the partial index of pending rows.

    The undelivered page shows it when it lists none: every pending notification is then younger than
    NOTIFICATION_STUCK_MINUTES, on its way. In the first minutes of a broker or worker outage they pile
    up here before the list shows any.
    """
    return Notification.objects.filter(state=DeliveryState.PENDING).count()


def undelivered_notifications(now: datetime.datetime | None = None) -> QuerySet[Notification]:
    """Failed notifications, pending ones waiting to be retried after a failed attempt, and pending
    ones older than NOTIFICATION_STUCK_MINUTES, with their attempts."""
    now = now or timezone.now()
    stuck_before = now - datetime.timedelta(minutes=settings.NOTIFICATION_STUCK_MINUTES)
    retrying = Q(state=DeliveryState.PENDING, attempts__gt=0) & ~Q(last_error="")
    return (
        Notification.objects.filter(
            Q(state=DeliveryState.FAILED)
            | retrying
            | Q(state=DeliveryState.PENDING, created_at__lt=stuck_before)
        )
        .select_related("organisation")
        .prefetch_related(Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("at")))
        .order_by("-created_at")
    )
