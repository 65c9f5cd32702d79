"""The §3 rules a referral must meet, shared by the web form and the API serializer.

Each rule answers with the field it concerns and a message that says what to do, so a first responder
at a roadside knows how to fix it.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from care_providers.selectors import active_placement_for

from .choices import ExploitationType, ReferralState, language_names, nationality_names
from .deadlines import CHECK_IN_TIME
from .local_time import MOMENT_IN_FULL, local_time
from .phone_numbers import PHONE_TOO_FEW_DIGITS_MESSAGE, PHONE_TOO_LONG_MESSAGE, has_too_few_digits
from .services import age_on, distinct, is_child

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from care_providers.models import Placement

    from .models import Referral

ACCOUNT_MAX_LENGTH = 15_000
NAME_MAX_LENGTH = 100
ALIASES_MAX_LENGTH = 200
REFERENCE_MAX_LENGTH = 50
# Longer than any nationality or language code; the API refuses more before looking the code up.
CODE_MAX_LENGTH = 20
LANGUAGES_MAX = 20
LANGUAGES_TOO_MANY_MESSAGE = f"Choose at most {LANGUAGES_MAX} languages: the ones the person speaks best."
# The most items an API list may carry before its repeats are dropped, as the web refuses a post of
# more than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) values: no honest client sends more.
LIST_ITEMS_MAX = 1_000
LIST_TOO_LONG_MESSAGE = f"Send each code once, and at most {LIST_ITEMS_MAX:,} items."
LOCAL_AUTHORITY_MAX_LENGTH = 100
LOCAL_AUTHORITY_CONTACT_MAX_LENGTH = 200
# A child is referred to the local authority's children's services first, then to the NRM (DOMAIN.md
# §2.1): the managers placing the child coordinate with them.
LOCAL_AUTHORITY_REQUIRED_MESSAGE = (
    "Name the local authority whose children's services were told. A child must be referred to "
    "children's services first."
)
LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_MESSAGE = (
    "Leave the local authority and its contact empty for an adult: they belong to a child's referral "
    "only. If the person may be under 18, tick “may be under 18” (age in doubt)."
)
# The API's words for the same rules, naming its JSON fields rather than the form's boxes.
LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_IN_THE_API = (
    "Leave local_authority and local_authority_contact out (or empty) for an adult: they belong to a "
    "child's referral only. If the person may be under 18, set age_in_doubt to true."
)
# A note or reason given with a transition.
NOTE_MAX_LENGTH = 5_000
PROGRESS_NOTE_REQUIRED_MESSAGE = "Write the progress note."
# The provider never reads the responder's account or the assessment's notes: the offer's note is how
# it learns what it must know to decide and to keep the person safe.
OFFER_NOTE_HELP = (
    "What the provider needs to know to decide and to keep the person safe: risks (people to keep away, "
    "addresses to avoid), health and other needs. The provider reads it with the offer, before it answers; "
    "it never sees the account or the assessment's notes."
)
# Who reads an assessment's notes, and a change of assessment's (``permissions.may_see_transition_input``).
ASSESSMENT_NOTES_HELP = (
    "The managers and the referring organisation read these notes in the case's history; a care provider "
    "never does: what it needs to know goes in the note with the offer."
)
# Who reads the note on withdrawing an offer (``permissions.may_see_transition_input``).
REVOKE_NOTE_HELP = (
    "The managers and the referring organisation read it in the case's history. The provider is told only "
    "that the offer is withdrawn, not why."
)
AGE_MAX = 120
NO_CONSENT_MESSAGE = (
    "An adult must consent to be referred. If the person may be under 18, tick “may be under 18” (age in "
    "doubt): then no consent is needed. Otherwise, if they do not consent, make an anonymous notification "
    "(duty to notify) instead."
)
NO_CONSENT_IN_THE_API = (
    "An adult must consent to be referred: set consent to true. If the person may be under 18, set "
    "age_in_doubt to true: then no consent is needed. Otherwise, if they do not consent, POST an anonymous "
    "notification (duty to notify) to /api/v1/anonymous-notifications/ instead."
)
# A date of birth and an age estimate that disagree on whether the person is a child: either would make
# one, but a case cannot hold both as they are (a child "aged 30"), unless the age is in doubt anyway,
# which the web form's box and the API's field say (``in_doubt``).
AGES_DISAGREE_MESSAGE = (
    "The date of birth and the age estimate of {estimate} disagree on whether the person {was_under_18}. "
    "If you believe they may be a child, {in_doubt} to keep both. "
    "Otherwise put right whichever is wrong, or clear the estimate if the date of birth is right."
)
# A correction puts right what was recorded wrongly; an adult who no longer consents ends the referral,
# which says why, withdraws a pending offer and tells those who must know (SPEC §3: an adult without
# consent is notified anonymously, never referred).
CONSENT_NOT_CORRECTED = (
    "An adult is referred only with their consent, so a correction cannot record that they do not consent."
)
CONSENT_WITHDRAWN_ON_THE_WEB = "withdraw the referral with the reason “Consent withdrawn”"
CONSENT_WITHDRAWN_IN_THE_API = (
    "withdraw the referral (POST to its withdraw action) with reason consent_withdrawn"
)
EXIT_ON_THE_WEB = "the placed provider or a manager records their exit from support"
EXIT_IN_THE_API = "the placed provider or a manager records their exit (POST to its exit action)"
AGE_IN_DOUBT_ON_THE_WEB = "tick “may be under 18” (age in doubt)"
AGE_IN_DOUBT_IN_THE_API = "set age_in_doubt to true"

AGE_ESTIMATE_RANGE_MESSAGE = f"The age estimate must be between 0 and {AGE_MAX}."
NATIONALITY_REQUIRED_MESSAGE = "Choose the person's nationality, or stateless or unknown."
SECOND_NATIONALITY_REPEATED_MESSAGE = (
    "The second nationality is the same as the first: choose another, or leave it empty."
)
LANGUAGES_REQUIRED_MESSAGE = "Choose at least one language the person speaks."
EXPLOITATION_TYPES_REQUIRED_MESSAGE = "Choose at least one type of exploitation."


def too_long(what: str, limit: int) -> str:
    return f"The {what} must be at most {limit:,} characters; shorten it."


class LengthLimit(MaxLengthValidator):
    """The length check of a long text (an account, a note), for a form field and a serializer field
    alike; a refusal says by how much the text is over, which no one can count by eye in pages of text."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(limit)
        self.what = what

    def __call__(self, value: str) -> None:
        if len(value) > self.limit_value:
            raise ValidationError(
                f"The {self.what} must be at most {self.limit_value:,} characters; it is {len(value):,} "
                f"characters: remove {len(value) - self.limit_value:,}.",
                code=self.code,
            )


