"""The care provider portal: offers waiting, the caseload of people placed, and past placements.

Each list starts from ``referrals_visible_to`` so a provider never lists a case it may not see; the case
page and its actions are the shared ones in ``referrals.views``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from referrals.choices import ReferralState
from referrals.models import Clock, Deadline
from referrals.selectors import referrals_visible_to
from referrals.views import open_clock_due, paginate

from .models import CareProvider, OfferState, Placement, PlacementOffer

if TYPE_CHECKING:
    from accounts.models import User


def _provider_of(request: HttpRequest) -> tuple[User, CareProvider]:
    user: User = request.user  # type: ignore[assignment]
    provider = user.provider
    if provider is None:
        raise PermissionDenied("These pages are for care providers.")
    return user, provider


@login_required
def offers(request: HttpRequest) -> HttpResponse:
    """Offers waiting for this provider's answer, the soonest deadline first."""
    user, provider = _provider_of(request)
    pending = PlacementOffer.objects.filter(
        referral=OuterRef("pk"), provider=provider, state=OfferState.PENDING
    )
    waiting = (
        referrals_visible_to(user)
        .filter(Exists(pending))
        .annotate(offer_due=Subquery(pending.values("response_due_at")[:1]))
        .order_by("offer_due", "id")
    )
    return render(
        request, "care_providers/offers.html", {"provider": provider, "page": paginate(request, waiting)}
    )


@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """People placed with this provider: the missing first, longest gone first (the missing clock
    starts when they were last seen), then the next check-in due first."""
    user, provider = _provider_of(request)
    active = Placement.objects.filter(referral=OuterRef("pk"), provider=provider, ended_at__isnull=True)
    missing = Deadline.objects.filter(referral=OuterRef("pk"), clock=Clock.MISSING, stopped_at__isnull=True)
    people = (
        referrals_visible_to(user)
        .filter(Exists(active), state__in=(ReferralState.PLACED, ReferralState.MISSING))
        .annotate(
            check_in_due=open_clock_due(Clock.CHECK_IN),
            missing_since=Subquery(missing.values("started_at")[:1]),
            placed_since=Subquery(active.values("started_at")[:1]),
        )
        .order_by(F("missing_since").asc(nulls_last=True), "check_in_due", "id")
    )
    return render(
        request, "care_providers/caseload.html", {"provider": provider, "page": paginate(request, people)}
    )


@login_required
def past_placements(request: HttpRequest) -> HttpResponse:
    """People this provider supported before; their case pages are read-only."""
    user, provider = _provider_of(request)
    ended = Placement.objects.filter(referral=OuterRef("pk"), provider=provider, ended_at__isnull=False)
    active = Placement.objects.filter(referral=OuterRef("pk"), provider=provider, ended_at__isnull=True)
    people = (
        referrals_visible_to(user)
        .filter(Exists(ended))
        .exclude(Exists(active))
        .annotate(ended_at=Subquery(ended.order_by("-ended_at").values("ended_at")[:1]))
        .order_by("-ended_at", "-id")
    )
    return render(
        request, "care_providers/past.html", {"provider": provider, "page": paginate(request, people)}
    )
