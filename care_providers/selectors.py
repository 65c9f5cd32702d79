"""Queries that read providers, offers and placements."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Least
from django.utils import timezone

from referrals.choices import BED_FOR, BedKind, ReallocateReason, ReferralState, Route, language_names
from referrals.models import Clock
from referrals.selectors import (
    clock_last_stopped,
    missing_since,
    open_clock_due,
    open_clock_reminder,
    referrals_visible_to,
)

from .models import CareProvider, OfferState, Placement, PlacementOffer

if TYPE_CHECKING:
    from accounts.models import User
    from referrals.models import Referral

RECENT_DAYS = 90

ENGLISH = "en"


def provider_names(provider_ids: Iterable[int]) -> dict[int, str]:
    """The names of these providers, in one query (none for no ids)."""
    wanted = set(provider_ids)
    if not wanted:
        return {}
    return dict(CareProvider.objects.filter(pk__in=wanted).values_list("pk", "name"))


def pending_offer_for(referral: Referral) -> PlacementOffer | None:
    return referral.offers.filter(state=OfferState.PENDING).first()


def latest_offer_for(referral: Referral) -> PlacementOffer | None:
    return referral.offers.order_by("-offered_at", "-id").first()


def last_offer_to(provider: CareProvider | None, referral_id: int) -> PlacementOffer | None:
    """The provider's latest offer of the referral, with the referral's reference and state and nothing
    else of it: the case itself may be out of the provider's sight now. None for no provider (a user who
    is not a care provider's)."""
    if provider is None:
        return None
    offers = (
        provider.offers.filter(referral_id=referral_id)
        .select_related("referral")
        .only(
            "state",
            "offered_at",
            "response_due_at",
            "responded_at",
            "revoke_reason",
            "referral__reference",
            "referral__state",
        )
    )
    return offers.order_by("-offered_at", "-id").first()


def who_rejected(offer: PlacementOffer) -> str | None:
    """The username of whoever rejected the offer: a caseworker may be hearing only now that a colleague
    turned the person down. The first rejection since the offer was made, as only one offer is pending at
    a time: a later one is another provider's, of a later offer."""
    return cast(
        str | None,
        offer.referral.transitions.filter(transition="reject", at__gte=offer.offered_at)
        .order_by("at", "id")
        .values_list("actor__username", flat=True)
        .first(),
    )


# The transitions that withdraw a pending offer: the managers' own, and the case's closing with it in.
REVOKING_TRANSITIONS = ("revoke_offer", "withdraw", "exit")


def when_withdrawn(offer: PlacementOffer) -> datetime.datetime | None:
    """When the offer was withdrawn, by the managers or with its case: the first withdrawal logged since
    it was made, as only one offer is pending at a time."""
    return cast(
        datetime.datetime | None,
        offer.referral.transitions.filter(transition__in=REVOKING_TRANSITIONS, at__gte=offer.offered_at)
        .order_by("at", "id")
        .values_list("at", flat=True)
        .first(),
    )


# What the offers page shows of a person: enough to decide on an offer, and no name, date of birth
# (only the age worked from it) or phone, which the provider sees only once it accepts (SPEC §2).
OFFER_LIST_FIELDS = (
    "reference",
    "region",
    "route",
    "emergency",
    "is_child",
    "age_in_doubt",
    "age_estimate",
    "date_of_birth",
    "gender",
    "has_dependants",
    "languages",
    "interpreter_needed",
    "needs_medical",
)


def _pending_offers_to(provider: CareProvider) -> QuerySet[PlacementOffer]:
    """The provider's pending offer of the case in the outer query."""
    return PlacementOffer.objects.filter(referral=OuterRef("pk"), provider=provider, state=OfferState.PENDING)


def _placements_with(provider: CareProvider, *, ended: bool) -> QuerySet[Placement]:
    """The provider's placements, ended or active, of the case in the outer query."""
    return Placement.objects.filter(referral=OuterRef("pk"), provider=provider, ended_at__isnull=not ended)


def offers_awaiting_answer(user: User, provider: CareProvider) -> QuerySet[Referral]:
    """The cases offered to the provider and awaiting its answer, the most urgent first: emergencies (a
    bed needed today), then children, then the soonest answer due. With ``OFFER_LIST_FIELDS`` only,
    ``offer_due``, the offer's reminder time ``offer_remind_at`` and the managers' note to the provider
    ``offer_note`` (decrypted as the offer's own field is)."""
    pending = _pending_offers_to(provider)
    return (
        referrals_visible_to(user)
        .filter(Exists(pending))
        .only(*OFFER_LIST_FIELDS)
        .annotate(
            offer_due=Subquery(pending.values("response_due_at")[:1]),
            offer_remind_at=open_clock_reminder(Clock.OFFER_RESPONSE),
            offer_note=Subquery(pending.values("note")[:1]),
        )
        .order_by("-emergency", "-is_child", "offer_due", "id")
    )


