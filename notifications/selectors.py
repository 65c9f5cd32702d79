from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Case, CharField, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User

from .models import MISSING_EVENTS, DeliveryAttempt, DeliveryState, Event, InboxItem, Notification


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


# The events that ask someone to act, or tell of something still going on: each is current only while
# that lasts (``outdated_because``). The others tell of something done, which stays true; a late copy
# says when it happened (an email) or where it goes among the case's events (a webhook's ``sequence``).
EVENTS_THAT_GO_OUT_OF_DATE = frozenset(
    {
        Event.REFERRAL_RECEIVED,
        Event.OFFER_MADE,
        Event.DEADLINE_REMINDER,
        Event.PERSON_MISSING,
        Event.STILL_MISSING,
        Event.DEADLINE_BREACHED,
        Event.PERSON_NOW_18,
    }
)


def outdated_because() -> Case:
    """Why a notification is no longer current, in a word or two, or "" while it is; an annotation.

    Not current, so neither sent again nor delivered late: a placement offer no longer pending (its
    provider would be asked to answer a closed offer); a reminder whose clock has stopped or moved on;
    a missing person's alert once they are no longer missing (the "found" notification follows it);
    a new referral once assessed, declined or withdrawn; a breach, or a person's turning 18, once the
    case is closed.
    """
    from care_providers.models import OfferState, PlacementOffer
    from referrals.choices import OPEN_STATES, ReferralState
    from referrals.models import Clock, Deadline

    offer_pending = PlacementOffer.objects.filter(
        referral_id=OuterRef("referral_id"),
        provider__organisation_id=OuterRef("organisation_id"),
        response_due_at=OuterRef("due_at"),
        state=OfferState.PENDING,
    )
    clock_running = Deadline.objects.filter(
        referral_id=OuterRef("referral_id"),
        clock=OuterRef("clock"),
        due_at=OuterRef("due_at"),
        stopped_at__isnull=True,
    )
    # Missing, or reallocated while missing and not found since (``Referral.still_missing``).
    still_missing = Deadline.objects.filter(
        referral_id=OuterRef("referral_id"), clock=Clock.MISSING, stopped_at__isnull=True
    )
    closed = ~Q(referral__state__in=OPEN_STATES)
    return Case(
        When(referral__isnull=True, then=Value("")),
        When(Q(event=Event.OFFER_MADE) & ~Exists(offer_pending), then=Value("offer closed")),
        When(Q(event=Event.DEADLINE_REMINDER) & ~Exists(clock_running), then=Value("clock stopped")),
        When(Q(event__in=MISSING_EVENTS) & ~Exists(still_missing), then=Value("no longer missing")),
        When(
            Q(event__in=(Event.REFERRAL_RECEIVED, Event.DEADLINE_BREACHED, Event.PERSON_NOW_18)) & closed,
            then=Value("case closed"),
        ),
        When(
            Q(event=Event.REFERRAL_RECEIVED) & ~Q(referral__state=ReferralState.RECEIVED),
            then=Value("already assessed"),
        ),
        default=Value(""),
        output_field=CharField(),
    )


def with_outdated_because(notifications: QuerySet[Notification]) -> QuerySet[Notification]:
    """The notifications, each with ``outdated_because`` ("" while current)."""
    return notifications.annotate(outdated_because=outdated_because())


def why_outdated(notification: Notification) -> str:
    """Why the notification is no longer current, or "" (one query, none for an event that stays true)."""
    if notification.event not in EVENTS_THAT_GO_OUT_OF_DATE or notification.referral_id is None:
        return ""
    row = Notification.objects.filter(pk=notification.pk)
    return row.values_list(outdated_because(), flat=True).first() or ""


def _undelivered(now: datetime.datetime | None, organisation_id: int | None) -> QuerySet[Notification]:
    now = now or timezone.now()
    stuck_before = now - datetime.timedelta(minutes=settings.NOTIFICATION_STUCK_MINUTES)
    retrying = Q(state=DeliveryState.PENDING, attempts__gt=0) & ~Q(last_error="")
    undelivered = Notification.objects.filter(
        Q(state=DeliveryState.FAILED) | retrying | Q(state=DeliveryState.PENDING, created_at__lt=stuck_before)
    )
    if organisation_id is not None:
        undelivered = undelivered.filter(organisation_id=organisation_id)
    return with_outdated_because(undelivered)


def undelivered_notifications(
    now: datetime.datetime | None = None, organisation_id: int | None = None
) -> QuerySet[Notification]:
    """Failed notifications, pending ones waiting to be retried after a failed attempt, and pending
    ones older than NOTIFICATION_STUCK_MINUTES, with their attempts: those still current only, to one
    organisation if given. One no longer current needs nothing done and is never sent
    (``undelivered_no_longer_current``)."""
    return (
        _undelivered(now, organisation_id)
        .filter(Q(outdated_because=""))  # the annotation of with_outdated_because
        .select_related("organisation")
        .prefetch_related(Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("at")))
        .order_by("-created_at")
    )


def undelivered_no_longer_current(
    now: datetime.datetime | None = None, organisation_id: int | None = None
) -> int:
    """How many undelivered notifications (to one organisation if given) are no longer current: left off
    the managers' list."""
    return _undelivered(now, organisation_id).exclude(Q(outdated_because="")).count()