ACCOUNT_LENGTH = LengthLimit("account", ACCOUNT_MAX_LENGTH)
NOTE_LENGTH = LengthLimit("note", NOTE_MAX_LENGTH)
CORRECTION_NOTE_MAX_LENGTH = 1_000
CORRECTION_NOTE_LENGTH = LengthLimit("note", CORRECTION_NOTE_MAX_LENGTH)


def nationality_code_message(what: str) -> str:
    return f"Enter the {what} as an ISO 3166 two-letter code, stateless or unknown."


# What to say when a §3 field is missing, blank, too long or cannot be read, by the names Django's form
# fields and DRF's serializer fields both give those cases ("required", "max_length", "invalid"...), so
# that the web form and the API say the same thing. No message may hold "%" or a brace: Django and
# DRF fill their own placeholders in.
FIELD_MESSAGES: dict[str, dict[str, str]] = {
    "given_name": {
        "required": "Enter the person's given name.",
        "max_length": too_long("given name", NAME_MAX_LENGTH),
    },
    "family_name": {
        "required": "Enter the person's family name.",
        "max_length": too_long("family name", NAME_MAX_LENGTH),
    },
    "aliases": {"max_length": too_long("other names", ALIASES_MAX_LENGTH)},
    "date_of_birth": {
        "invalid": "Enter the date of birth as a real date, for example 14 March 1995 (1995-03-14)."
    },
    "age_estimate": {
        "invalid": "Enter the age estimate as a whole number of years, such as 24.",
        "max_string_length": AGE_ESTIMATE_RANGE_MESSAGE,
        "min_value": AGE_ESTIMATE_RANGE_MESSAGE,
        "max_value": AGE_ESTIMATE_RANGE_MESSAGE,
    },
    "gender": {"required": "Choose the person's gender, or unknown."},
    "nationality": {
        "required": NATIONALITY_REQUIRED_MESSAGE,
        "max_length": nationality_code_message("nationality"),
    },
    "second_nationality": {"max_length": nationality_code_message("second nationality")},
    "languages": {
        "required": LANGUAGES_REQUIRED_MESSAGE,
        "not_a_list": 'Send the languages as a list of ISO 639-1 codes, such as ["en", "ti"].',
    },
    "exploitation_types": {
        "required": EXPLOITATION_TYPES_REQUIRED_MESSAGE,
        "not_a_list": 'Send the types of exploitation as a list, such as ["labour"].',
    },
    "exploitation_location": {"required": "Choose where the exploitation happened."},
    "region": {"required": "Choose the region where the person is now."},
    "contact_phone": {"max_length": PHONE_TOO_LONG_MESSAGE},
    "local_authority": {"max_length": too_long("local authority's name", LOCAL_AUTHORITY_MAX_LENGTH)},
    "local_authority_contact": {
        "max_length": too_long("children's services contact", LOCAL_AUTHORITY_CONTACT_MAX_LENGTH)
    },
    # "Your reference" on the form: the responder's own, not the case's reference or the crime reference.
    "responder_reference": {
        "max_length": f"Your reference must be at most {REFERENCE_MAX_LENGTH:,} characters; shorten it."
    },
    "crime_reference": {"max_length": too_long("crime reference", REFERENCE_MAX_LENGTH)},
}
# An anonymous notification's region is where the responder met the person.
ANONYMOUS_FIELD_MESSAGES: dict[str, dict[str, str]] = {
    "gender": FIELD_MESSAGES["gender"],
    "nationality": FIELD_MESSAGES["nationality"],
    "exploitation_types": FIELD_MESSAGES["exploitation_types"],
    "region": {"required": "Choose the region where you met the person."},
}


