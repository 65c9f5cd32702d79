"""Reading the audit trail (managers only; the views check the role)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

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


def audit_events(
    *,
    username: str = "",
    action: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    reference: str = "",
) -> QuerySet[AuditEvent]:
    """The whole trail, filtered by user (as signed in or as typed), action, day range and case."""
    events = AuditEvent.objects.select_related("actor__organisation", "referral").order_by("-at", "-id")
    if username:
        events = events.filter(Q(username__iexact=username) | Q(actor__username__iexact=username))
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(at__date__gte=since)
    if until is not None:
        events = events.filter(at__date__lte=until)
    if reference:
        events = events.filter(referral__reference__iexact=reference.strip())
    return events
