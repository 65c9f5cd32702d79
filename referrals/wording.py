"""The workflow's codes in words: what a transition did, how its input reads to a person, and the short
phrases of the lists (a person's age, what became of an offer).

The case page's history and the managers' audit trail both show transitions and their input; both word
them here, so the two say the same ("Provider: Migrant Help", not "provider: 2").
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.timesince import timeuntil

from care_providers.models import OfferState
from care_providers.selectors import when_withdrawn, who_rejected

from .choices import (
    OPEN_STATES,
    ContactChange,
    CorrectionReason,
    DeclineReason,
    ExitReason,
    ReallocateReason,
    RecoveryOutcome,
    ReferralState,
    RejectReason,
    RevokeOfferReason,
    Risk,
    Route,
    WithdrawReason,
    emergency_in_words,
)
from .local_time import MOMENT, MOMENT_IN_FULL, local_time
from .permissions import TRANSITION_WORDS
from .phone_numbers import dial_string
from .services import OFFER_ENDED_WORDS, age_on

if TYPE_CHECKING:
    from care_providers.models import CareProvider, PlacementOffer

    from .models import Deadline, Referral

# The label of each coded value, not the code. A reason's codes depend on the transition it is for.
REASONS_OF = {
    "decline": DeclineReason,
    "withdraw": WithdrawReason,
    "reject": RejectReason,
    "reallocate": ReallocateReason,
    "exit": ExitReason,
    "correct": CorrectionReason,
    "revoke_offer": RevokeOfferReason,
}
INPUT_CHOICES: dict[str, type[models.TextChoices]] = {
    "risk": Risk,
    "route": Route,
    "outcome": RecoveryOutcome,
}
# What the transitions no user is ever refused did (TRANSITION_WORDS has the others): Harbour records a
# submission and an offer's running out itself.
RECORDED_WORDS = {"submit": "submitted", "expire_offer": "offer expired"}
# What the history calls the steps that leave the state as it was: "reassessed" says too little there.
HISTORY_WORDS = {"correct": "details corrected", "reassess": "assessment changed"}
# The person's details a correction names, as the history and the audit trail say them: names only,
# never a value.
CORRECTED_FIELD_WORDS = {"aliases": "other names", "needs_medical": "needs medical care"}


def phone_link(number: str) -> SafeString:
    """A phone number as a link that a phone dials when tapped; as it is, to read, where it is not one
    number a phone could dial (``dial_string``): a link would ring a number that does not exist."""
    if dialled := dial_string(number):
        return format_html('<a href="tel:{}">{}</a>', dialled, number)
    return format_html("{}", number)


def managers_duty_line() -> SafeString:
    """The managers' 24-hour duty line (MANAGERS_DUTY_PHONE), to tap to call."""
    return phone_link(settings.MANAGERS_DUTY_PHONE)


# An emergency puts a referral first in the managers' queue and shortens its placement clock, but that
# clock starts only once the managers have assessed the referral, which may take the whole assessment
# clock: a responder whose person needs a bed tonight must phone, not wait (SPEC §5).
TONIGHT_PHONE_WORDS = (
    "If the person needs a place to stay tonight, phone the managers' 24-hour duty line on {}"
)


def emergency_placement_span() -> str:
    """How long after the managers' assessment an emergency's placement is due: "1 day"."""
    return span_in_days_words(datetime.timedelta(hours=settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS))


def emergency_hint() -> SafeString:
    """The intake form's hint for an emergency: what it changes, from when, and whom to phone tonight."""
    days = settings.DEADLINE_ASSESSMENT_WORKING_DAYS
    return format_html(
        "Lists the referral first for the managers, but their assessment may take up to {}\xa0working "
        "day{}, and the placement is due {} after it. " + TONIGHT_PHONE_WORDS + ".",
        days,
        "" if days == 1 else "s",
        emergency_placement_span(),
        managers_duty_line(),
    )