def error_messages(field: str, *, anonymous: bool = False) -> dict[str, StrOrPromise]:
    """The messages of a §3 field, as a form field's or a serializer field's ``error_messages``.

    A form says "required" for a field left empty; DRF tells a blank string and a null apart from a
    missing field, and hears the same message for all three.
    """
    # Typed as DRF's fields take them: a dict[str, str] is no dict[str, StrOrPromise].
    messages: dict[str, StrOrPromise] = dict(
        (ANONYMOUS_FIELD_MESSAGES if anonymous else FIELD_MESSAGES)[field]
    )
    if "required" in messages:
        messages.setdefault("blank", messages["required"])
        messages.setdefault("null", messages["required"])
    return messages


# An emergency starts a one-day placement clock and tops the triage: it means a bed today (SPEC §3, §5).
EMERGENCY_WITHOUT_ACCOMMODATION_MESSAGE = (
    "An emergency is a need for accommodation today: tick 'Needs a safe place to stay' too, or untick "
    "Emergency."
)
EMERGENCY_WITHOUT_ACCOMMODATION_IN_THE_API = (
    "An emergency is a need for accommodation today: set needs_accommodation to true too, or emergency "
    "to false."
)

# An anonymous notification never holds these (SPEC §3); a request carrying any of them is refused.
# Beside the referral's own personal fields come the names other systems give such details, so that an
# integration sending a name under its own word is told it is using the wrong form. The intake form
# keeps the browser from remembering those of its fields among them (``ReferralForm``).
PERSONAL_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "date_of_birth",
    "age_estimate",
    "contact_phone",
    "local_authority_contact",
    "account",
    "responder_reference",
    "crime_reference",
    "name",
    "first_name",
    "last_name",
    "forename",
    "surname",
    "full_name",
    "dob",
    "birth_date",
    "email",
    "phone",
    "phone_number",
    "mobile",
    "address",
)
ANONYMOUS_PERSONAL_FIELD_MESSAGE = (
    "An anonymous notification must not hold personal details such as a name, date of birth or contact "
    "details. If the person consents (or is a child), make a referral instead."
)
# Duty to notify is for adults only (DOMAIN.md §2.2): a request that gives the person's age, or says they
# are or may be a child, is refused too, whatever the age, pointing to the referral a child needs.
AGE_FIELDS = (
    "age",
    "age_estimate",
    "age_in_doubt",
    "is_child",
    "child",
    "is_minor",
    "minor",
    "under_18",
    "adult_or_child",
    "age_group",
    "age_range",
    # Children's services are told of a child only.
    "local_authority",
)
ANONYMOUS_AGE_FIELD_MESSAGE = (
    "An anonymous notification is for an adult only: a child, or anyone who may be under 18, must be "
    "referred, not notified. Make a referral instead: a child needs no consent."
)
# Every field an anonymous notification refuses, with what it says; an age estimate is personal, and
# refused as an age.
ANONYMOUS_REFUSED_FIELDS: dict[str, str] = {
    **dict.fromkeys(PERSONAL_FIELDS, ANONYMOUS_PERSONAL_FIELD_MESSAGE),
    **dict.fromkeys(AGE_FIELDS, ANONYMOUS_AGE_FIELD_MESSAGE),
}


