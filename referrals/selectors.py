"""Queries that read referrals. Every list or fetch of cases goes through ``referrals_visible_to``."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.utils import timezone

from care_providers.models import PlacementOffer

from .choices import OPEN_STATES, ReferralState
from .encryption import birth_date_digest, hash_keys, name_digest
from .models import AnonymousNotification, Clock, Deadline, Referral, TransitionLog

if TYPE_CHECKING:
    from accounts.models import User
    from care_providers.models import Placement


# Transitions before its offer that a care provider sees: how the case came to it.
PROVIDER_CONTEXT_TRANSITIONS = ("submit", "assess")
# The states a case ends in from a placement: the provider it ended with may still read it.
CLOSED_FROM_PLACEMENT = (ReferralState.RECOVERED, ReferralState.EXITED)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """The one rule of who sees which case (SPEC §2).

    Managers see every case; a first responder sees their organisation's; a care provider sees a case
    while an offer to it is pending, while it holds the placement, and after the person recovered or
    exited from its placement, and nothing else: once a case is reallocated, the provider it left no
    longer reads it.
    """
    from care_providers.models import OfferState, Placement, PlacementOffer

    referrals = Referral.objects.all()
    if not user.is_authenticated or not user.is_active:
        return referrals.none()
    if user.is_manager:
        return referrals
    if user.is_first_responder and user.organisation_id:
        return referrals.filter(organisation_id=user.organisation_id)
    provider = user.provider
    if provider is not None:
        pending_offer = PlacementOffer.objects.filter(
            referral=OuterRef("pk"), provider=provider, state=OfferState.PENDING
        )
        placement = Placement.objects.filter(
            referral=OuterRef("pk"), provider=provider, ended_at__isnull=True
        )
        # The placement the case closed from ended with it; one ended earlier was reallocated away.
        closed_from_placement = Placement.objects.filter(
            referral=OuterRef("pk"), provider=provider, ended_at__gte=OuterRef("closed_at")
        )
        return referrals.filter(
            Q(Exists(pending_offer))
            | Q(Exists(placement))
            | Q(Exists(closed_from_placement), state__in=CLOSED_FROM_PLACEMENT)
        )
    return referrals.none()


class ReferralWithCaseSummary(Protocol):
    """A referral as ``with_case_summary`` or ``load_case_summary`` loaded it: what its model does not
    declare, the prefetches' lists."""

    pending_offer_list: list[PlacementOffer]
    active_placement_list: list[Placement]
    open_deadline_list: list[Deadline]  # the clocks to meet: open, then paused (``CLOCKS_TO_MEET``)


# A case's clocks still to be met: those running, and one paused while nobody can meet it (the recovery
# review while the person is missing, ``deadlines.pause_clock``), which runs on with the time it had left.
# A page or the API lists the running ones soonest first, then the paused, whose due time will move.
CLOCKS_TO_MEET = Q(stopped_at__isnull=True) | Q(paused=True)
CLOCKS_TO_MEET_ORDER = ("paused", "due_at", "id")


def case_summary_prefetches() -> list[Prefetch]:
    """What a case summary shows besides the row: the pending offer, the active placement (each with
    its provider, which the summary names), the clocks to meet (``CLOCKS_TO_MEET``: open, or paused).

    Loaded as ``pending_offer_list``, ``active_placement_list`` and ``open_deadline_list``: three
    queries for a whole page of cases, however long the page.
    """
    from care_providers.models import OfferState, Placement, PlacementOffer

    return [
        Prefetch(
            "offers",
            queryset=PlacementOffer.objects.filter(state=OfferState.PENDING).select_related("provider"),
            to_attr="pending_offer_list",
        ),
        Prefetch(
            "placements",
            queryset=Placement.objects.filter(ended_at__isnull=True).select_related("provider"),
            to_attr="active_placement_list",
        ),
        Prefetch(
            "deadlines",
            queryset=Deadline.objects.filter(CLOCKS_TO_MEET).order_by(*CLOCKS_TO_MEET_ORDER),
            to_attr="open_deadline_list",
        ),
    ]


