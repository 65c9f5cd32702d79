"""Actions that change referrals: submission and every §4 transition.

Each transition is one function with keyword-only arguments. It opens one transaction, locks the
referral row, checks visibility (404), permission (403) and state (409), calls the pure state-machine
method, saves, and writes the transition log, the deadlines and the notification outbox in the same
transaction. Web views, API views and Celery tasks all call these functions.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from accounts.models import Organisation, User
from audit.services import record_change, record_transition
from care_providers.models import CareProvider, OfferState, Placement, PlacementOffer
from care_providers.selectors import active_placement_for, last_offer_to, latest_offer_for
from care_providers.services import check_provider_can_take, provider_misfits, reserve_bed
from notifications.models import Event
from notifications.services import (
    OFFER_AGAIN_ASKED,
    PLACEMENT_MISFIT_TO_DO,
    manager_items_done,
    manager_recipients,
    misfit_items_done,
    missing_items_done,
    notify,
    offer_items_done,
)

from .choices import ContactChange, Misfit, ReferralState, WithdrawReason
from .deadlines import (
    check_in_after_found,
    check_in_due_on,
    due_at,
    pause_clock,
    resume_clock,
    retime_placement_clock,
    start_clock,
    stop_clocks,
)
from .encryption import birth_date_digest, name_digest
from .exceptions import (
    AssessmentUnchanged,
    CaseClosed,
    CorrectedSince,
    HarbourError,
    NothingToCorrect,
    NotPermitted,
    OfferAlreadyAccepted,
    OfferAlreadyPending,
    OfferNotPending,
    PersonStillMissing,
    ProviderCannotTake,
    RecoveryReviewNotDue,
    TransitionNotAllowed,
)
from .local_time import MOMENT_IN_FULL, MOMENT_NEAR, local_time
from .models import AnonymousNotification, Clock, Referral, TransitionLog
from .permissions import (
    PLACED_PROVIDER_ONLY,
    PLACED_PROVIDER_OR_MANAGER,
    TRANSITION_WORDS,
    is_missing_child,
    is_placed_provider,
    may_perform,
    may_submit,
    missing_child_exit_message,
    was_placed_provider_at_close,
)
from .references import next_reference
from .selectors import referrals_visible_to

# ---------------------------------------------------------------------------------------------- intake


def age_on(date_of_birth: datetime.date, day: datetime.date) -> int:
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def is_child(
    *, date_of_birth: datetime.date | None, age_estimate: int | None, age_in_doubt: bool, on: datetime.date
) -> bool:
    """Under 18 by date of birth or by estimate; an age in doubt is treated as a child (SPEC §3).

    When the date of birth and the estimate disagree, either one saying under 18 is enough: in doubt,
    safeguarding treats the person as a child.
    """
    if age_in_doubt:
        return True
    if date_of_birth is not None and age_on(date_of_birth, on) < 18:
        return True
    return age_estimate is not None and age_estimate < 18


def distinct(codes: Iterable[str]) -> list[str]:
    """Each code once, where it first came. Languages and exploitation types are sets kept in the order
    given; a hand-made web post or an API client may send one twice (or thousands of times)."""
    return list(dict.fromkeys(codes))


def submit_referral(*, actor: User, fields: dict[str, Any]) -> Referral:
    """Create a referral from validated §3 fields; notify managers; start the assessment clock."""
    if not may_submit(actor):
        raise NotPermitted("Only first responders can submit referrals.")
    fields = {
        **fields,
        "languages": distinct(fields.get("languages") or []),
        "exploitation_types": distinct(fields.get("exploitation_types") or []),
    }
    now = timezone.now()
    date_of_birth = fields.get("date_of_birth")
    # No savepoint inside a caller's transaction (the API's Idempotency-Key one): a failure here
    # rolls the whole request back anyway.
    with transaction.atomic(savepoint=False):
        managers = manager_recipients()
        referral = Referral(
            **fields,
            organisation_id=cast(int, actor.organisation_id),  # may_submit: the actor has one
            submitted_by=actor,
            submitted_at=now,
            state_changed_at=now,
            reference=next_reference(timezone.localdate(now).year),
            is_child=is_child(
                date_of_birth=date_of_birth,
                age_estimate=fields.get("age_estimate"),
                age_in_doubt=fields.get("age_in_doubt", False),
                on=timezone.localdate(now),
            ),
            name_digest=name_digest(fields["given_name"], fields["family_name"]),
            birth_date_digest=birth_date_digest(date_of_birth),
        )
        referral.save()
        _log(referral, actor=actor, transition="submit", from_state="", input={})
        deadline = start_clock(referral, Clock.ASSESSMENT, start=now, new_case=True)
        # What a manager on call needs to know to put it first: when it is due, whether it is a child's
        # and an emergency (none of it personal data).
        notify(
            event=Event.REFERRAL_RECEIVED,
            organisations=managers,
            referral_id=referral.pk,
            reference=referral.reference,
            due_at=deadline.due_at,
            child=referral.is_child,
            emergency=referral.emergency,
            first_of_case=True,
        )
    # The case summary of a new case, as ``referrals.selectors.with_case_summary`` would load it: no
    # offer, no placement, and the one clock just started.
    referral.pending_offer_list = []  # type: ignore[attr-defined]
    referral.active_placement_list = []  # type: ignore[attr-defined]
    referral.open_deadline_list = [deadline]  # type: ignore[attr-defined]
    return referral


def submit_anonymous_notification(
    *, actor: User, gender: str, nationality: str, exploitation_types: list[str], region: str
) -> AnonymousNotification:
    """Record a duty-to-notify report (SPEC §3). It holds no personal details and enters no workflow."""
    if not may_submit(actor):
        raise NotPermitted("Only first responders can make anonymous notifications.")
    with transaction.atomic():
        notification = AnonymousNotification.objects.create(
            organisation_id=cast(int, actor.organisation_id),  # may_submit: the actor has one
            submitted_by=actor,
            gender=gender,
            nationality=nationality,
            exploitation_types=distinct(exploitation_types),
            region=region,
        )
        # Who, when and from where, like every change; none of its four fields is personal.
        record_change(
            actor=actor,
            referral=None,
            what=f"anonymous notification {notification.pk} submitted",
            changes={"region": region},
        )
    return notification


# ---------------------------------------------------------------------------------- the transitions


def _log(
    referral: Referral,
    *,
    actor: User | None,
    transition: str,
    from_state: str,
    input: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> None:
    log = TransitionLog.objects.create(
        referral=referral,
        actor=actor,
        transition=transition,
        from_state=from_state,
        to_state=referral.state,
        input=input,
    )
    # The audit row (who, when, from which address, before and after) in the same transaction.
    record_transition(log, before=before)


def _lock_visible(referral_id: int, actor: User) -> Referral:
    """Lock the referral row, or raise ``Referral.DoesNotExist`` if the actor may not see it."""
    return referrals_visible_to(actor).select_for_update(of=("self",)).get(pk=referral_id)


CLOSED_NOT_CORRECTED = "The details of a closed case can no longer be corrected."
REASSESS_ONCE_REALLOCATED = (
    "The assessment of a person in a placement is changed once they are reallocated: reallocate them (their "
    "needs changed), then change the assessment before the next offer."
)


# How a closed case closed, as a refusal says it: what the case is now, as the web says it of a step
# already taken (``views.STATE_NOW``), then what closed it and when (``closed_case_refusal``).
CLOSED_WORDS = {
    ReferralState.RECOVERED: (
        "This person has already recovered and moved on.",
        "Their recovery was recorded",
    ),
    ReferralState.EXITED: ("This person has already exited support.", "Their exit from support was recorded"),
    ReferralState.DECLINED: ("This referral has already been declined.", "It was declined"),
    ReferralState.WITHDRAWN: ("This referral has already been withdrawn.", "It was withdrawn"),
}


def closed_case_refusal(referral: Referral, transition: str) -> CaseClosed:
    """A 409 for a step on a closed case, saying how and when it closed: a case system told only "you
    may not" takes it for a fault of its account, and keeps trying."""
    now, closed = CLOSED_WORDS[ReferralState(referral.state)]
    if referral.closed_at is not None:
        closed = f"{closed} at {local_time(referral.closed_at, MOMENT_IN_FULL)}"
    # A reassessment in the history's words ("Assessment changed"), not "reassessed".
    undone = (
        "have its assessment changed" if transition == "reassess" else f"be {TRANSITION_WORDS[transition][1]}"
    )
    return CaseClosed(f"{now} {closed}, closing the case: it can no longer {undone}.")


