"""The §3 rules a referral must meet, shared by the web form and the API serializer.

Each rule answers with the field it concerns and a message that says what to do, so a first responder
at a roadside knows how to fix it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from .choices import ExploitationType, language_names, nationality_names
from .services import is_child

ACCOUNT_MAX_LENGTH = 15_000
AGE_MAX = 120
NO_CONSENT_MESSAGE = (
    "An adult must consent to be referred. If they do not consent, make an anonymous notification "
    "(duty to notify) instead."
)


def unknown_codes(codes: Iterable[str], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [code for code in codes if code not in known]


def referral_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors for typed §3 values (dates as dates, lists as lists); empty when valid."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    today = timezone.localdate()
    date_of_birth: datetime.date | None = data.get("date_of_birth")
    age_estimate: int | None = data.get("age_estimate")
    if date_of_birth is None and age_estimate is None:
        add("date_of_birth", "Enter a date of birth, or an age estimate if it is not known.")
    if date_of_birth is not None and date_of_birth > today:
        add("date_of_birth", "The date of birth must be in the past.")
    if date_of_birth is not None and today.year - date_of_birth.year > AGE_MAX:
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
        and "date_of_birth" not in errors
        and "age_estimate" not in errors
    ):
        add("consent", NO_CONSENT_MESSAGE)

    for field in ("nationality", "second_nationality"):
        code = data.get(field) or ""
        if code and code not in nationality_names():
            add(
                field,
                f"“{code}” is not a nationality code: use an ISO 3166 two-letter code, stateless or unknown.",
            )

    languages = data.get("languages") or []
    if not languages:
        add("languages", "Choose at least one language the person speaks.")
    for code in unknown_codes(languages, language_names()):
        add("languages", f"“{code}” is not an ISO 639-1 language code, such as en, sq or vi.")

    types = data.get("exploitation_types") or []
    if not types:
        add("exploitation_types", "Choose at least one type of exploitation.")
    for code in unknown_codes(types, ExploitationType.values):
        add(
            "exploitation_types",
            f"“{code}” is not a type of exploitation: choose from {', '.join(ExploitationType.values)}.",
        )

    if data.get("contact_phone") and not data.get("safe_to_contact"):
        add("contact_phone", "Only give a phone number if it is safe for the provider to contact the person.")
    if len(data.get("account") or "") > ACCOUNT_MAX_LENGTH:
        add("account", f"The account must be at most {ACCOUNT_MAX_LENGTH:,} characters; shorten it.")
    return errors
