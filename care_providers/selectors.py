"""Queries that read providers, offers and placements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from referrals.choices import BedKind

from .models import CareProvider, OfferState, Placement, PlacementOffer

if TYPE_CHECKING:
    from referrals.models import Referral


def pending_offer_for(referral: Referral) -> PlacementOffer | None:
    return referral.offers.filter(state=OfferState.PENDING).first()


def latest_offer_for(referral: Referral) -> PlacementOffer | None:
    return referral.offers.order_by("-offered_at", "-id").first()


def active_placement_for(referral: Referral) -> Placement | None:
    return referral.placements.filter(ended_at__isnull=True).first()


def occupied_beds(provider: CareProvider, bed_kind: str) -> int:
    return Placement.objects.filter(provider=provider, bed_kind=bed_kind, ended_at__isnull=True).count()


def providers_with_occupancy() -> QuerySet[CareProvider]:
    """Providers annotated with ``occupied_<kind>`` for every bed kind, in one query."""
    active = Q(placements__ended_at__isnull=True)
    return CareProvider.objects.annotate(
        **{
            f"occupied_{kind}": Count("placements", filter=active & Q(placements__bed_kind=kind))
            for kind in BedKind.values
        }
    ).order_by("name")
