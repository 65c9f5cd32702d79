"""Who may do what to a referral. One place, used by the web, the API and the services.

Visibility (which cases a user may see at all) is decided by ``selectors.referrals_visible_to``; these
predicates decide, for a case the user can see, whether their role and relationship allow an action.
Whether the case's *state* allows it is the state machine's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from accounts.models import FIRST_RESPONDER_KINDS, OrganisationKind

from .choices import OPEN_STATES, ReferralState
from .models import Clock

if TYPE_CHECKING:
    from accounts.models import User

    from .models import Referral

MANAGER_ONLY = frozenset({"assess", "decline", "offer", "reassess", "revoke_offer"})
OFFERED_PROVIDER = frozenset({"accept", "reject"})
PLACED_PROVIDER_ONLY = frozenset({"record_progress"})
PLACED_PROVIDER_OR_MANAGER = frozenset({"report_missing", "found", "reallocate", "recover", "exit"})
PROVIDER_TRANSITIONS = OFFERED_PROVIDER | PLACED_PROVIDER_ONLY | PLACED_PROVIDER_OR_MANAGER
# Each transition in words, for the messages that refuse it: what the user may not do, and what the
# case cannot be.
TRANSITION_WORDS = {
    "assess": ("assess this referral", "assessed"),
    "decline": ("decline this referral", "declined"),
    "withdraw": ("withdraw this referral", "withdrawn"),
    "offer": ("offer this person a placement", "offered a placement"),
    "reassess": ("change this person's assessment", "reassessed"),
    "revoke_offer": ("withdraw this offer", "offer withdrawn"),
    "accept": ("accept this offer", "accepted by a provider"),
    "reject": ("reject this offer", "rejected by a provider"),
    "record_progress": ("record progress for this person", "given a progress note"),
    "report_missing": ("report this person missing", "reported missing"),
    "found": ("record this person as found", "recorded as found"),
    "reallocate": ("reallocate this person", "reallocated"),
    "recover": ("record this person's recovery", "recorded as recovered"),
    "exit": ("record this person's exit from support", "exited from support"),
    "correct": ("correct this person's details", "corrected"),
}
TRANSITIONS = tuple(TRANSITION_WORDS)


def is_referring_responder(user: User, referral: Referral) -> bool:
    return user.is_first_responder and user.organisation_id == referral.organisation_id


def is_offered_provider(user: User, referral: Referral) -> bool:
    """The user works for the provider of the latest offer. Whether it is still pending is a state
    question (409), so that the loser of two concurrent answers hears "already answered", not 403."""
    from care_providers.selectors import latest_offer_for

    provider = user.provider
    if provider is None:
        return False
    offer = latest_offer_for(referral)
    return offer is not None and offer.provider_id == provider.pk


def is_placed_provider(user: User, referral: Referral) -> bool:
    from care_providers.selectors import active_placement_for

    provider = user.provider
    if provider is None:
        return False
    placement = active_placement_for(referral)
    return placement is not None and placement.provider_id == provider.pk


def was_placed_provider_at_close(user: User, referral: Referral) -> bool:
    """The user works for the provider of the placement the case closed from (a recovery, an exit): it
    supported the person to the end, and still reads the case (``selectors.referrals_visible_to``)."""
    provider = user.provider
    if provider is None or referral.state in OPEN_STATES or referral.closed_at is None:
        return False
    return referral.placements.filter(provider=provider, ended_at__gte=referral.closed_at).exists()


def missing_child_exit_message() -> str:
    """Why a provider may not close a missing child's case, with the duty line as text: the API says it too."""
    return (
        "A manager must close a missing child's case: closing it stops the alerts to the managers and the "
        "referring organisation. Record the child as found when they come back, or phone the managers on "
        f"{settings.MANAGERS_DUTY_PHONE} to ask them to close the case."
    )


def is_missing_child(referral: Referral) -> bool:
    return referral.is_child and referral.state == ReferralState.MISSING


def may_perform(user: User, transition: str, referral: Referral) -> bool:
    """Whether the user's role and relationship to the case allow this transition."""
    if transition in MANAGER_ONLY:
        return user.is_manager
    if transition == "exit" and is_missing_child(referral):
        # Exiting stops the escalations: for a missing child, a manager's decision, not the provider's.
        return user.is_manager
    if transition == "withdraw":
        return user.is_manager or is_referring_responder(user, referral)
    if transition in OFFERED_PROVIDER:
        return is_offered_provider(user, referral)
    if transition in PLACED_PROVIDER_ONLY:
        return is_placed_provider(user, referral)
    if transition in PLACED_PROVIDER_OR_MANAGER:
        return user.is_manager or is_placed_provider(user, referral)
    if transition == "correct":
        # A provider tells the managers what is wrong; the referrer and the managers put it right.
        return user.is_manager or is_referring_responder(user, referral)
    raise ValueError(f"Unknown transition {transition!r}")