NEXT_CHECK_IN_MAX_DAYS = 90


def next_check_in_errors(day: datetime.date | None) -> list[str]:
    """A next check-in is due at CHECK_IN_TIME that day: not already past, and not months away."""
    if day is None:
        return []
    now = timezone.localtime()
    earliest = now.date() if now.time() < CHECK_IN_TIME else now.date() + datetime.timedelta(days=1)
    latest = now.date() + datetime.timedelta(days=NEXT_CHECK_IN_MAX_DAYS)
    if earliest <= day <= latest:
        return []
    return [f"Choose a next check-in from {earliest:%-d %B %Y} to {latest:%-d %B %Y}."]


def validate_next_check_in(day: datetime.date) -> None:
    """``next_check_in_errors`` as a field's validator: the web forms' and the API inputs' alike."""
    if errors := next_check_in_errors(day):
        raise ValidationError(errors)


# The clocks of a provider's phone or an API client may run a few minutes ahead of Harbour's: a person
# seen "just now" by that clock must not be refused as seen in the future.
LAST_SEEN_CLOCK_SKEW = datetime.timedelta(minutes=5)


def _in_the_future(seen: datetime.datetime) -> bool:
    return seen > timezone.now() + LAST_SEEN_CLOCK_SKEW


def _to_the_minute(moment: datetime.datetime) -> datetime.datetime:
    """A moment as the form gives a time: a person seen as they arrived is seen at the placement's start."""
    return moment.replace(second=0, microsecond=0)


def seen_in_person_errors(referral: Referral, seen: datetime.datetime | None) -> list[str]:
    """When the placed provider last saw the person in person, given with a progress note: not in the
    future, and not before their placement began. A case with no placement is not checked here: no
    progress can be recorded on it."""
    if seen is None:
        return []
    if _in_the_future(seen):
        return ["The time you last saw them cannot be in the future."]
    placement = active_placement_for(referral)
    if placement is not None and seen < _to_the_minute(placement.started_at):
        return [
            f"Enter when you saw them since their placement began, at "
            f"{local_time(placement.started_at, MOMENT_IN_FULL)}, or leave this empty."
        ]
    return []


def last_seen_in_person(referral: Referral, placement: Placement) -> datetime.datetime | None:
    """When the placement's latest progress note to give a time says the person was seen in person. The
    latest note decides, not the latest time: a time typed wrong (22:00 for 10:00) is corrected by a
    later note, rather than refuse the true time last seen for good. The inputs are encrypted, so the
    times are read here, not in SQL."""
    notes = referral.transitions.filter(transition="record_progress", at__gte=placement.started_at)
    for given in notes.order_by("-at", "-id").values_list("input", flat=True):
        if given and given.get("seen_at"):
            return datetime.datetime.fromisoformat(given["seen_at"])
    return None