def transition_refusal(actor: User, transition: str, referral: Referral) -> HarbourError | None:
    """Why the actor may not take the transition now: their role or relationship (403), then the case's
    state (409); None if they may. The provider a case closed from is no longer the placed provider,
    but its part ended with the case: it hears that the case closed (409), as a manager does."""
    action, outcome = TRANSITION_WORDS[transition]
    if not may_perform(actor, transition, referral):
        if transition == "exit" and is_missing_child(referral) and is_placed_provider(actor, referral):
            return NotPermitted(missing_child_exit_message())
        if transition in PLACED_PROVIDER_ONLY | PLACED_PROVIDER_OR_MANAGER and was_placed_provider_at_close(
            actor, referral
        ):
            return closed_case_refusal(referral, transition)
        return NotPermitted(f"You may not {action}.")
    if not can_proceed(getattr(referral, transition)):
        if transition == "correct":  # only a closed case cannot be, and it may have closed long ago
            return TransitionNotAllowed(
                f"A referral that is {referral.get_state_display().lower()} is closed. {CLOSED_NOT_CORRECTED}"
            )
        if transition != "revoke_offer" and referral.state in CLOSED_WORDS:
            return closed_case_refusal(referral, transition)
        if transition == "reassess" and referral.state in (ReferralState.PLACED, ReferralState.MISSING):
            return TransitionNotAllowed(REASSESS_ONCE_REALLOCATED)
        if transition == "reassess":  # in the history's words ("Assessment changed"), not "reassessed"
            return TransitionNotAllowed(
                f"A referral that is {referral.get_state_display().lower()} cannot have its assessment "
                "changed: it may have changed since you loaded it."
            )
        if transition == "revoke_offer":  # what became of the offer says more than the case's state
            return revoke_refusal(referral, None)
        if transition == "withdraw" and referral.state == ReferralState.ASSESSED and referral.still_missing():
            return PersonStillMissing(withdraw_while_missing_message(actor))
        return TransitionNotAllowed(
            f"A referral that is {referral.get_state_display().lower()} cannot be {outcome}: "
            "it may have changed since you loaded it."
        )
    return None


def withdraw_while_missing_message(actor: User) -> str:
    """Why a referral reallocated while the person was missing cannot be withdrawn until they are found, and
    what to do instead, managers included: withdrawn, the case would stop escalating and leave the missing
    in the report; an exit from support closes it as what it is. The duty line is text: the API says it
    too."""
    why = (
        "This person is still missing: withdrawing the referral would stop the alerts to the managers and "
        "the referring organisation, so it can be withdrawn only once they are recorded as found."
    )
    if actor.is_manager:
        return f"{why} If they are not coming back, record their exit from support instead."
    return (
        f"{why} To close the case before then, phone the managers on {settings.MANAGERS_DUTY_PHONE}, who "
        "record their exit from support."
    )


def check_transition_allowed(actor: User, transition: str, referral: Referral) -> None:
    """Raise the refusal, if any. The services check under the row lock; the API also checks before
    reading input."""
    refusal = transition_refusal(actor, transition, referral)
    if refusal is not None:
        raise refusal


def _apply(
    *, referral_id: int, actor: User, transition: str, input: dict[str, Any], **kwargs: Any
) -> Referral:
    """Lock, check and perform one transition, and log it. Runs inside the caller's transaction."""
    referral = _lock_visible(referral_id, actor)
    check_transition_allowed(actor, transition, referral)
    _perform(referral, actor=actor, transition=transition, input=input, **kwargs)
    return referral