def caseload_of(user: User, provider: CareProvider) -> QuerySet[Referral]:
    """The people placed with the provider, the most urgent first: the missing, longest gone first, then
    whoever has the soonest of a check-in and a recovery review due (``next_due``), so that an overdue
    review comes to the top as an overdue check-in does. With ``check_in_due``, ``missing_since``,
    ``placed_since``, the recovery review's due time ``review_due`` (None once it is met, and then
    ``review_done_at``, or while the person is missing) and the two clocks' reminder times
    ``check_in_remind_at`` and ``review_remind_at``, from which each is due soon."""
    active = _placements_with(provider, ended=False)
    return (
        referrals_visible_to(user)
        .filter(Exists(active), state__in=(ReferralState.PLACED, ReferralState.MISSING))
        .annotate(
            check_in_due=open_clock_due(Clock.CHECK_IN),
            check_in_remind_at=open_clock_reminder(Clock.CHECK_IN),
            review_due=open_clock_due(Clock.RECOVERY_REVIEW),
            review_remind_at=open_clock_reminder(Clock.RECOVERY_REVIEW),
            review_done_at=clock_last_stopped(Clock.RECOVERY_REVIEW),
            missing_since=missing_since(),
            placed_since=Subquery(active.values("started_at")[:1]),
        )
        # PostgreSQL's LEAST passes over a NULL: a case with one clock open is ordered by that one.
        .annotate(next_due=Least("check_in_due", "review_due"))
        .order_by(F("missing_since").asc(nulls_last=True), F("next_due").asc(nulls_last=True), "id")
    )


def past_placements_of(user: User, provider: CareProvider) -> QuerySet[Referral]:
    """The cases whose placement with the provider has ended, the latest ended first, with ``ended_at``.
    Not one placed with it again, or offered to it again, which its caseload or offers page lists."""
    ended = _placements_with(provider, ended=True)
    return (
        referrals_visible_to(user)
        .filter(Exists(ended))
        .exclude(Exists(_placements_with(provider, ended=False)))
        .exclude(Exists(_pending_offers_to(provider)))
        .only("reference", "state", "is_child")  # what the list shows: nothing personal, nothing to decrypt
        .annotate(ended_at=Subquery(ended.order_by("-ended_at").values("ended_at")[:1]))
        .order_by("-ended_at", "-id")
    )


def active_placement_for(referral: Referral) -> Placement | None:
    """The case's active placement; taken from its case summary (``active_placement_list``) if loaded."""
    loaded = getattr(referral, "active_placement_list", None)
    if loaded is not None:
        return loaded[0] if loaded else None
    return referral.placements.filter(ended_at__isnull=True).first()


def occupied_beds(provider: CareProvider, bed_kind: str) -> int:
    return Placement.objects.filter(provider=provider, bed_kind=bed_kind, ended_at__isnull=True).count()


def children_placed_and_offered(provider: CareProvider) -> tuple[int, int]:
    """How many children are placed with the provider now, and how many offered to it awaiting an answer."""
    placed = Placement.objects.filter(provider=provider, ended_at__isnull=True, referral__is_child=True)
    offered = PlacementOffer.objects.filter(
        provider=provider, state=OfferState.PENDING, referral__is_child=True
    )
    return placed.count(), offered.count()


def offers_awaiting_a_bed(provider: CareProvider) -> int:
    """How many people on the accommodation route are offered to the provider, awaiting its answer: each
    takes one of its beds if it accepts."""
    return PlacementOffer.objects.filter(
        provider=provider, state=OfferState.PENDING, referral__route=Route.ACCOMMODATION
    ).count()


def free_beds_of(provider: CareProvider) -> dict[str, int]:
    """The provider's free beds of each kind, in one query."""
    occupied = dict(
        Placement.objects.filter(provider=provider, ended_at__isnull=True)
        .exclude(bed_kind="")
        .order_by()
        .values_list("bed_kind")
        .annotate(beds=Count("id"))
    )
    return {kind: max(0, provider.capacity(kind) - occupied.get(kind, 0)) for kind in BedKind.values}