class KnownThere(NamedTuple):
    """A moment Harbour knows the person was at their placement, and what happened then."""

    at: datetime.datetime
    event: str
    # The provider whose progress note gave the time, if one did: a later note corrects a time typed wrong.
    seen_by: str = ""

    def correction(self) -> str:
        if not self.seen_by:
            return ""
        return (
            f"If that time was wrong, {self.seen_by} can correct it first with a progress note giving the "
            "right time."
        )


def last_known_there(referral: Referral, placement: Placement) -> KnownThere:
    """The latest moment Harbour knows the person was there: their placement's start, their last
    recording as found, or the time the placement's latest progress note to give one says they were
    seen in person. A note's own time is not counted: it may be written about an absence."""
    known_there = [KnownThere(placement.started_at, "their placement began")]
    if found := referral.transitions.filter(transition="found").order_by("at").last():
        known_there.append(KnownThere(found.at, "they were recorded as found"))
    if seen_in_person := last_seen_in_person(referral, placement):
        # The provider's name, as the case page gives the placement: the notes' writers are its staff.
        provider = placement.provider.name
        known_there.append(
            KnownThere(
                seen_in_person, f"they were recorded as seen in person by {provider}", seen_by=provider
            )
        )
    return max(known_there, key=lambda known: known.at)


def seen_in_person_words(referral: Referral) -> str:
    """For the missing report: when the person was recorded as seen in person, by which provider, and how
    to correct it, if that is the latest moment they are known to have been there; else empty."""
    placement = active_placement_for(referral)
    if placement is None or not (known := last_known_there(referral, placement)).seen_by:
        return ""
    return (
        f"Last recorded as seen in person at {local_time(known.at, MOMENT_IN_FULL)}, by {known.seen_by}. "
        f"{known.correction()}"
    )


def last_seen_errors(referral: Referral, seen: datetime.datetime) -> list[str]:
    """When a missing person was last seen: not in the future, and not before the latest moment Harbour
    knows they were there (``last_known_there``). A case with no placement is not checked here: it
    cannot be reported missing at all."""
    if _in_the_future(seen):
        return ["The time last seen cannot be in the future."]
    placement = active_placement_for(referral)
    if placement is None:
        return []
    known = last_known_there(referral, placement)
    if seen < _to_the_minute(known.at):
        # A mistyped day or year would put the case at the top of every overdue list, "missing since 1900".
        message = (
            f"The person cannot have been last seen before {known.event}, at "
            f"{local_time(known.at, MOMENT_IN_FULL)}: enter when they were last seen since then."
        )
        if correction := known.correction():
            message = f"{message} {correction}"
        return [message]
    return []