def _perform(
    referral: Referral,
    *,
    actor: User | None,
    transition: str,
    input: dict[str, Any],
    before: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Perform one transition on the locked referral, save it and log it; ``before`` holds what the
    inputs it names replace, for the audit row."""
    from_state = referral.state
    getattr(referral, transition)(**kwargs)
    referral.save()
    _log(referral, actor=actor, transition=transition, from_state=from_state, input=input, before=before)


def _notify_case(event: Event, referral: Referral, *organisations: Organisation, **extra: Any) -> None:
    notify(
        event=event,
        organisations=organisations,
        referral_id=referral.pk,
        reference=referral.reference,
        **extra,
    )


def _referrer(referral: Referral) -> Organisation:
    return referral.organisation


def _offer_done(referral: Referral, offer: PlacementOffer, *also: Clock) -> None:
    """The offer is answered, expired or revoked: its response clock stops (with any clocks named), and
    the provider's inbox items asking for an answer are read."""
    stop_clocks(referral, Clock.OFFER_RESPONSE, *also)
    offer_items_done(referral_id=referral.pk, provider_organisation_id=offer.provider.organisation_id)


def _pending_offer(referral: Referral) -> PlacementOffer | None:
    """The referral's pending offer, locked, with its provider's organisation."""
    offers = referral.offers.select_for_update(of=("self",)).select_related("provider__organisation")
    return offers.filter(state=OfferState.PENDING).first()


def _revoke(referral: Referral, offer: PlacementOffer, reason: str = "") -> None:
    """Revoke the locked pending offer of the locked referral, and tell its provider. ``reason``: why the
    managers withdrew it; none when it goes with its case."""
    offer.revoke(reason=reason)
    offer.save()
    _offer_done(referral, offer)
    _notify_case(Event.OFFER_REVOKED, referral, offer.provider.organisation)


def _revoke_pending_offer(referral: Referral) -> None:
    offer = _pending_offer(referral)
    if offer is not None:
        _revoke(referral, offer)


def _close(referral: Referral) -> None:
    """The case is closed: its clocks stop, and nothing is left for the managers to act on in its inbox
    items, nor for anyone in its missing alerts (an exit of a person still missing)."""
    stop_clocks(referral)
    manager_items_done(referral_id=referral.pk)
    missing_items_done(referral_id=referral.pk)


def _end_placement(referral: Referral) -> None:
    """Free the bed (if any) and stop the clocks of the placement. A missing person's clock runs on
    until they are found or the case closes. Whatever a correction asked because the provider could no
    longer take the person (the managers to reallocate them, the provider to phone the managers) is over
    too, whether the person was reallocated or the case closed."""
    referral.placements.filter(ended_at__isnull=True).update(ended_at=timezone.now())
    stop_clocks(referral, Clock.CHECK_IN, Clock.RECOVERY_REVIEW)
    manager_items_done(referral_id=referral.pk, events=(), actions=PLACEMENT_MISFIT_TO_DO)


def _placed_provider_organisations(referral: Referral, *, excluding: User) -> tuple[Organisation, ...]:
    """The organisation of the provider holding the placement, to be told of what another organisation
    did to it; none if the actor belongs to it."""
    return tuple(
        Organisation.objects.filter(
            care_provider__placements__referral=referral, care_provider__placements__ended_at__isnull=True
        ).exclude(pk=excluding.organisation_id)  # type: ignore[misc]  # None (no organisation) excludes none
    )


def assess_referral(*, referral_id: int, actor: User, risk: str, route: str, notes: str = "") -> Referral:
    with transaction.atomic():
        referral = _apply(
            referral_id=referral_id,
            actor=actor,
            transition="assess",
            input={"risk": risk, "route": route, "notes": notes},
            risk=risk,
            route=route,
        )
        stop_clocks(referral, Clock.ASSESSMENT)
        manager_items_done(referral_id=referral.pk, events=(Event.REFERRAL_RECEIVED,), actions=())
        placement = start_clock(referral, Clock.PLACEMENT)
        _notify_case(Event.REFERRAL_ASSESSED, referral, _referrer(referral), due_at=placement.due_at)
    return referral


def decline_referral(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    with transaction.atomic():
        referral = _apply(
            referral_id=referral_id, actor=actor, transition="decline", input={"reason": reason, "note": note}
        )
        _close(referral)
        _notify_case(Event.REFERRAL_DECLINED, referral, _referrer(referral))
    return referral


CHILD_CONSENT_WITHDRAWN_MESSAGE = (
    "A child's referral needs no consent, so it is not withdrawn because consent was withdrawn. Choose "
    "“Referred elsewhere” if another service, such as the local authority, now supports the child, or "
    "“Duplicate” or “Other” with a note."
)


def withdraw_referral(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "withdraw", referral)
        if referral.is_child and reason == WithdrawReason.CONSENT_WITHDRAWN:
            # A child is referred whether or not they consent (SPEC §3): their no must not end their care.
            raise HarbourError(CHILD_CONSENT_WITHDRAWN_MESSAGE, field="reason")
        _perform(referral, actor=actor, transition="withdraw", input={"reason": reason, "note": note})
        _revoke_pending_offer(referral)
        _close(referral)
        _notify_case(Event.REFERRAL_WITHDRAWN, referral, _referrer(referral), *manager_recipients())
    return referral


def offer_awaits_answer(offer: PlacementOffer | None) -> TypeGuard[PlacementOffer]:
    """Whether a pending offer still awaits its answer: until its answer time. Until then it stands in the
    way of a new offer; after it, it can no longer be taken, and a new offer expires it first, as the
    deadline sweep would, so that a manager need not wait for the sweep."""
    return offer is not None and offer.response_due_at > timezone.now()


def offer_already_pending(offer: PlacementOffer) -> OfferAlreadyPending:
    """The refusal of a second offer, naming the provider the pending one is with and when its answer
    is due: a manager offering from a stale page learns where the case stands (only managers offer)."""
    return OfferAlreadyPending(
        f"This referral already has a pending offer with {offer.provider.name}; its answer is due at "
        f"{local_time(offer.response_due_at, MOMENT_NEAR)}. Wait for the answer, or withdraw the "
        "offer, before offering the person elsewhere."
    )


def offer_ran_out(offer: PlacementOffer) -> OfferNotPending:
    """The refusal of an answer to an offer past its answer time, for the provider it was made to: it
    expired unanswered, whatever the answer would have been, and the managers are told so."""
    from .wording import ran_out_words  # it imports this module

    return OfferNotPending(f"This offer {ran_out_words(offer)}")


def offer_placement(*, referral_id: int, actor: User, provider_id: int, note: str = "") -> PlacementOffer:
    """Offer the person to a provider that can take them; at most one pending offer at a time. A pending
    offer past its answer time is expired first, and logged so, before the new offer.

    ``note``: what the provider needs to know to decide and to keep the person safe (risks, needs), which
    it reads with the offer; the responder's account and the assessment's notes are not for it."""
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "offer", referral)
        _settle_pending_offer(referral, "offer")
        check_not_missing(referral)
        # Locked, as an acceptance and the admin's change of a provider lock it: a provider whose admin is
        # at this moment making it stop offering accommodation or supporting children is read once that
        # change is saved, and refused here, instead of being offered a person it can no longer take after
        # the admin's check found no such offer (``CareProviderForm.clean``).
        provider = (
            CareProvider.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .filter(pk=provider_id)
            .first()
        )
        if provider is None:
            raise ProviderCannotTake("There is no such care provider.", field="provider")
        check_provider_can_take(provider, referral)
        # After any expiry is logged and before the offer is: a provider's view of the history starts at
        # its offer (``referral_history_visible_to``), so it holds the offer's log and not the expiry of
        # another provider's.
        now = timezone.now()
        _perform(referral, actor=actor, transition="offer", input={"provider": provider_id, "note": note})
        # The offer first, so that its answer clock is created pointing at it: one insert each.
        offer = PlacementOffer.objects.create(
            referral=referral,
            provider=provider,
            offered_by=actor,
            offered_at=now,
            response_due_at=due_at(Clock.OFFER_RESPONSE, referral, now),
            note=note,
        )
        start_clock(referral, Clock.OFFER_RESPONSE, start=now, due=offer.response_due_at, offer_id=offer.pk)
        _notify_case(Event.OFFER_MADE, referral, provider.organisation, due_at=offer.response_due_at)
        # Including the expiry just recorded: the person is offered again.
        manager_items_done(referral_id=referral.pk, events=OFFER_AGAIN_ASKED, actions=("offer_again",))
    return offer


STILL_MISSING_MESSAGE = (
    "This person is still missing: record that they are found before offering a placement."
)


def check_not_missing(referral: Referral) -> None:
    """A person reallocated while missing is placed again only once found: the ``found`` step tells the
    referring organisation and stops the escalations, and a provider is never offered someone nobody
    can reach."""
    if referral.still_missing():
        raise PersonStillMissing(STILL_MISSING_MESSAGE)


ASSESSMENT_UNCHANGED_MESSAGE = (
    "Nothing changed: this is the risk and the route the case already has. Choose the new risk or route, "
    "or leave the assessment as it is."
)


def offer_awaits_answer_before_reassessing(offer: PlacementOffer) -> OfferAlreadyPending:
    """The refusal of a change of assessment while an offer awaits its answer: the provider was offered
    the person as assessed now, and decides on that (only managers reassess)."""
    return OfferAlreadyPending(
        f"This referral has a pending offer with {offer.provider.name}; its answer is due at "
        f"{local_time(offer.response_due_at, MOMENT_NEAR)}. Wait for the answer, or for the offer to "
        "run out, or withdraw it, before changing the assessment: the provider was offered the person as "
        "assessed now."
    )


def pending_offer_refusal(transition: str, offer: PlacementOffer | None) -> OfferAlreadyPending | None:
    """Why ``transition`` waits for the answer to the case's pending ``offer``: a second offer (one at a
    time), a change of assessment (the provider decides on the person as assessed now). None if it need
    not wait: no offer awaits its answer, or the transition does not depend on it."""
    if not offer_awaits_answer(offer):
        return None
    if transition == "offer":
        return offer_already_pending(offer)
    if transition == "reassess":
        return offer_awaits_answer_before_reassessing(offer)
    return None


def _settle_pending_offer(referral: Referral, transition: str) -> None:
    """Before a new offer or a change of assessment of the locked referral: refused while its pending
    offer awaits its answer (``pending_offer_refusal``); one past its answer time is expired first, and
    logged so."""
    pending = _pending_offer(referral)
    if refusal := pending_offer_refusal(transition, pending):
        raise refusal
    if pending is not None:
        _expire(referral, pending)


def reassess_referral(*, referral_id: int, actor: User, risk: str, route: str, notes: str = "") -> Referral:
    """The managers change the risk or the route of a person waiting for a placement, as when their
    needs changed (a reallocation's ``needs_changed``): suggestions and offers follow the new route.

    Not while an offer awaits its answer; a pending offer past its answer time is expired first, as
    ``offer_placement`` does. The placement clock runs on with its due time: the person is still
    waiting. Nobody is told: the assessment is the managers' own decision, and no notification says it."""
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "reassess", referral)
        _settle_pending_offer(referral, "reassess")
        if (risk, route) == (referral.risk, referral.route):
            raise AssessmentUnchanged(ASSESSMENT_UNCHANGED_MESSAGE)
        _perform(
            referral,
            actor=actor,
            transition="reassess",
            input={"risk": risk, "route": route, "notes": notes},
            before={"risk": referral.risk, "route": referral.route},
            risk=risk,
            route=route,
        )
    return referral