def providers_with_occupancy() -> QuerySet[CareProvider]:
    """Providers annotated with ``occupied_<kind>`` for every bed kind, in one query."""
    active = Q(placements__ended_at__isnull=True)
    return CareProvider.objects.annotate(
        **{
            f"occupied_{kind}": Count("placements", filter=active & Q(placements__bed_kind=kind))
            for kind in BedKind.values
        }
    ).order_by("name")


@dataclass(frozen=True)
class ProviderSuggestion:
    """A provider ranked for a referral, with the reasons for its place in the ranking."""

    provider: CareProvider
    suitable: bool
    score: float
    free_beds: int | None
    # How many other people have been offered a bed of that kind there and may still take one.
    offered_beds: int | None
    reasons: list[str] = field(default_factory=list)
    # Staff speak one of the person's languages: no interpreter between them and the person.
    shares_language: bool = False

    @property
    def beds_all_offered(self) -> bool:
        """Every free bed is offered to someone else: this person gets one only if an offer is turned down."""
        return 0 < (self.free_beds or 0) <= (self.offered_beds or 0)


def median_minutes_to_accept(since: datetime.datetime) -> dict[int, float]:
    """Each provider's median minutes from offer to acceptance since a date (recent acceptance speed)."""
    delays: dict[int, list[float]] = {}
    accepted = PlacementOffer.objects.filter(state=OfferState.ACCEPTED, offered_at__gte=since).values_list(
        "provider_id", "offered_at", "responded_at"
    )
    for provider_id, offered_at, responded_at in accepted:
        # accept() records the time, but the column is nullable and no constraint ties it to the state:
        # an accepted row without it (written outside the workflow) says nothing of the provider's speed.
        if responded_at is None:
            continue
        delays.setdefault(provider_id, []).append((responded_at - offered_at).total_seconds() / 60)
    return {provider_id: statistics.median(values) for provider_id, values in delays.items()}


def beds_on_offer(referral: Referral, bed_kind: str) -> Counter[int]:
    """Per provider, the other people offered a bed of this kind whose offer still awaits its answer,
    in one query. Each may take one of the provider's free beds; an offer past its answer time cannot."""
    from .services import bed_kind_for

    offers = (
        PlacementOffer.objects.filter(
            state=OfferState.PENDING,
            response_due_at__gt=timezone.now(),
            referral__route=Route.ACCOMMODATION,
        )
        .exclude(referral=referral)
        .select_related("referral")
        .only("provider_id", "referral__has_dependants", "referral__gender")
    )
    return Counter(offer.provider_id for offer in offers if bed_kind_for(offer.referral) == bed_kind)


# Reallocations that leave the provider after the others that can take the person: it was not safe for
# them there, or it is closing. One for changed needs may well leave it the best place (its outreach,
# say), so it is only said.
REALLOCATED_FOR_GOOD = (ReallocateReason.SAFETY_CONCERN, ReallocateReason.PROVIDER_CLOSING)


def reallocations_of(referral: Referral) -> dict[int, tuple[datetime.datetime, str]]:
    """Each provider the person was reallocated away from, with when their placement there ended and the
    reallocation's reason (the latest, if more than one), in two queries."""
    ended = (
        referral.placements.filter(ended_at__isnull=False)
        .order_by("started_at", "id")
        .values_list("provider_id", "ended_at")
    )
    inputs = referral.transitions.filter(transition="reallocate").order_by("at", "id").values_list("input")
    # Only a reallocation ends a placement and leaves the case open, so the n-th placement ended is the
    # one the n-th reallocation ended; a recovery or an exit ends the last one, with the case.
    return {
        provider_id: (cast(datetime.datetime, ended_at), str(input.get("reason", "")))
        for (provider_id, ended_at), (input,) in zip(ended, inputs, strict=False)
    }