def emergency_submitted_words(reference: str, assessment_due: datetime.datetime) -> SafeString:
    """What a responder is told on submitting an emergency: that no place is arranged yet, when the
    assessment is due (``assessment_due``) and the placement after it, and whom to phone tonight."""
    return format_html(
        "{} is an emergency, but no place is arranged yet: the managers' assessment is due by {}, and the "
        "placement {} after it. " + TONIGHT_PHONE_WORDS + " and quote {}.",
        reference,
        local_time(assessment_due, MOMENT),
        emergency_placement_span(),
        managers_duty_line(),
        reference,
    )


# Where a provider's duty phone is missing: that Harbour holds none, not that the provider has none, and
# who can put it right.
ADD_DUTY_PHONE = "an administrator can add it in the admin"
NO_DUTY_PHONE = f"no duty phone in Harbour: {ADD_DUTY_PHONE}"


def provider_duty_phone(provider: CareProvider) -> SafeString:
    """ "duty phone 020 7946 0123", to tap to call: the provider's 24-hour number, for managers only (a
    refuge's number is not for first responders or other providers); or that none is recorded."""
    number = provider.organisation.duty_phone
    return format_html("duty phone {}", phone_link(number)) if number else format_html("{}", NO_DUTY_PHONE)


def corrected_fields_in_words(fields: list[str]) -> str:
    """ "date of birth, age in doubt": the fields a correction changed."""
    return ", ".join(CORRECTED_FIELD_WORDS.get(name, name.replace("_", " ")) for name in fields)


def correction_in_words(input: dict[str, Any], at: datetime.datetime) -> str:
    """ "Details corrected (new information): emergency. Now an emergency: the placement is due 1
    December 2026 14:05": the fields a correction made ``at`` that time changed, never their values but
    emergency's, when the placement clock it re-timed is due (``deadlines.retime_placement_clock``), and
    what it did to phoning the person (``ContactChange``), never the number."""
    reason = input_in_words("correct", "reason", input.get("reason"), {}).lower()
    fields = corrected_fields_in_words(input.get("fields") or [])
    words = f"{transition_in_words('correct')} ({reason}): {fields}"
    due = input.get("placement_due")
    if "emergency" in input:
        if due:
            overdue = datetime.datetime.fromisoformat(due) <= at
            words += f". {emergency_in_words(input['emergency'], moment_in_words(due), overdue=overdue)}"
        else:
            words += f". {emergency_in_words(input['emergency'])}"
    elif due:  # logged before the log held the new value
        words += f". The placement is now due {moment_in_words(due)}"
    if input.get("contact") in ContactChange.values:
        words += f". {capfirst(ContactChange(input['contact']).label)}"
    return words


def revocation_in_words(input: dict[str, Any], provider_names: dict[int, str]) -> str:
    """ "Offer to Migrant Help withdrawn: no answer from the provider": the offer the managers withdrew,
    and why."""
    provider = input_in_words("revoke_offer", "provider", input.get("provider"), provider_names)
    reason = input_in_words("revoke_offer", "reason", input.get("reason"), {}).lower()
    return f"Offer to {provider} withdrawn: {reason}"


def transition_in_words(transition: str) -> str:
    """What a transition did to the case: "Offered a placement", "Submitted"."""
    if transition in HISTORY_WORDS:
        done = HISTORY_WORDS[transition]
    elif transition in TRANSITION_WORDS:
        done = TRANSITION_WORDS[transition][1]
    else:
        done = RECORDED_WORDS.get(transition, transition.replace("_", " "))
    return done[:1].upper() + done[1:]


# The inputs whose names alone would not say what they are: "seen_at" is when the provider saw the person.
INPUT_LABELS = {"seen_at": "Seen in person at", "check_in_due": "Next check-in due"}


def input_label(key: str) -> str:
    """The name of a transition's input as a label: "next_check_in" reads "Next check in"."""
    return INPUT_LABELS.get(key, key.replace("_", " ").capitalize())


def day_in_words(value: str) -> str:
    """An ISO date ("2026-11-30") as "30 November 2026"."""
    return f"{datetime.date.fromisoformat(value):%-d %B %Y}"


def moment_in_words(value: str) -> str:
    """An ISO date and time as the local day and time: "30 November 2026 14:05"."""
    return local_time(datetime.datetime.fromisoformat(value), "%-d %B %Y %H:%M")