# What became of an offer no longer pending, as "The offer to Migrant Help …" or
# "This offer …" goes on.
OFFER_ENDED_WORDS = {
    OfferState.ACCEPTED: "was accepted",
    OfferState.REJECTED: "was rejected",
    OfferState.EXPIRED: "ran out unanswered",
    OfferState.REVOKED: "was withdrawn",
}


# The ends of an offer that leave its provider's answer to be refused, out of its sight: all but its
# acceptance (after which the case is the provider's, until the placement ends).
ENDED_UNACCEPTED = (OfferState.REJECTED, OfferState.EXPIRED, OfferState.REVOKED)


def refuse_late_answer(actor: User, referral_id: int) -> None:
    """Refuse an answer from a care provider user whose provider's latest offer of the referral ended
    unaccepted (withdrawn, run out, rejected by a colleague), taking the case out of their sight: a 409
    saying how and when it ended (``wording.late_answer_words``), not the 404 that would leave them unsure
    whether their acceptance went through. Anyone else is let be, to be refused as for a case that does not
    exist: a user whose provider was never offered the person, or accepted them, or who is no care
    provider's. For the answer whose lookup of the referral failed: the API's, and the one under the row
    lock, which a withdrawal may have beaten while it waited."""
    from .wording import late_answer_words  # it imports this module

    offer = last_offer_to(actor.provider, referral_id)
    if offer is not None and offer.state in ENDED_UNACCEPTED:
        raise OfferNotPending(late_answer_words(offer)) from None


