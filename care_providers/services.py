"""Placement rules: which provider can take a person, and beds that are never overbooked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from referrals.choices import BED_FOR, BedKind, Gender, Misfit, Route, Service, misfits_in_words
from referrals.exceptions import NoCapacity, ProviderCannotTake, ProviderNoLongerSuitable

from .models import CareProvider
from .selectors import occupied_beds

if TYPE_CHECKING:
    from referrals.models import Referral


def bed_kind_for(referral: Referral) -> str:
    """The kind of bed a person needs: a family room with dependants, else by gender."""
    if referral.has_dependants:
        return BedKind.FAMILY
    return BedKind.MEN if referral.gender == Gender.MALE else BedKind.WOMEN


def bed_needed(referral: Referral) -> str:
    """The kind of bed the person needs; "" on the outreach route, which holds no bed."""
    return bed_kind_for(referral) if referral.route == Route.ACCOMMODATION else ""


def provider_misfits(provider: CareProvider, referral: Referral) -> list[Misfit]:
    """What of the person this provider does not take: a child where it supports no children, a region
    it does not serve, a person on the accommodation route needing a kind of bed it has none of (a man
    at a women's safe house), as against one whose beds of that kind are all taken for now. A
    correction (of the age, the region, the gender or the dependants) can bring any of them about after
    the offer or the placement. An outreach-only provider is told apart as such, not by its beds."""
    misfits = []
    if referral.is_child and not provider.supports_children:
        misfits.append(Misfit.CHILDREN)
    if referral.region not in provider.regions:
        misfits.append(Misfit.REGION)
    kind = bed_needed(referral)
    if kind and Service.ACCOMMODATION in provider.services and not provider.capacity(kind):
        misfits.append(Misfit.BEDS)
    return misfits


def misfit_in_words(misfit: Misfit, referral: Referral) -> str:
    """What the provider does not do for this person, as a reason: "serve the person's region", "have
    any beds for men"."""
    return misfits_in_words([misfit], bed_kind=bed_needed(referral))


def reasons_provider_cannot_support(provider: CareProvider, referral: Referral) -> list[str]:
    """Every reason this provider cannot support this person, free beds aside; empty if it can."""
    reasons = []
    if not provider.active:
        reasons.append(f"{provider.name} is not taking referrals.")
    reasons += [
        f"{provider.name} does not {misfit_in_words(misfit, referral)}."
        for misfit in provider_misfits(provider, referral)
    ]
    if referral.route == Route.ACCOMMODATION:
        if Service.ACCOMMODATION not in provider.services:
            reasons.append(f"{provider.name} offers outreach only; the route is accommodation.")
    elif Service.OUTREACH not in provider.services:
        reasons.append(f"{provider.name} does not offer outreach.")
    return reasons


def reasons_provider_cannot_take(provider: CareProvider, referral: Referral) -> list[str]:
    """Every reason this provider cannot take this person; empty if it can."""
    reasons = reasons_provider_cannot_support(provider, referral)
    kind = bed_needed(referral)
    # A provider with no bed of that kind at all is told as a misfit above, not as one with none free.
    if kind and Service.ACCOMMODATION in provider.services and provider.capacity(kind):
        # Suggestions rank every provider, loaded with their occupancy: no query per provider.
        occupied = getattr(provider, f"occupied_{kind}", None)
        if occupied is None:
            occupied = occupied_beds(provider, kind)
        if occupied >= provider.capacity(kind):
            reasons.append(f"{provider.name} has no free bed {BED_FOR[kind]}.")
    return reasons


def check_provider_can_take(provider: CareProvider, referral: Referral) -> None:
    reasons = reasons_provider_cannot_take(provider, referral)
    if reasons:
        raise ProviderCannotTake(" ".join(reasons), field="provider")


def reserve_bed(provider_id: int, referral: Referral) -> str:
    """Lock the provider and return the bed kind to hold, or raise ``ProviderNoLongerSuitable`` or
    ``NoCapacity``.

    The provider row lock serialises acceptances for one provider, so two can never take its last bed,
    and the provider is read as it is now: one changed since the offer (that stopped supporting
    children, say), or that a correction since left with no bed of the kind the person now needs, is
    checked again as an offer is. Returns "" for outreach, which holds no bed.
    """
    provider = CareProvider.objects.select_for_update().get(pk=provider_id)
    if reasons := reasons_provider_cannot_support(provider, referral):
        raise ProviderNoLongerSuitable(f"This offer can no longer be accepted: {' '.join(reasons)}")
    kind = bed_needed(referral)
    if not kind:
        return ""
    if occupied_beds(provider, kind) >= provider.capacity(kind):
        raise NoCapacity(f"{provider.name} has no free bed {BED_FOR[kind]} left.")
    return kind