def input_in_words(transition: str, key: str, value: Any, provider_names: dict[int, str]) -> str:
    """One input of a transition as it reads: a choice by its label, a provider by its name."""
    choices = REASONS_OF.get(transition) if key == "reason" else INPUT_CHOICES.get(key)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    if key == "provider":
        return provider_names.get(value, "a care provider")
    if key == "fields" and isinstance(value, list):
        return corrected_fields_in_words(value)
    if value is True:
        return "Yes"
    if key in ("last_seen_at", "seen_at", "placement_due", "check_in_due"):
        return moment_in_words(value)
    if key == "next_check_in":
        return day_in_words(value)
    return str(value)


def age_words(referral: Referral, today: datetime.date) -> str:
    """The person's age where their date of birth is not shown (a list, a provider before it accepts):
    "34", "About 30" from an estimate, "Child" if only that is known; "(in doubt)" if it is."""
    date_of_birth: datetime.date | None = referral.date_of_birth  # type: ignore[assignment]  # decrypted
    if date_of_birth is not None:
        words = str(age_on(date_of_birth, today))
    elif referral.age_estimate is not None:
        words = f"About {referral.age_estimate}"
    elif referral.is_child:
        words = "Child"
    else:
        return "Not known"
    return f"{words} (in doubt)" if referral.age_in_doubt else words


# How long before a child's 18th birthday the lists say they turn 18 soon.
TURNS_18_SOON_DAYS = 30
NOW_18, TURNS_18_SOON = "Now 18", "Turns 18 soon"


def coming_of_age_words(referral: Referral, today: datetime.date) -> str:
    """ "Now 18" while the case of a person referred as a child by their date of birth is open and they
    have turned 18, "Turns 18 soon" in the last ``TURNS_18_SOON_DAYS`` before; "" otherwise (an adult, a
    child by an age estimate alone, a closed case). Says no more than the age does."""
    turns_18_on = referral.turns_18_on
    if turns_18_on is None or referral.state not in OPEN_STATES:
        return ""
    if turns_18_on <= today:
        return NOW_18
    if (turns_18_on - today).days <= TURNS_18_SOON_DAYS:
        return TURNS_18_SOON
    return ""


def moment_words(moment: datetime.datetime) -> str:
    """A time in a list: "06:08" today, "3 Mar 06:08" earlier this year, "3 Mar 2025 06:08" before."""
    local, today = timezone.localtime(moment), timezone.localdate()
    if local.date() == today:
        return local_time(local, "%H:%M")
    if local.year == today.year:
        return local_time(local, "%-d %b %H:%M")
    return local_time(local, MOMENT)


def time_left_words(due_at: datetime.datetime, now: datetime.datetime) -> str:
    """How long is left before a time still to come: "2 hours, 5 minutes" as Django's ``timeuntil``
    says it, but "less than a minute" in the last minute, which ``timeuntil`` calls "0 minutes" as if
    nothing were left. Given the ``now`` the page decided the time has not yet come with."""
    if due_at - now < datetime.timedelta(minutes=1):
        return "less than a minute"
    return timeuntil(due_at, now)


def span_in_days_words(span: datetime.timedelta) -> str:
    """A span of a day or more in days and hours, "12 days", "11 days, 21 hours": a clock of weeks reads
    better so than in the weeks and days of ``timeuntil``. A shorter one as ``time_left_words`` says it."""
    if span < datetime.timedelta(days=1):
        now = timezone.now()
        return time_left_words(now + span, now)
    days, hours = span.days, span.seconds // 3600
    words = f"{days}\xa0day{'s' if days != 1 else ''}"
    return f"{words}, {hours}\xa0hour{'s' if hours != 1 else ''}" if hours else words


def paused_clock_words(deadline: Deadline) -> str:
    """What becomes of a paused clock (the recovery review, while the person is missing; see
    ``deadlines.pause_clock``) once the person is found: "paused while missing; 12 days left when
    found". One already overdue when they went missing is overdue by as much again once they are found."""
    left = deadline.left_when_paused or datetime.timedelta(0)
    if left > datetime.timedelta(0):
        return f"paused while missing; {span_in_days_words(left)} left when found"
    return (
        f"paused while missing; already {span_in_days_words(-left)} overdue when they went missing, so "
        "overdue again as soon as they are found"
    )


