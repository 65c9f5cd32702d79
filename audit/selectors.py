"""Reading the audit trail (managers only; the views check the role)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.authentication import username_as_recorded
from referrals.references import reference_as_typed

from .models import AuditEvent

if TYPE_CHECKING:
    from referrals.models import Referral


def audit_trail_for(referral: Referral) -> QuerySet[AuditEvent]:
    """Every read and change of one case, newest first."""
    return (
        AuditEvent.objects.filter(referral=referral)
        .select_related("actor__organisation")
        .order_by("-at", "-id")
    )


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def audit_events_page(
    events: QuerySet[AuditEvent], *, before: int | None, size: int
) -> tuple[list[AuditEvent], int | None]:
    """One page of events older than the id ``before``, and the id to continue from (None at the end)."""
    if before is not None:
        events = events.filter(pk__lt=before)
    rows = list(events[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


# What the trail shows of an event, of who did it and of its case: the case's reference alone, not
# its encrypted personal fields, which a page of a hundred events would otherwise decrypt.
TRAIL_FIELDS = (
    "at", "username", "ip_address", "action", "what", "changes", "actor__username",
    "actor__organisation__name", "referral__reference",
)  # fmt: skip


def audit_events(
    *,
    username: str = "",
    action: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    reference: str = "",
) -> QuerySet[AuditEvent]:
    """The whole trail, newest first, filtered by user (as signed in or as typed at a sign-in), action,
    day range (local days) and case. Ordered by id, which follows time, so pages are read by keyset
    (``before``) rather than by counting a table that grows with every read of every case."""
    events = (
        AuditEvent.objects.select_related("actor__organisation", "referral")
        .only(*TRAIL_FIELDS)
        .order_by("-id")
    )
    if username:
        # A sign-in under a name that is no user's is recorded by its digest, found by the name as typed.
        typed = Q(username__iexact=username) | Q(username=username_as_recorded(username))
        events = events.filter(typed | Q(actor__username__iexact=username))
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(at__gte=_local_midnight(since))
    if until is not None:
        events = events.filter(at__lt=_local_midnight(until + datetime.timedelta(days=1)))
    if reference:
        # Written as Harbour writes it and matched whole: the unique index finds the case.
        events = events.filter(referral__reference=reference_as_typed(reference))
    return events
