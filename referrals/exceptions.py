"""Domain errors raised by services, mapped once to HTTP status codes and to form errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import ReferralDraft


class HarbourError(Exception):
    """Base of the domain errors. ``status_code`` is what the API answers."""

    status_code = 400
    # The API's stable code, where it is not the class's name in snake case (``api.errors.error_code``).
    code: str | None = None

    def __init__(self, message: str, *, field: str | None = None, api_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # What the API says instead, where the message speaks of the web form (a box to tick).
        self.api_message = api_message or message


class TransitionNotAllowed(HarbourError):
    """The case's current state does not allow this action, or someone else acted first."""

    status_code = 409


class CaseClosed(TransitionNotAllowed):
    """The case is closed: recovered, exited, declined or withdrawn, as its message says, and when. The
    API's code stays the one a closed case always had."""

    code = "transition_not_allowed"


class OfferNotPending(TransitionNotAllowed):
    """The offer was already answered, expired or revoked."""


class OfferAlreadyAccepted(OfferNotPending):
    """The provider answering the offer had already accepted it (from another tab, say)."""


class OfferAlreadyPending(TransitionNotAllowed):
    """A referral has at most one pending offer."""


class PersonStillMissing(TransitionNotAllowed):
    """A person reallocated while missing is offered a placement, or their referral withdrawn, only once
    they are found."""


class NoCapacity(TransitionNotAllowed):
    """The provider has no free bed of the kind the person needs."""


class ProviderNoLongerSuitable(TransitionNotAllowed):
    """The provider changed since it was offered the person, and can no longer take them: it stopped
    supporting children, say."""


class NotPermitted(HarbourError):
    """The user may see the case but not perform this action."""

    status_code = 403


class NothingToCorrect(HarbourError):
    """A correction that would change none of the person's details: nothing is recorded."""


class CorrectedSince(HarbourError):
    """A correction from a form opened before another correction of the case: made, it would put back
    what the other changed."""

    status_code = 409


class AssessmentUnchanged(HarbourError):
    """A change of assessment to the risk and route the case already has: nothing is recorded."""


class RecoveryReviewNotDue(HarbourError):
    """A note cannot meet the day-30 recovery review before the review is near."""


class NotificationNotFailed(HarbourError):
    """A notification is sent again only once it has failed: it was already sent again, or delivered."""

    status_code = 409


class NotificationOutdated(HarbourError):
    """A notification no longer current (its offer closed, its clock stopped…) is not sent again."""

    status_code = 409


class ProviderCannotTake(HarbourError):
    """The provider cannot take this person: a 400 that says why."""


class DraftChangedElsewhere(HarbourError):
    """The draft was saved again (on another device, say) since the form was loaded from it: the form's
    older version may neither replace it nor be submitted in its name. ``draft`` is the draft as it is."""

    status_code = 409

    def __init__(self, draft: ReferralDraft) -> None:
        super().__init__("The draft was changed elsewhere after this form was loaded from it.")
        self.draft = draft