def last_offer_words(offer: PlacementOffer | None) -> str:
    """What became of a case's latest offer, for the managers' queue: a rejected or expired offer
    needs a new one, a pending one an answer."""
    if offer is None:
        return "None yet"
    provider = offer.provider.name
    if offer.state == OfferState.PENDING:
        due = offer.response_due_at
        if due <= timezone.now():
            return f"Pending with {provider}, answer was due {moment_words(due)}"
        return f"Pending with {provider}, answer due {moment_words(due)}"
    if offer.state == OfferState.REJECTED:
        reason = (
            RejectReason(offer.reject_reason).label.lower()
            if offer.reject_reason in RejectReason.values
            else offer.reject_reason or "no reason"
        )
        when = f", {moment_words(offer.responded_at)}" if offer.responded_at else ""
        return f"Rejected by {provider}: {reason}{when}"
    if offer.state == OfferState.EXPIRED:
        return f"Expired ({provider}), {moment_words(offer.response_due_at)}"
    if offer.state == OfferState.REVOKED:  # by the managers: a withdrawn referral leaves the queue
        reason = f": {offer.get_revoke_reason_display().lower()}" if offer.revoke_reason else ""
        return f"Withdrawn from {provider}{reason}"
    # Accepted: the case is back in the queue after a placement, so it was reallocated.
    return f"Accepted by {provider}, then reallocated"


# Why a pending offer was withdrawn with its case, by the state the case went to
# (``services.withdraw_referral`` revokes it there); the managers also withdraw one on its own, with a
# reason (``services.revoke_offer``).
REVOKED_BECAUSE = {ReferralState.WITHDRAWN: ", because the referral was withdrawn"}


def ran_out_words(offer: PlacementOffer) -> str:
    """How an offer left unanswered past its answer time ended, for its provider, whether the sweep has
    expired it yet or not, as "This offer …" goes on."""
    due = local_time(offer.response_due_at, MOMENT_IN_FULL)
    return f"{OFFER_ENDED_WORDS[OfferState.EXPIRED]} at {due}; the managers will look for another placement."


def offer_ended_words(offer: PlacementOffer) -> str:
    """How an offer that ended unaccepted (``services.ENDED_UNACCEPTED``) ended, and when, for its
    provider, who may no longer see the case, as "This offer …" or "The placement offer for HBR-…" goes
    on: "ran out unanswered at 14:05 on 30 November 2026; the managers will look for another placement."
    Not why the managers withdrew it: their reason and note are theirs and the referrer's."""
    ended = OFFER_ENDED_WORDS[offer.state]
    if offer.state == OfferState.EXPIRED:
        return ran_out_words(offer)
    if offer.state == OfferState.REJECTED:
        at = local_time(cast(datetime.datetime, offer.responded_at), MOMENT_IN_FULL)  # an answer's time
        return f"{ended} by {who_rejected(offer)} at {at}."
    withdrawn_at = when_withdrawn(offer)
    at = f" at {local_time(withdrawn_at, MOMENT_IN_FULL)}" if withdrawn_at is not None else ""
    if offer.revoke_reason:
        return f"{ended} by the managers{at}."
    return f"{ended}{at}{REVOKED_BECAUSE.get(offer.referral.state, '')}."


def placement_offer_ended_words(offer: PlacementOffer) -> str:
    """``offer_ended_words`` naming the offer by its case's reference alone, for a provider out of its
    sight: "The placement offer for HBR-2026-000123 was withdrawn by the managers at …"."""
    return f"The placement offer for {offer.referral.reference} {offer_ended_words(offer)}"


def late_answer_words(offer: PlacementOffer) -> str:
    """The refusal of its provider's answer to an offer that ended unaccepted, sent once the case left its
    sight, as from a page opened before: told so, how and when it ended, and that nothing more is asked of
    it, instead of a 404 that leaves it unsure whether its acceptance went through."""
    ended = placement_offer_ended_words(offer)
    return f"Your answer was not recorded. {ended} Nothing more is needed from you."