def offer_not_pending(referral: Referral) -> OfferNotPending:
    """Why the provider the case's latest offer was made to can no longer answer it.

    While it sees the case, it accepted the offer (an offer rejected, expired or withdrawn takes the
    case out of its sight, and the web says which on its offers page). Who accepted it, and when, is
    said: a caseworker about to reject may be hearing only now that a colleague took the person.
    """
    offer = latest_offer_for(referral)
    if offer is not None and offer.state == OfferState.ACCEPTED:
        placement = active_placement_for(referral)
        if placement is not None and placement.offer_id == offer.pk:
            accepted_by = (
                referral.transitions.filter(transition="accept")
                .order_by("-at", "-id")
                .values_list("actor__username", flat=True)
                .first()
            )
            # An accepted offer has the time of its answer.
            accepted_at = local_time(cast(datetime.datetime, offer.responded_at), MOMENT_NEAR)
            return OfferAlreadyAccepted(
                f"This offer was accepted by {accepted_by} at {accepted_at}: the person is placed with you."
            )
        return OfferNotPending("You accepted this offer; the person is no longer placed with you.")
    if offer is None or offer.state not in OFFER_ENDED_WORDS:  # none, or one made since the case was read
        return OfferNotPending("This case has no offer waiting for your answer.")
    return OfferNotPending(f"This offer {OFFER_ENDED_WORDS[offer.state]}.")


def answer_refusal(referral: Referral, offer: PlacementOffer | None) -> OfferNotPending | None:
    """Why the case's pending offer (``offer``) cannot be answered now: there is none (answered, expired
    or withdrawn), or it is past its answer time, to be closed by the sweep or the next offer, and can be
    neither taken nor turned down. None while it awaits its answer."""
    if offer is None:
        return offer_not_pending(referral)
    return None if offer_awaits_answer(offer) else offer_ran_out(offer)


def revoke_refusal(
    referral: Referral, pending: PlacementOffer | None, offer_id: int | None = None
) -> OfferNotPending | None:
    """Why the managers cannot withdraw the offer ``offer_id`` (the case's pending offer if None) now: it
    is not the pending offer (``pending``) any more, as when it was answered and another made since; there
    is none; or it is past its answer time, and a new offer closes it. None while it awaits its answer."""
    if pending is not None and offer_id not in (None, pending.pk):
        meant = referral.offers.filter(pk=offer_id).first()
        if meant is None:
            return OfferNotPending("That is not an offer of this referral: nothing was withdrawn.")
        return OfferNotPending(
            f"The offer to {meant.provider.name} {OFFER_ENDED_WORDS[meant.state]}, and the person has been "
            f"offered to {pending.provider.name} since: nothing was withdrawn. Open the case again to see "
            "the offer as it is now."
        )
    if offer_awaits_answer(pending):
        return None
    if pending is not None:
        return OfferNotPending(
            f"The offer to {pending.provider.name} ran out unanswered at "
            f"{local_time(pending.response_due_at, MOMENT_NEAR)}: make a new offer, which closes it."
        )
    ended = latest_offer_for(referral) if offer_id is None else referral.offers.filter(pk=offer_id).first()
    if ended is None:
        return OfferNotPending("This referral has no placement offer to withdraw.")
    return OfferNotPending(
        f"The offer to {ended.provider.name} {OFFER_ENDED_WORDS[ended.state]}, so there is no offer waiting "
        "for an answer to withdraw: it may have changed since you loaded the page."
    )


def revoke_offer(
    *, referral_id: int, actor: User, reason: str, note: str = "", offer_id: int | None = None
) -> Referral:
    """The managers withdraw the pending offer before its answer, as when a correction left its provider
    unable to take the person or the provider does not answer. ``offer_id``: the offer they mean, which
    must still be the pending one (a page loaded before it was answered and another offer made would
    otherwise withdraw that one). The referral stays assessed and its placement clock runs on; the
    offer's response clock stops, its provider is told (the reference only) and its items asking for an
    answer are read. A new offer can be made at once."""
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "revoke_offer", referral)
        offer = _pending_offer(referral)
        if refusal := revoke_refusal(referral, offer, offer_id):
            raise refusal
        offer = cast(PlacementOffer, offer)  # revoke_refusal: there is one
        _perform(
            referral,
            actor=actor,
            transition="revoke_offer",
            input={"offer": offer.pk, "provider": offer.provider_id, "reason": reason, "note": note},
        )
        _revoke(referral, offer, reason)
    return referral


def _lock_offer_to_answer(referral: Referral) -> PlacementOffer:
    """The pending offer, locked, while it awaits its provider's answer (``answer_refusal``)."""
    offer = _pending_offer(referral)
    refusal = answer_refusal(referral, offer)
    if refusal is not None:
        raise refusal
    return cast(PlacementOffer, offer)  # answer_refusal: there is one


def _lock_to_answer(referral_id: int, actor: User) -> Referral:
    """``_lock_visible`` for the offered provider's answer. A provider the case left as its offer ended
    unaccepted hears how it ended (``refuse_late_answer``)."""
    try:
        return _lock_visible(referral_id, actor)
    except Referral.DoesNotExist:
        refuse_late_answer(actor, referral_id)
        raise