def with_case_summary(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    return referrals.prefetch_related(*case_summary_prefetches())


def load_case_summary(referral: Referral) -> Referral:
    """The same as ``with_case_summary`` for one referral already in hand (after a transition)."""
    for attr in ("pending_offer_list", "active_placement_list", "open_deadline_list"):
        referral.__dict__.pop(attr, None)
    prefetch_related_objects([referral], *case_summary_prefetches())
    return referral


def get_visible_referral(user: User, referral_id: int) -> Referral:
    """The referral if the user may see it; ``Referral.DoesNotExist`` otherwise, the same as for no such id.

    With its referring organisation, which the case page and the audit trail name."""
    return referrals_visible_to(user).select_related("organisation").get(pk=referral_id)


# The case page's reads, built once. Resolving their fields, joins and ordering costs about as much as
# running them, and only the case changes from one view to the next. Neither a queryset nor an
# expression is changed in place: each request filters or annotates with a copy, as a class-based
# view's ``queryset`` is, and these are never evaluated themselves.

# Another case with the same keyed name digest.
HAS_NAMESAKE = Exists(Referral.objects.filter(name_digest=OuterRef("name_digest")).exclude(pk=OuterRef("pk")))
# What the page shows of a clock to meet: which clock, when it is due and reminded (overdue once past, due
# soon once reminded, as the lists mark it, the sweep or not), and when it started (a missing person's:
# when last seen, from which they are overdue); of a paused one, how long it will have left
# (``Deadline.left_when_paused``).
_OPEN_DEADLINES_SHOWN = (
    Deadline.objects.filter(CLOCKS_TO_MEET)
    .order_by(*CLOCKS_TO_MEET_ORDER)
    .only("clock", "started_at", "due_at", "remind_at", "stopped_at", "paused")
)
# What the page, its history and its permission checks read of an offer (why it was rejected or, for
# the managers' offer history, withdrawn), of the placement made from it and of the provider: its name,
# its duty phone (for managers), and whether it still fits the person (children, regions, services and
# beds of each kind; see ``views.provider_misfit_words``). Its languages, for one, are not read.
CASE_OFFER_FIELDS = (
    "referral_id", "provider_id", "state", "offered_at", "response_due_at", "responded_at",
    "reject_reason", "revoke_reason", "note",
    "provider__name", "provider__supports_children", "provider__regions", "provider__services",
    "provider__beds_women", "provider__beds_men", "provider__beds_family",
    "provider__organisation__duty_phone",
    "placement__referral_id", "placement__provider_id",
    "placement__offer_id", "placement__bed_kind", "placement__started_at", "placement__ended_at",
)  # fmt: skip
_CASE_OFFERS = (
    PlacementOffer.objects.select_related("provider__organisation", "placement")
    .only(*CASE_OFFER_FIELDS)
    .order_by("-offered_at", "-id")
)
# What the page shows of a transition, with who made it.
CASE_HISTORY_FIELDS = (
    "at", "transition", "from_state", "to_state", "input", "actor_id", "actor__username",
    "actor__organisation_id", "actor__organisation__name", "actor__organisation__kind",
)  # fmt: skip
_CASE_HISTORY = TransitionLog.objects.order_by("at", "id").values(*CASE_HISTORY_FIELDS)


def get_case(user: User, referral_id: int) -> Referral:
    """``get_visible_referral`` for the case page, which shows a manager the case's possible duplicates.

    Every possible duplicate has the same name, and most people have no namesake in the caseload, so for
    a manager the case comes with ``has_namesake`` (an index lookup in the same query) and the page looks
    for duplicates only then.
    """
    referrals = referrals_visible_to(user).select_related("organisation")
    if user.is_manager:
        # While FIELD_HASH_KEY is being changed, a namesake's stored digest may be under the other key.
        changing_key = bool(settings.FIELD_HASH_KEY_FALLBACKS)
        referrals = referrals.annotate(has_namesake=Value(True) if changing_key else HAS_NAMESAKE)
    return referrals.get(pk=referral_id)


def case_offers_and_placement(referral: Referral) -> tuple[list[PlacementOffer], Placement | None]:
    """Every offer made for the case, newest first, with its provider, and the active placement, in one
    query: a placement is made from an accepted offer, so it comes with its offer."""
    offers = list(_CASE_OFFERS.filter(referral=referral))
    active = None
    for offer in offers:
        placement = getattr(offer, "placement", None)  # None when the offer did not become a placement
        if placement is not None and placement.ended_at is None:
            placement.provider = offer.provider  # the provider the accepted offer was made to
            active = placement
    return offers, active


def case_open_deadlines(referral: Referral) -> list[Deadline]:
    """The case's open clocks, soonest first, then any paused (``CLOCKS_TO_MEET``), with only what the
    case page shows of each."""
    return list(_OPEN_DEADLINES_SHOWN.filter(referral=referral))


def anonymous_notifications_visible_to(user: User) -> QuerySet[AnonymousNotification]:
    """Managers see every anonymous notification; a first responder their organisation's."""
    notifications = AnonymousNotification.objects.order_by("-submitted_at", "-id")
    if not user.is_authenticated or not user.is_active:
        return notifications.none()
    if user.is_manager:
        return notifications
    if user.is_first_responder and user.organisation_id:
        return notifications.filter(organisation_id=user.organisation_id)
    return notifications.none()


def referral_history(referral: Referral) -> QuerySet[TransitionLog]:
    return referral.transitions.select_related("actor__organisation").order_by("at", "id")


def referral_history_visible_to(
    user: User, referral: Referral, offers: list[PlacementOffer] | None = None
) -> QuerySet[TransitionLog]:
    """The history as the user may see it. A care provider sees how the case came to it (submission
    and assessment) and everything from its latest offer onwards (pending, or the one its placement
    came from): not other providers' offers, refusals or placements (need to know, SPEC §2). For a care
    provider each step comes with ``from_current_offer``, whether it is of that latest offer's time:
    whose inputs it may read then is ``permissions.may_see_transition_input``'s to say.

    ``offers``: the case's offers with their placements, as ``case_offers_and_placement`` reads them,
    if already in hand; otherwise the provider's own are read, in one query.
    """
    return _visible_part(referral_history(referral), user, referral, offers)


def case_history_visible_to(
    user: User, referral: Referral, offers: list[PlacementOffer]
) -> QuerySet[TransitionLog, dict[str, Any]]:
    """``referral_history_visible_to`` as the case page reads it: the CASE_HISTORY_FIELDS of each
    transition."""
    return _visible_part(_CASE_HISTORY.filter(referral=referral), user, referral, offers)


def _visible_part(
    history: QuerySet[TransitionLog, Any], user: User, referral: Referral, offers: list[PlacementOffer] | None
) -> QuerySet[TransitionLog, Any]:
    from care_providers.models import OfferState

    provider = user.provider
    if provider is None:
        return history
    if offers is None:
        offers = list(referral.offers.filter(provider=provider).select_related("placement"))
    # The offers through which the provider sees the case: pending, or made into a placement (a
    # placement is made from an accepted offer, so it comes with its offer).
    current = [
        offer
        for offer in offers
        if offer.provider_id == provider.pk
        and (offer.state == OfferState.PENDING or getattr(offer, "placement", None) is not None)
    ]
    if not current:
        return history.none()
    since = max(offer.offered_at for offer in current)
    return history.filter(Q(transition__in=PROVIDER_CONTEXT_TRANSITIONS) | Q(at__gte=since)).annotate(
        from_current_offer=ExpressionWrapper(Q(at__gte=since), output_field=BooleanField())
    )


def triage_queue(user: User) -> QuerySet[Referral]:
    """Referrals awaiting assessment: emergencies (a bed needed today) first, then oldest first."""
    return (
        referrals_visible_to(user)
        .filter(state=ReferralState.RECEIVED)
        .order_by("-emergency", "submitted_at", "id")
    )


def with_overdue_since(referrals: QuerySet[Referral], *, now: datetime.datetime) -> QuerySet[Referral]:
    """The cases annotated with ``overdue_since``: the earliest due time of a clock past it, or when a
    missing person was last seen (as in the caseload report); None for a case overdue on no clock."""
    since = Case(When(clock=Clock.MISSING, then=F("started_at")), default=F("due_at"))
    overdue = (
        Deadline.objects.filter(referral=OuterRef("pk"), stopped_at__isnull=True)
        .filter(Q(due_at__lte=now) | Q(clock=Clock.MISSING))
        .annotate(since=since)
        .order_by("since")
        .values("since")[:1]
    )
    return referrals.annotate(overdue_since=Subquery(overdue))


def open_missing_clock() -> QuerySet[Deadline]:
    """The case's missing clock while it runs, for a subquery on a list of cases: the person is missing,
    or was reallocated while missing and not found since (``Referral.still_missing``)."""
    return Deadline.objects.filter(referral=OuterRef("pk"), clock=Clock.MISSING, stopped_at__isnull=True)


def next_deadline_due() -> Subquery:
    """The due time of the case's open clock due first, as a column of a case list."""
    return Subquery(
        Deadline.objects.filter(referral=OuterRef("pk"), stopped_at__isnull=True)
        .order_by("due_at")
        .values("due_at")[:1]
    )


# What the case list shows of a case: none of its encrypted personal fields, which a page of fifty
# would otherwise decrypt (the account alone up to 15,000 characters each) to show none of them.
CASE_LIST_FIELDS = ("reference", "state", "is_child", "submitted_at", "region", "organisation__name")


def case_list_of(user: User, *, now: datetime.datetime) -> QuerySet[Referral]:
    """The cases the user sees, as their case list shows them (``CASE_LIST_FIELDS``): with the
    referring organisation, the next due time (``next_due``), when a missing person was last seen
    (``missing_since``) and since when the case is overdue (``with_overdue_since``)."""
    return with_overdue_since(
        referrals_visible_to(user)
        .select_related("organisation")
        .only(*CASE_LIST_FIELDS)
        .annotate(next_due=next_deadline_due(), missing_since=missing_since()),
        now=now,
    )


def missing_since() -> Subquery:
    """When the case's missing person was last seen (their missing clock's start), as a column of a case
    list; None while no one is missing."""
    return Subquery(open_missing_clock().values("started_at")[:1])


def in_state(state: str) -> Q:
    """The cases in a state as the person's situation has it: a person reallocated while missing and
    not found since is missing, not assessed, though their state field says assessed. The web's case
    list, the API's ``?state=`` and the caseload report all count them so. The state is compared first,
    so the clock is looked up for assessed cases only."""
    if state == ReferralState.MISSING:
        return Q(state=ReferralState.MISSING) | Q(state=ReferralState.ASSESSED) & Q(
            Exists(open_missing_clock())
        )
    if state == ReferralState.ASSESSED:
        return Q(state=ReferralState.ASSESSED) & ~Q(Exists(open_missing_clock()))
    return Q(state=state)


def _open_clock(clock: str) -> QuerySet[Deadline]:
    """The case's open clock of one kind, for a subquery on a list of cases."""
    return Deadline.objects.filter(referral=OuterRef("pk"), clock=clock, stopped_at__isnull=True).order_by(
        "due_at"
    )


def open_clock_due(clock: str) -> Subquery:
    """The due time of the case's open clock of one kind, as a column of a case list."""
    return Subquery(_open_clock(clock).values("due_at")[:1])


def clock_last_stopped(clock: str) -> Subquery:
    """When the case's clock of one kind last stopped, as a column of a case list; None if none has. A
    paused clock has not: it runs on (``deadlines.pause_clock``)."""
    stopped = Deadline.objects.filter(
        referral=OuterRef("pk"), clock=clock, stopped_at__isnull=False, paused=False
    )
    return Subquery(stopped.order_by("-stopped_at").values("stopped_at")[:1])


def open_clock_reminder(clock: str) -> Subquery:
    """When the reminder of the case's open clock of one kind goes, as a column of a case list: the
    clock is due soon from then (SPEC §5)."""
    return Subquery(_open_clock(clock).values("remind_at")[:1])


def assessed_not_placed(user: User) -> QuerySet[Referral]:
    """Referrals assessed and waiting for a placement, those needing action first: emergencies, then
    the placement due soonest (``placement_due``), then the oldest assessment. A person reallocated
    while missing has no placement due until found, and comes with when they were last seen
    (``missing_since``). Each comes with its latest offer, whatever became of it, as ``last_offer_list``
    (one query for a page of cases)."""
    from care_providers.models import PlacementOffer

    latest = PlacementOffer.objects.filter(referral=OuterRef("referral_id")).order_by("-offered_at", "-id")
    return (
        referrals_visible_to(user)
        .filter(state=ReferralState.ASSESSED)
        .annotate(placement_due=open_clock_due(Clock.PLACEMENT), missing_since=missing_since())
        .order_by("-emergency", F("placement_due").asc(nulls_last=True), "assessed_at", "id")
        .prefetch_related(
            Prefetch(
                "offers",
                queryset=PlacementOffer.objects.filter(pk=Subquery(latest.values("pk")[:1]))
                .select_related("provider")
                .only(
                    "referral_id",
                    "state",
                    "offered_at",
                    "response_due_at",
                    "responded_at",
                    "reject_reason",
                    "revoke_reason",
                    "provider__name",
                ),
                to_attr="last_offer_list",
            )
        )
    )


def possible_duplicates_of(user: User, referral: Referral) -> QuerySet[Referral]:
    """Other open cases the user may see, from any organisation, however long ago they were submitted,
    with the same name and the same date of birth or nationality: the same person referred twice, by two
    organisations or by one (SPEC §3). Open now is open in the last DUPLICATE_WINDOW_DAYS, as the
    responder's check before submitting has it (``likely_duplicates``); closed cases are left out here,
    since only an open one can be closed as the duplicate."""
    # From the case's own name and date of birth, not its stored digests: while FIELD_HASH_KEY is being
    # changed, the other cases' digests may be under either key.
    names, birth_dates = zip(*(referral.person_digests(key=key) for key in hash_keys()), strict=True)
    same_birth_or_nationality = Q(nationality=referral.nationality)
    if referral.date_of_birth is not None:
        same_birth_or_nationality |= Q(birth_date_digest__in=birth_dates)
    return (
        referrals_visible_to(user)
        .filter(name_digest__in=names, state__in=OPEN_STATES)
        .filter(same_birth_or_nationality)
        .exclude(pk=referral.pk)
        .order_by("-submitted_at")
    )


# The most recent possible duplicates shown to a responder before submitting, on the web and the API.
LIKELY_DUPLICATES_SHOWN = 10


def likely_duplicates(
    user: User,
    *,
    given_name: str,
    family_name: str,
    date_of_birth: datetime.date | None,
    nationality: str,
) -> QuerySet[Referral]:
    """Cases open at any time in the last DUPLICATE_WINDOW_DAYS (open now, however long ago they were
    submitted, or closed within the window) with the same name and the same date of birth or
    nationality (SPEC §3), matched through keyed digests, limited to what the user may see."""
    since = timezone.now() - datetime.timedelta(days=settings.DUPLICATE_WINDOW_DAYS)
    # Under each hash key a stored digest may be under, while FIELD_HASH_KEY is being changed.
    keys = hash_keys()
    same_birth_or_nationality = Q(nationality=nationality)
    if date_of_birth is not None:
        birth_dates = [birth_date_digest(date_of_birth, key=key) for key in keys]
        same_birth_or_nationality |= Q(birth_date_digest__in=birth_dates)
    return (
        referrals_visible_to(user)
        .filter(name_digest__in=[name_digest(given_name, family_name, key=key) for key in keys])
        .filter(Q(state__in=OPEN_STATES) | Q(closed_at__gte=since))
        .filter(same_birth_or_nationality)
        .order_by("-submitted_at")
    )
