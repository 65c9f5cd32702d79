"""The §3 rules a referral must meet, shared by the web form and the API serializer.

Each rule answers with the field it concerns and a message that says what to do, so a first responder
at a roadside knows how to fix it.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django.utils import timezone

from .choices import ExploitationType, language_names, nationality_names
from .deadlines import CHECK_IN_TIME
from .services import age_on, distinct, is_child

ACCOUNT_MAX_LENGTH = 15_000
LANGUAGES_MAX = 20
LANGUAGES_TOO_MANY_MESSAGE = f"Choose at most {LANGUAGES_MAX} languages: the ones the person speaks best."
# The most items an API list may carry before its repeats are dropped, as the web refuses a post of
# more than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) values: no honest client sends more.
LIST_ITEMS_MAX = 1_000
LIST_TOO_LONG_MESSAGE = f"Send each code once, and at most {LIST_ITEMS_MAX:,} items."
CONTACT_PHONE_MAX_LENGTH = 50
CONTACT_PHONE_TOO_LONG_MESSAGE = (
    f"Enter the phone number in {CONTACT_PHONE_MAX_LENGTH} characters or fewer, such as 07700 900123."
)
# A note or reason given with a transition.
NOTE_MAX_LENGTH = 5_000
AGE_MAX = 120
NO_CONSENT_MESSAGE = (
    "An adult must consent to be referred. If they do not consent, make an anonymous notification "
    "(duty to notify) instead."
)

# An emergency starts a one-day placement clock and tops the triage: it means a bed today (SPEC §3, §5).
EMERGENCY_WITHOUT_ACCOMMODATION_MESSAGE = (
    "An emergency is a need for accommodation today: tick 'Needs a safe place to stay' too, or untick "
    "Emergency."
)

# An anonymous notification never holds these (SPEC §3); a request carrying any of them is refused.
PERSONAL_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "date_of_birth",
    "age_estimate",
    "contact_phone",
    "account",
    "name",
    "email",
    "phone",
    "address",
)
ANONYMOUS_PERSONAL_FIELD_MESSAGE = (
    "An anonymous notification must not hold personal details such as a name, date of birth or contact "
    "details. If the person consents (or is a child), make a referral instead."
)


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


def unknown_codes(codes: Iterable[str], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [code for code in distinct(codes) if code not in known]


def nationality_errors(code: str) -> list[str]:
    if code and code not in nationality_names():
        return [f"“{code}” is not a nationality code: use an ISO 3166 two-letter code, stateless or unknown."]
    return []


def exploitation_type_errors(types: list[str]) -> list[str]:
    messages = [] if types else ["Choose at least one type of exploitation."]
    for code in unknown_codes(types, ExploitationType.values):
        messages.append(
            f"“{code}” is not a type of exploitation: choose from {', '.join(ExploitationType.values)}."
        )
    return messages


def anonymous_notification_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors for a duty-to-notify report: any personal field is refused (SPEC §3)."""
    errors: dict[str, list[str]] = {}
    for field in PERSONAL_FIELDS:
        if field in data:
            errors[field] = [ANONYMOUS_PERSONAL_FIELD_MESSAGE]
    if not data.get("nationality"):
        errors["nationality"] = ["Choose the person's nationality, or unknown."]
    elif messages := nationality_errors(data["nationality"]):
        errors["nationality"] = messages
    if messages := exploitation_type_errors(data.get("exploitation_types") or []):
        errors["exploitation_types"] = messages
    return errors


def referral_errors(data: Mapping[str, Any], *, unreadable: Collection[str] = ()) -> dict[str, list[str]]:
    """Field errors for typed §3 values (dates as dates, lists as lists); empty when valid.

    ``unreadable`` names the fields whose value could not be read at all (a form's own field errors):
    a rule that depends on one of them waits until it is put right, rather than guess at it.
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
        add("age_estimate", f"The age estimate must be between 0 and {AGE_MAX}.")

    child = is_child(
        date_of_birth=date_of_birth,
        age_estimate=age_estimate,
        age_in_doubt=bool(data.get("age_in_doubt")),
        on=today,
    )
    if (
        not child
        and not data.get("consent")
        and not age_unreadable
        and "date_of_birth" not in errors
        and "age_estimate" not in errors
    ):
        add("consent", NO_CONSENT_MESSAGE)

    for field in ("nationality", "second_nationality"):
        for message in nationality_errors(data.get(field) or ""):
            add(field, message)

    languages = distinct(data.get("languages") or [])
    if not languages:
        add("languages", "Choose at least one language the person speaks.")
    if len(languages) > LANGUAGES_MAX:
        add("languages", LANGUAGES_TOO_MANY_MESSAGE)
    for code in unknown_codes(languages, language_names()):
        add("languages", f"“{code}” is not an ISO 639-1 language code, such as en, sq or vi.")

    for message in exploitation_type_errors(data.get("exploitation_types") or []):
        add("exploitation_types", message)

    if data.get("emergency") and not data.get("needs_accommodation"):
        add("emergency", EMERGENCY_WITHOUT_ACCOMMODATION_MESSAGE)
    if data.get("contact_phone") and not data.get("safe_to_contact"):
        add("contact_phone", "Only give a phone number if it is safe for the provider to contact the person.")
    if len(data.get("account") or "") > ACCOUNT_MAX_LENGTH:
        add("account", f"The account must be at most {ACCOUNT_MAX_LENGTH:,} characters; shorten it.")
    return errors