def accept_offer(*, referral_id: int, actor: User) -> Referral:
    """The offered provider accepts: the person is placed and, on the accommodation route, takes a bed."""
    with transaction.atomic():
        referral = _lock_to_answer(referral_id, actor)
        if not may_perform(actor, "accept", referral):
            raise NotPermitted("Only the provider the person was offered to can accept.")
        offer = _lock_offer_to_answer(referral)
        bed_kind = reserve_bed(offer.provider_id, referral)
        offer.accept()
        offer.save()
        _perform(referral, actor=actor, transition="accept", input={})
        Placement.objects.create(
            referral=referral, provider_id=offer.provider_id, offer=offer, bed_kind=bed_kind
        )
        _offer_done(referral, offer, Clock.PLACEMENT)
        start_clock(referral, Clock.CHECK_IN)
        start_clock(referral, Clock.RECOVERY_REVIEW)
        _notify_case(Event.REFERRAL_PLACED, referral, _referrer(referral), *manager_recipients())
    return referral


def reject_offer(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    with transaction.atomic():
        referral = _lock_to_answer(referral_id, actor)
        if not may_perform(actor, "reject", referral):
            raise NotPermitted("Only the provider the person was offered to can reject.")
        offer = _lock_offer_to_answer(referral)
        offer.reject(reason=reason)
        offer.save()
        _perform(referral, actor=actor, transition="reject", input={"reason": reason, "note": note})
        _offer_done(referral, offer)
        _notify_case(Event.OFFER_REJECTED, referral, *manager_recipients())
    return referral


def expire_offer(*, offer_id: int) -> bool:
    """Harbour itself expires an offer whose response clock ran out. Safe to run twice."""
    with transaction.atomic():
        referral_id = PlacementOffer.objects.filter(pk=offer_id).values_list("referral_id", flat=True).first()
        if referral_id is None:
            return False
        referral = Referral.objects.select_for_update().get(pk=referral_id)
        pending = _pending_offer(referral)
        if pending is None or pending.pk != offer_id or not can_proceed(referral.expire_offer):
            return False
        _expire(referral, pending)
    return True


def _expire(referral: Referral, offer: PlacementOffer) -> None:
    """Expire the locked pending offer of the locked referral, unanswered in time, and tell the managers."""
    offer.expire()
    offer.save()
    _perform(referral, actor=None, transition="expire_offer", input={"offer": offer.pk})
    _offer_done(referral, offer)
    _notify_case(Event.OFFER_EXPIRED, referral, *manager_recipients())


def record_progress(
    *,
    referral_id: int,
    actor: User,
    note: str,
    next_check_in: datetime.date | None = None,
    seen_at: datetime.datetime | None = None,
    recovery_review: bool = False,
) -> Referral:
    """A progress note from the placed provider; restarts the check-in clock. ``seen_at``, when the
    provider last saw the person in person, is a sighting: they cannot be reported missing as last seen
    before it. A note that is the recovery review (the case review at day 30 of the recovery period)
    stops that clock."""
    from .validation import seen_in_person_errors  # it imports this module

    with transaction.atomic():
        input: dict[str, Any] = {
            "note": note,
            "next_check_in": next_check_in.isoformat() if next_check_in else None,
        }
        if seen_at is not None:
            input["seen_at"] = seen_at.isoformat()
        if recovery_review:
            input["recovery_review"] = True
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "record_progress", referral)
        if errors := seen_in_person_errors(referral, seen_at):
            raise HarbourError(" ".join(errors), field="seen_at")
        due = _chosen_check_in_due(next_check_in)
        _perform(referral, actor=actor, transition="record_progress", input=input)
        start_clock(referral, Clock.CHECK_IN, due=due)
        if recovery_review:
            _meet_recovery_review(referral)
    return referral


def _chosen_check_in_due(day: datetime.date | None) -> datetime.datetime | None:
    """When a next check-in chosen by its day falls due, or None if none is chosen. A day already past
    or months away is refused on its field, as the web form and the API input refuse it, for any other
    caller too: a check-in already past would breach at once."""
    from .validation import next_check_in_errors  # it imports this module

    if day is None:
        return None
    if errors := next_check_in_errors(day):
        raise HarbourError(" ".join(errors), field="next_check_in")
    return check_in_due_on(day)


def _meet_recovery_review(referral: Referral) -> None:
    """Stop the recovery-review clock, once its reminder has gone: a note on day 1 is not the review."""
    review = referral.deadlines.filter(clock=Clock.RECOVERY_REVIEW, stopped_at__isnull=True).first()
    if review is None:
        raise RecoveryReviewNotDue("This placement has no recovery review waiting.", field="recovery_review")
    if review.met_from > timezone.now():
        when = (
            f"The recovery review is due on {timezone.localtime(review.due_at):%-d %B %Y}; it can be "
            f"recorded from {local_time(review.met_from, MOMENT_NEAR)}."
        )
        raise RecoveryReviewNotDue(
            f"{when} Save this note without ticking the box.",
            field="recovery_review",
            api_message=f"{when} Send this note with recovery_review false, or leave it out.",
        )
    stop_clocks(referral, Clock.RECOVERY_REVIEW)


def report_missing(
    *, referral_id: int, actor: User, last_seen_at: datetime.datetime, note: str = ""
) -> Referral:
    """Escalates at once to managers and the referring organisation, then every MISSING_REPEAT_HOURS. The
    check-in clock stops and the recovery review's is paused until the person is found (``mark_found``);
    a reallocation or an exit while they are missing ends it (``_end_placement``)."""
    from .validation import last_seen_errors  # it imports this module

    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "report_missing", referral)
        if errors := last_seen_errors(referral, last_seen_at):
            raise HarbourError(" ".join(errors), field="last_seen_at")
        _perform(
            referral,
            actor=actor,
            transition="report_missing",
            input={"last_seen_at": last_seen_at.isoformat(), "note": note},
        )
        now = timezone.now()
        stop_clocks(referral, Clock.CHECK_IN)
        # Nobody can hold the review of a person who is missing: it waits for them, with its time left.
        pause_clock(referral, Clock.RECOVERY_REVIEW)
        # The clock counts from when the person was last seen; the first repeat is a day from now.
        missing = start_clock(
            referral,
            Clock.MISSING,
            start=min(last_seen_at, now),
            due=now + datetime.timedelta(hours=settings.MISSING_REPEAT_HOURS),
        )
        # The time last seen is what the police and the managers act on, as the repeats give it.
        _notify_case(
            Event.PERSON_MISSING,
            referral,
            _referrer(referral),
            *manager_recipients(),
            *_placed_provider_organisations(referral, excluding=actor),
            last_seen_at=missing.started_at,
            child=referral.is_child,
        )
    return referral