def suggested_providers(referral: Referral) -> list[ProviderSuggestion]:
    """Every active provider, those that can take the person first, best fit first (SPEC §4).

    Fit is scored on the region (a must), free beds of the right kind not already offered to other
    people (more is better, for an accommodation route), languages shared with the person, and how fast
    the provider has recently accepted offers. A provider that speaks one of the person's languages comes
    before any that speaks none, however many more beds those have free: one free bed is all the person
    needs, while staff who cannot talk with them need an interpreter for every conversation. A provider
    whose free beds are all offered to others comes after those with a bed not yet offered: it can take
    the person only if one of those offers is turned down. A provider that already rejected this person,
    or let their offer expire, or whose offer of them the managers withdrew, or that the person was
    reallocated away from for their safety or as it closes, comes after the others that can take them.
    Providers that cannot take the person come last, with the reasons.
    """
    from .services import bed_kind_for, reasons_provider_cannot_take

    speed = median_minutes_to_accept(timezone.now() - datetime.timedelta(days=RECENT_DAYS))
    # An offer withdrawn with no reason went with its case, which says nothing of the provider.
    ended_badly = Q(state__in=(OfferState.REJECTED, OfferState.EXPIRED)) | Q(
        state=OfferState.REVOKED, revoke_reason__gt=""
    )
    unanswered = {
        offer.provider_id: offer for offer in referral.offers.filter(ended_badly).order_by("offered_at")
    }
    reallocated = reallocations_of(referral)
    moved_away = {
        provider_id for provider_id, (_, reason) in reallocated.items() if reason in REALLOCATED_FOR_GOOD
    }
    kind = bed_kind_for(referral)
    accommodation = referral.route == Route.ACCOMMODATION
    on_offer = beds_on_offer(referral, kind) if accommodation else Counter[int]()
    person_languages = set(referral.languages)
    # A person who needs an interpreter needs one because their English is not enough to be supported
    # in: staff who speak English with them spare them no interpreter, and only their other languages do.
    if referral.interpreter_needed:
        person_languages.discard(ENGLISH)
    suggestions = []
    # With the duty phone the managers call a provider on; not the webhook secret, decrypted for nothing.
    providers = providers_with_occupancy().filter(active=True).select_related("organisation")
    for provider in providers.defer("organisation__webhook_secret"):
        blockers = reasons_provider_cannot_take(provider, referral)
        free = max(0, provider.capacity(kind) - getattr(provider, f"occupied_{kind}"))
        offered = on_offer[provider.pk]
        reasons, score = [], 0.0
        if accommodation:
            score += min(max(0, free - offered), 10)
            reasons.append(_free_beds_words(free, offered, kind))
        shared = sorted(person_languages & set(provider.languages))
        if shared:
            score += 5 * len(shared)
            reasons.append("speaks " + ", ".join(language_names().get(code, code) for code in shared))
        elif person_languages or referral.interpreter_needed:
            reasons.append("no shared language: an interpreter will be needed")
        if provider.pk in speed:
            minutes = speed[provider.pk]
            score += max(0.0, 5 - minutes / 60)
            reasons.append(f"recently accepts in a median of {minutes:.0f} minutes")
        else:
            reasons.append("no recent acceptances to judge speed by")
        if earlier := unanswered.get(provider.pk):
            reasons.insert(0, _earlier_offer_words(earlier))
        if provider.pk in reallocated:
            reasons.insert(0, _reallocated_words(*reallocated[provider.pk]))
        suggestions.append(
            ProviderSuggestion(
                provider=provider,
                suitable=not blockers,
                score=round(score, 2) if not blockers else 0.0,
                free_beds=free if accommodation else None,
                offered_beds=offered if accommodation else None,
                reasons=blockers or reasons,
                shares_language=bool(shared),
            )
        )
    return sorted(
        suggestions,
        key=lambda s: (
            not s.suitable,
            s.provider.pk in unanswered or s.provider.pk in moved_away,
            s.beds_all_offered,
            not s.shares_language,
            -s.score,
            s.provider.name,
        ),
    )


def _free_beds_words(free: int, offered: int, kind: str) -> str:
    words = f"{free} free bed{'s' if free != 1 else ''} {BED_FOR[kind]}"
    if not offered:
        return words
    words += f", {offered} already offered"
    if offered >= free:
        words += ": a bed is free for this person only if one of those offers is turned down"
    return words


def _reallocated_words(ended_at: datetime.datetime, reason: str) -> str:
    why = ReallocateReason(reason).label.lower() if reason in ReallocateReason.values else "no reason given"
    return f"placed this person until {timezone.localtime(ended_at):%-d %b}, then reallocated ({why})"


def _earlier_offer_words(offer: PlacementOffer) -> str:
    day = timezone.localtime(offer.offered_at)
    if offer.state == OfferState.EXPIRED:
        return f"let the offer of this person made on {day:%-d %b} expire"
    if offer.state == OfferState.REVOKED:
        return (
            f"offer of this person made on {day:%-d %b} withdrawn by the managers "
            f"({offer.get_revoke_reason_display().lower()})"
        )
    return f"rejected this person on {day:%-d %b} ({offer.get_reject_reason_display().lower()})"