def may_submit(user: User) -> bool:
    return user.is_first_responder and user.organisation_id is not None


# A care provider's support notes and its answers to offers are between it and the managers: the
# referring organisation follows the case by its state, and is told when the person goes missing,
# is found, recovers or leaves support, with what the provider wrote then.
PROVIDERS_OWN_BUSINESS = frozenset({"record_progress", "reject"})


def may_see_transition_input(
    user: User,
    transition: str,
    actor_organisation_id: int | None,
    actor_organisation_kind: str | None,
    *,
    from_current_offer: bool,
) -> bool:
    """A transition's input (notes, reasons) in the history, on need to know (SPEC §2). Managers see
    every input. A first responder sees all but another organisation's ``PROVIDERS_OWN_BUSINESS``.

    A care provider sees its own organisation's, and the managers' made from its latest current offer
    on (``from_current_offer``, as ``selectors.referral_history_visible_to`` marks them): the provider
    supporting the person is to read what a manager wrote on reporting them missing ("do not
    approach…"), found or reallocated, as the referrer does. Not the managers' notes from before (the
    assessment, another provider's time), nor the referrer's or another provider's; Harbour's own
    actions have no organisation.

    But a correction made from its current offer on, whoever made it: the provider supporting the
    person is to know why and which details changed (the referrer unticked "safe to contact": stop
    phoning). Its note, free text, is ``may_read_correction_note``'s to say."""
    if user.is_care_provider and transition == "correct" and from_current_offer:
        return True
    return _may_read_actors_words(
        user,
        transition,
        actor_organisation_id,
        actor_organisation_kind,
        from_current_offer=from_current_offer,
    )


def _may_read_actors_words(
    user: User,
    transition: str,
    actor_organisation_id: int | None,
    actor_organisation_kind: str | None,
    *,
    from_current_offer: bool,
) -> bool:
    own = actor_organisation_id is not None and actor_organisation_id == user.organisation_id
    if user.is_care_provider:
        return own or (from_current_offer and actor_organisation_kind == OrganisationKind.CONTRACTOR)
    if transition in PROVIDERS_OWN_BUSINESS and not user.is_manager:
        return own
    return True


def may_read_correction_note(
    user: User,
    actor_organisation_id: int | None,
    actor_organisation_kind: str | None,
    *,
    from_current_offer: bool,
    identity: bool,
) -> bool:
    """A correction's note, beside its reason and fields (``may_see_transition_input``). It may say what
    a detail was ("Smyth, not Smith"), so only whoever sees who the person is (``identity``,
    ``may_see_identity``) reads it; and, as any input in the history, a care provider reads only its
    own and the managers' from its current offer on, not the referrer's words."""
    return identity and _may_read_actors_words(
        user, "correct", actor_organisation_id, actor_organisation_kind, from_current_offer=from_current_offer
    )


def may_read_offer_note(user: User) -> bool:
    """Whether the user reads the managers' note on an offer they see: the history's rule for the
    managers' input since the current offer (``may_see_transition_input``), so the page, the API and
    the history agree."""
    return may_see_transition_input(user, "offer", None, OrganisationKind.CONTRACTOR, from_current_offer=True)


# The clocks a care provider has to meet: answering its offer, then supporting the person. The
# assessment and placement clocks are the managers'.
PROVIDER_CLOCKS = frozenset({Clock.OFFER_RESPONSE, Clock.CHECK_IN, Clock.RECOVERY_REVIEW, Clock.MISSING})


def may_see_clock(user: User, clock: str) -> bool:
    """Whether the case page and the API list this open clock for the user. A care provider is shown
    only the clocks it has to meet: the managers' placement clock, beside its own offer, read as its
    deadline."""
    return not user.is_care_provider or clock in PROVIDER_CLOCKS


def may_see_actor(user: User, actor_organisation_kind: str | None) -> bool:
    """Who took a step in the history. A care provider is not told who referred the person (the
    referring organisation is the referrer's and the managers' business): it sees managers' and
    providers' names, not first responders'."""
    return not user.is_care_provider or actor_organisation_kind not in FIRST_RESPONDER_KINDS


def may_see_identity(user: User, referral: Referral) -> bool:
    """Name, date of birth and phone number. A care provider sees a case that is ``assessed`` only
    through a pending offer to it: it learns who the person is once it has taken them (SPEC §2)."""
    return not user.is_care_provider or referral.state != ReferralState.ASSESSED


def may_see_full_account(user: User) -> bool:
    """The responder's account and references are for managers and the referring organisation only."""
    return not user.is_care_provider