NO_CHECK_IN_WITHOUT_PLACEMENT = (
    "This person was reallocated while missing and has no placement to go back to: their check-ins start "
    "with their next placement. Leave the next check-in empty."
)


def mark_found(
    *, referral_id: int, actor: User, note: str = "", next_check_in: datetime.date | None = None
) -> Referral:
    """The person is back: in the placement again, their recovery review with the time it had left when
    they went missing, and their check-in due on the day chosen now (``next_check_in``), else no later
    than the one set before they went missing (``deadlines.check_in_after_found``); the log holds when
    (``check_in_due``). Or, reallocated while missing, waiting for a new placement, with no check-in to
    choose."""
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "found", referral)
        input: dict[str, Any] = {
            "note": note,
            "next_check_in": next_check_in.isoformat() if next_check_in else None,
        }
        check_in_due = _chosen_check_in_due(next_check_in)
        if referral.state == ReferralState.MISSING:  # back in the placement
            if check_in_due is None:
                check_in_due, _ = check_in_after_found(referral)
            input["check_in_due"] = check_in_due.isoformat()
        elif next_check_in is not None:
            raise HarbourError(NO_CHECK_IN_WITHOUT_PLACEMENT, field="next_check_in")
        _perform(referral, actor=actor, transition="found", input=input)
        stop_clocks(referral, Clock.MISSING)
        missing_items_done(referral_id=referral.pk)
        if check_in_due is not None:
            start_clock(referral, Clock.CHECK_IN, due=check_in_due)
            resume_clock(referral, Clock.RECOVERY_REVIEW)
        else:  # reallocated while missing: only now can a placement be offered (``check_not_missing``)
            start_clock(referral, Clock.PLACEMENT)
        # Whoever did not mark them found learns when the check-in is due: the provider above all.
        _notify_case(
            Event.PERSON_FOUND,
            referral,
            _referrer(referral),
            *manager_recipients(),
            *_placed_provider_organisations(referral, excluding=actor),
            due_at=check_in_due,
        )
    return referral