def unknown_codes(codes: Iterable[str], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [code for code in distinct(codes) if code not in known]


# Codes as ISO writes them, whatever the case they were sent in (a case system may store "gb" or "EN"):
# a country in capitals, a language in lowercase, the two words without a country in lowercase.
NATIONALITY_WORDS = frozenset({"stateless", "unknown"})


def nationality_code(value: str) -> str:
    """A nationality as Harbour stores it: trimmed, "al" as "AL", "Stateless" as "stateless"."""
    code = value.strip()
    return code.lower() if code.lower() in NATIONALITY_WORDS else code.upper()


def language_code(value: str) -> str:
    """A language as Harbour stores it: trimmed and in lowercase, "SQ" as "sq"."""
    return value.strip().lower()


def nationality_errors(code: str) -> list[str]:
    if code and code not in nationality_names():
        if code.upper() == "UK":
            return ["“UK” is not a nationality code: the United Kingdom's ISO 3166 code is GB."]
        return [f"“{code}” is not a nationality code: use an ISO 3166 two-letter code, stateless or unknown."]
    return []


def exploitation_type_errors(types: list[str]) -> list[str]:
    messages = [] if types else [EXPLOITATION_TYPES_REQUIRED_MESSAGE]
    for code in unknown_codes(types, ExploitationType.values):
        messages.append(
            f"“{code}” is not a type of exploitation: choose from {', '.join(ExploitationType.values)}."
        )
    return messages


def anonymous_notification_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors for a duty-to-notify report: any personal field, or any age, is refused (SPEC §3)."""
    errors: dict[str, list[str]] = {}
    for field, message in ANONYMOUS_REFUSED_FIELDS.items():
        if field in data:
            errors[field] = [message]
    if not data.get("nationality"):
        errors["nationality"] = [NATIONALITY_REQUIRED_MESSAGE]
    elif messages := nationality_errors(data["nationality"]):
        errors["nationality"] = messages
    if messages := exploitation_type_errors(data.get("exploitation_types") or []):
        errors["exploitation_types"] = messages
    return errors


def local_authority_errors(data: Mapping[str, Any], *, child: bool, api: bool = False) -> dict[str, str]:
    """A child's local authority is required; an adult's referral holds neither it nor its contact."""
    if child:
        if not (data.get("local_authority") or "").strip():
            return {"local_authority": LOCAL_AUTHORITY_REQUIRED_MESSAGE}
        return {}
    return {
        field: LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_IN_THE_API
        if api
        else LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_MESSAGE
        for field in ("local_authority", "local_authority_contact")
        if (data.get(field) or "").strip()
    }


def referral_errors(
    data: Mapping[str, Any],
    *,
    unreadable: Collection[str] = (),
    child_on: datetime.date | None = None,
    api: bool = False,
) -> dict[str, list[str]]:
    """Field errors for typed §3 values (dates as dates, lists as lists); empty when valid.

    ``unreadable`` names the fields whose value could not be read at all (a form's own field errors):
    a rule that depends on one of them waits until it is put right, rather than guess at it. Whether the
    person is a child is as on ``child_on``: today for a referral being made, the submission's day for
    one being corrected, which stays a child's case after the 18th birthday. ``api``: the errors name the
    API's fields where the web form's differ.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    today = timezone.localdate()
    date_of_birth: datetime.date | None = data.get("date_of_birth")
    age_estimate: int | None = data.get("age_estimate")
    age_unreadable = not {"date_of_birth", "age_estimate"}.isdisjoint(unreadable)
    if date_of_birth is None and age_estimate is None and not age_unreadable:
        add("date_of_birth", "Enter a date of birth, or an age estimate if it is not known.")
    if date_of_birth is not None and date_of_birth > today:
        add("date_of_birth", "The date of birth must be in the past.")
    if date_of_birth is not None and age_on(date_of_birth, today) > AGE_MAX:
        add("date_of_birth", f"The date of birth gives an age over {AGE_MAX}; check the year.")
    if age_estimate is not None and not 0 <= age_estimate <= AGE_MAX:
        add("age_estimate", AGE_ESTIMATE_RANGE_MESSAGE)

    child = is_child(
        date_of_birth=date_of_birth,
        age_estimate=age_estimate,
        age_in_doubt=bool(data.get("age_in_doubt")),
        on=child_on or today,
    )
    # Whether the person is an adult or a child is known only from an age that could be read and is
    # right; an age in doubt makes a child whatever the age says.
    age_known = bool(data.get("age_in_doubt")) or (
        not age_unreadable
        and "age_in_doubt" not in unreadable
        and "date_of_birth" not in errors
        and "age_estimate" not in errors
        and (date_of_birth is not None or age_estimate is not None)
    )
    ages_disagree = _ages_disagree(data, referred_on=child_on, api=api) if age_known else ""
    if ages_disagree:
        add("age_estimate", ages_disagree)
    # Nor is it known while the ages disagree: the rules that depend on it wait until they are put right.
    age_known = age_known and not ages_disagree
    if not child and not data.get("consent") and age_known:
        add("consent", NO_CONSENT_IN_THE_API if api else NO_CONSENT_MESSAGE)
    if age_known:
        for field, message in local_authority_errors(data, child=child, api=api).items():
            if field not in unreadable:
                add(field, message)

    for field in ("nationality", "second_nationality"):
        for message in nationality_errors(data.get(field) or ""):
            add(field, message)
    if data.get("second_nationality") and data.get("second_nationality") == data.get("nationality"):
        add("second_nationality", SECOND_NATIONALITY_REPEATED_MESSAGE)

    languages = distinct(data.get("languages") or [])
    if not languages:
        add("languages", LANGUAGES_REQUIRED_MESSAGE)
    if len(languages) > LANGUAGES_MAX:
        add("languages", LANGUAGES_TOO_MANY_MESSAGE)
    for code in unknown_codes(languages, language_names()):
        add("languages", f"“{code}” is not an ISO 639-1 language code, such as en, sq or vi.")

    for message in exploitation_type_errors(data.get("exploitation_types") or []):
        add("exploitation_types", message)

    if (
        data.get("emergency")
        and not data.get("needs_accommodation")
        and "needs_accommodation" not in unreadable
    ):
        add(
            "emergency",
            EMERGENCY_WITHOUT_ACCOMMODATION_IN_THE_API if api else EMERGENCY_WITHOUT_ACCOMMODATION_MESSAGE,
        )
    contact_phone: str = data.get("contact_phone") or ""
    if contact_phone and not data.get("safe_to_contact") and "safe_to_contact" not in unreadable:
        add("contact_phone", "Only give a phone number if it is safe for the provider to contact the person.")
    elif contact_phone and has_too_few_digits(contact_phone):
        add("contact_phone", PHONE_TOO_FEW_DIGITS_MESSAGE)
    return errors


# The §3 fields of a referral, in the order the intake asks for them.
REFERRAL_FIELDS = (
    "consent",
    "given_name",
    "family_name",
    "aliases",
    "date_of_birth",
    "age_estimate",
    "age_in_doubt",
    "gender",
    "local_authority",
    "local_authority_contact",
    "nationality",
    "second_nationality",
    "languages",
    "interpreter_needed",
    "exploitation_types",
    "exploitation_location",
    "region",
    "needs_accommodation",
    "emergency",
    "needs_medical",
    "has_dependants",
    "safe_to_contact",
    "contact_phone",
    "account",
    "responder_reference",
    "crime_reference",
)

# The person's details a correction may change once the referral is submitted (a name misspelt, a phone
# number changed, an age assessment, a move to another region): every §3 field but what happened to the
# person and the responder's account and references, which are the referral as made. Nor the route (a
# manager changes it: ``services.reassess_referral``); whether the person needs a bed, and today, is.
# Consent is, so that a child referred without it whom an age assessment finds an adult can give it. The
# region is where the person is now (SPEC §3), which changes when they move or are moved for their safety.
NOT_CORRECTABLE = (
    "exploitation_types",
    "exploitation_location",
    "account",
    "responder_reference",
    "crime_reference",
)
CORRECTABLE_FIELDS = tuple(name for name in REFERRAL_FIELDS if name not in NOT_CORRECTABLE)
# The §3 fields the rules of a correctable field read besides it.
_RULE_FIELDS = (*CORRECTABLE_FIELDS, "exploitation_types")


# §3 text stored as empty, never None.
TEXT_FIELDS = (
    "aliases",
    "local_authority",
    "local_authority_contact",
    "second_nationality",
    "contact_phone",
    "account",
    "responder_reference",
    "crime_reference",
)


def as_stored(name: str, value: Any) -> Any:
    """A §3 value as the referral stores it: text never None, languages each once."""
    if name == "languages":
        return distinct(value or [])
    if name in TEXT_FIELDS:
        return value or ""
    return value


def corrections(referral: Referral, sent: Mapping[str, Any]) -> dict[str, Any]:
    """Of the correctable details sent, those that differ from what the case holds, as it will store
    them. A form sends every detail; only these are the correction."""
    return {
        name: value
        for name in CORRECTABLE_FIELDS
        if name in sent and not _same(name, value := as_stored(name, sent[name]), getattr(referral, name))
    }


def _same(name: str, sent: Any, held: Any) -> bool:
    """Whether a detail sent is the one the case holds: languages in any order are the same languages."""
    return set(sent) == set(held) if name == "languages" else sent == held


def corrected_values(referral: Referral, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The referral's §3 fields as they will be once ``changes`` are made."""
    return {**{name: getattr(referral, name) for name in _RULE_FIELDS}, **changes}


def correction_errors(
    referral: Referral, sent: Mapping[str, Any], *, unreadable: Collection[str] = (), api: bool = False
) -> dict[str, list[str]]:
    """Field errors for a correction: the intake's rules (``referral_errors``) on the record as it will
    be after it, so that "a date of birth or an age estimate", "a phone number only if it is safe to
    call" and "a child's local authority" hold of the corrected case. Not "an adult consents": a child
    referred without consent whom an age assessment finds an adult is recorded as one, and the case page
    asks for their consent or the end of the referral (``views.consent_missing_words``), as for a child turned 18.
    But a consent recorded is not corrected away: an adult who no longer consents has the referral
    withdrawn, or their exit from support recorded (``consent_taken_back_message``).

    Whether the person is a child is as at the submission. An error the case had before is not the
    correction's: a child referred before the local authority was asked has their phone corrected
    without naming one. The authority told of a person taken for a child stays on record if an age
    assessment finds them an adult; it cannot be added then. A date of birth and an age estimate that
    disagree on whether the person was a child are refused once either is corrected, even on a case
    submitted with them so before the intake refused them.
    """
    changes = corrections(referral, sent)
    referred_on = timezone.localdate(referral.submitted_at)
    before = referral_errors(corrected_values(referral, {}), child_on=referred_on, api=api)
    values = corrected_values(referral, changes)
    after = referral_errors(values, unreadable=unreadable, child_on=referred_on, api=api)
    errors = {
        field: new
        for field, messages in after.items()
        if field in CORRECTABLE_FIELDS
        and (new := [message for message in messages if message not in before.get(field, [])])
    }
    # Refused only where the correction itself sets an adult's consent to false.
    if errors.pop("consent", None) and "consent" in changes and not changes["consent"]:
        errors["consent"] = [consent_taken_back_message(referral, api=api)]
    adults_only = (
        LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_IN_THE_API if api else LOCAL_AUTHORITY_FOR_A_CHILD_ONLY_MESSAGE
    )
    for name in ("local_authority", "local_authority_contact"):
        if name not in changes and errors.get(name) == [adults_only]:
            del errors[name]
    if not _AGE_DETAILS.isdisjoint(changes) and (
        message := _ages_disagree(values, referred_on=referred_on, api=api)
    ):
        # Also when the case had them disagree already, as the intake once let it: an age corrected is
        # checked anew.
        errors["age_estimate"] = distinct([*errors.get("age_estimate", []), message])
    return errors


_AGE_DETAILS = frozenset({"date_of_birth", "age_estimate", "age_in_doubt"})


def consent_taken_back_message(referral: Referral, *, api: bool) -> str:
    """Why an adult's consent is not corrected to false, and how the referral ends instead: withdrawn
    before a placement, an exit from support once placed."""
    if referral.state in (ReferralState.RECEIVED, ReferralState.ASSESSED):
        then = CONSENT_WITHDRAWN_IN_THE_API if api else CONSENT_WITHDRAWN_ON_THE_WEB
        return f"{CONSENT_NOT_CORRECTED} If they no longer consent, {then}."
    then = EXIT_IN_THE_API if api else EXIT_ON_THE_WEB
    return f"{CONSENT_NOT_CORRECTED} If they no longer consent, {then}."


def _ages_disagree(values: Mapping[str, Any], *, referred_on: datetime.date | None, api: bool) -> str:
    """Why a date of birth and an age estimate that disagree on whether the person is under 18 today (or
    was on ``referred_on``, for a correction) cannot both stand, unless the age is in doubt anyway; empty
    if they agree."""
    born, estimate = values.get("date_of_birth"), values.get("age_estimate")
    if values.get("age_in_doubt") or born is None or estimate is None:
        return ""
    if (age_on(born, referred_on or timezone.localdate()) < 18) == (estimate < 18):
        return ""
    was_under_18 = "is under 18" if referred_on is None else "was under 18 when referred"
    in_doubt = AGE_IN_DOUBT_IN_THE_API if api else AGE_IN_DOUBT_ON_THE_WEB
    return AGES_DISAGREE_MESSAGE.format(estimate=estimate, was_under_18=was_under_18, in_doubt=in_doubt)