def reallocate_referral(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    """The placement ends and frees its bed; the referral goes back to assessed for a new offer. A person
    reallocated while missing is offered nowhere until found (``check_not_missing``), so their placement
    clock starts only then (``mark_found``): until then no one could meet it."""
    with transaction.atomic():
        referral = _apply(
            referral_id=referral_id,
            actor=actor,
            transition="reallocate",
            input={"reason": reason, "note": note},
        )
        provider_organisations = _placed_provider_organisations(referral, excluding=actor)
        _end_placement(referral)
        if not referral.still_missing():
            start_clock(referral, Clock.PLACEMENT)
        _notify_case(
            Event.REFERRAL_REALLOCATED,
            referral,
            _referrer(referral),
            *manager_recipients(),
            *provider_organisations,
        )
    return referral


def recover_referral(*, referral_id: int, actor: User, outcome: str, note: str = "") -> Referral:
    with transaction.atomic():
        referral = _apply(
            referral_id=referral_id,
            actor=actor,
            transition="recover",
            input={"outcome": outcome, "note": note},
        )
        provider_organisations = _placed_provider_organisations(referral, excluding=actor)
        _end_placement(referral)
        _close(referral)
        _notify_case(
            Event.REFERRAL_RECOVERED,
            referral,
            _referrer(referral),
            *manager_recipients(),
            *provider_organisations,
        )
    return referral


def exit_referral(*, referral_id: int, actor: User, reason: str, note: str = "") -> Referral:
    with transaction.atomic():
        referral = _apply(
            referral_id=referral_id, actor=actor, transition="exit", input={"reason": reason, "note": note}
        )
        provider_organisations = _placed_provider_organisations(referral, excluding=actor)
        _revoke_pending_offer(referral)  # a closed case keeps no offer open, whatever came before
        _end_placement(referral)
        _close(referral)
        _notify_case(
            Event.REFERRAL_EXITED,
            referral,
            _referrer(referral),
            *manager_recipients(),
            *provider_organisations,
        )
    return referral


NOTHING_TO_CORRECT_MESSAGE = (
    "Nothing changed: the details sent are those the case already holds. Change the details that are "
    "wrong, then send the correction. Only the person's details are corrected this way; anything else "
    "sent is not."
)


CORRECTED_SINCE_MESSAGE = (
    "Someone corrected this person's details after you opened this form, and sending it would have put "
    "back what they changed."
)


def correct_referral(
    *,
    referral_id: int,
    actor: User,
    reason: str,
    note: str = "",
    corrected_up_to: int | None = None,
    **fields: Any,
) -> Referral:
    """Correct the person's details (``validation.CORRECTABLE_FIELDS``): only the fields sent, and of
    those only the ones that differ, change. The state does not; the log names the fields changed,
    never their values but emergency's (no personal detail). Whether the person is a child is worked
    out again as at the submission, and the provider of a pending offer or of the placement is told,
    with the managers when the referring organisation corrected it or when this correction left that
    provider unable to take the person (``misfit_notice``), and the referring organisation when someone
    else did.

    A form sends every detail, as it was when the form was opened after the correction
    ``corrected_up_to``: if another correction came since, the form's stale details would undo it, so
    it is refused (409). The API sends only what it changes (``corrected_up_to`` None).

    A new region is saved even if that provider does not serve it: the case page says so
    (``views.provider_misfit_words``), and the offer can no longer be accepted (``reserve_bed``). Nor
    does it move a running clock: the nation whose bank holidays a clock skips (``deadlines.nation_of``)
    is read when the clock starts, so the placement clock keeps the due time it was given, and the clocks
    started after count the new region's. A change of whether the person needs a place today does move
    the running placement clock (``deadlines.retime_placement_clock``): a deadline kept from before
    would pass unseen, or escalate a case no longer urgent. The log then holds its due time, moved or not."""
    from .validation import CORRECTABLE_FIELDS, correction_errors, corrections  # it imports this module

    if unknown := set(fields) - set(CORRECTABLE_FIELDS):
        raise TypeError(f"Not correctable: {sorted(unknown)}")
    with transaction.atomic():
        referral = _lock_visible(referral_id, actor)
        check_transition_allowed(actor, "correct", referral)
        if corrected_up_to is not None and corrected_up_to != referral.last_correction():
            raise CorrectedSince(CORRECTED_SINCE_MESSAGE)
        changes = corrections(referral, fields)
        if not changes:
            raise NothingToCorrect(NOTHING_TO_CORRECT_MESSAGE)
        # Checked again under the lock: the case may have been corrected since the input was read.
        if errors := correction_errors(referral, changes):
            field, messages = next(iter(errors.items()))
            raise HarbourError(" ".join(messages), field=field)
        pending = _pending_offer(referral)
        placed = active_placement_for(referral)
        misfit_before = misfit_notice(referral, pending, placed)
        lacking_before = set(misfit_before["lacking"]) if misfit_before else set()
        contact = contact_change(referral, changes)
        corrected = {**{name: getattr(referral, name) for name in CORRECTABLE_FIELDS}, **changes}
        child = is_child(
            date_of_birth=corrected["date_of_birth"],
            age_estimate=corrected["age_estimate"],
            age_in_doubt=corrected["age_in_doubt"],
            on=timezone.localdate(referral.submitted_at),
        )
        referral.correct(changes=changes, child=child)
        referral.save()
        input: dict[str, Any] = {"reason": reason, "note": note, "fields": list(changes)}
        if contact:  # the history warns whoever reads it later, as the alert did
            input["contact"] = contact
        # Whether the person needs a place today is what the placement clock's due time depends on.
        emergency: bool | None = None
        due: datetime.datetime | None = None
        if "emergency" in changes:
            input["emergency"] = emergency = referral.emergency
            # Where the clock already ran sooner, its due time stands, and is said all the same.
            if (placement := retime_placement_clock(referral)) is not None:
                input["placement_due"] = placement.due_at.isoformat()
                due = placement.due_at
        # The state stays as it was.
        _log(referral, actor=actor, transition="correct", from_state=referral.state, input=input)
        misfit = misfit_notice(referral, pending, placed)
        if misfit is None and misfit_before is not None:
            misfit_items_done(referral_id=referral.pk)  # the provider can take them again
        # Told once, by the correction that made the provider unfit, not by every later one while it lasts.
        if misfit is not None and set(misfit["lacking"]) <= lacking_before:
            misfit = None
        # The referring organisation hears when someone else corrected what it submitted; the managers
        # when the referrer did, or when it leaves them a new offer or a reallocation to make.
        told = [
            *([pending.provider.organisation] if pending is not None else []),
            *_placed_provider_organisations(referral, excluding=actor),
            *(manager_recipients() if misfit or not actor.is_manager else []),
            *([_referrer(referral)] if actor.organisation_id != referral.organisation_id else []),
        ]
        _notify_case(
            Event.REFERRAL_CORRECTED,
            referral,
            *told,
            child=referral.is_child,
            misfit=misfit,
            emergency=emergency,
            due_at=due,
            contact=contact,
        )
    return referral


def contact_change(referral: Referral, changes: dict[str, Any]) -> str:
    """What the ``changes`` a correction is about to make to ``referral`` do to phoning the person, as
    ``ContactChange`` codes it: the number, which the keyworker may hold, is never said. "" where it does
    nothing a caller must stop for (a number given where there was none)."""
    if referral.safe_to_contact and changes.get("safe_to_contact") is False:
        return ContactChange.NOT_SAFE
    if referral.contact_phone and "contact_phone" in changes:
        return ContactChange.PHONE_CHANGED
    return ""


def misfit_notice(
    referral: Referral, pending_offer: PlacementOffer | None, placement: Placement | None
) -> dict[str, Any] | None:
    """What a correction's notification says of the provider of the pending offer or of the placement
    when the person as corrected is one it does not take (``provider_misfits``), as
    ``Notification.misfit`` holds it; None while it fits."""
    for provider_of, held in (("offer", pending_offer), ("placement", placement)):
        if held is None or not (misfits := provider_misfits(held.provider, referral)):
            continue
        notice: dict[str, Any] = {"provider_of": provider_of, "lacking": [misfit.value for misfit in misfits]}
        if Misfit.REGION in misfits:
            notice["region"] = referral.region
        return notice
    return None


def _offer_to_provider(*, referral_id: int, actor: User, provider: int, note: str = "") -> Referral:
    return offer_placement(referral_id=referral_id, actor=actor, provider_id=provider, note=note).referral


def _revoke_the_offer(
    *, referral_id: int, actor: User, reason: str, note: str = "", offer: int | None = None
) -> Referral:
    return revoke_offer(referral_id=referral_id, actor=actor, reason=reason, note=note, offer_id=offer)


# Every §4 transition by its name, each called with the input fields as the forms and the API name them.
TRANSITION_SERVICES: dict[str, Callable[..., Referral]] = {
    "assess": assess_referral,
    "reassess": reassess_referral,
    "decline": decline_referral,
    "withdraw": withdraw_referral,
    "offer": _offer_to_provider,
    "accept": accept_offer,
    "reject": reject_offer,
    "revoke_offer": _revoke_the_offer,
    "record_progress": record_progress,
    "report_missing": report_missing,
    "found": mark_found,
    "reallocate": reallocate_referral,
    "recover": recover_referral,
    "exit": exit_referral,
    "correct": correct_referral,
}


def perform_transition(transition: str, *, referral_id: int, actor: User, **input: Any) -> Referral:
    """Perform the named transition with its input; answers the referral as it now is."""
    return TRANSITION_SERVICES[transition](referral_id=referral_id, actor=actor, **input)
