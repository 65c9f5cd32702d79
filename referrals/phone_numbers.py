"""Phone numbers someone is to ring: a person's contact phone (SPEC §3) and a care provider's duty phone.

A contact phone keeps whatever is typed around the digits (+, brackets, "ext 12", "after 6pm"), so a
responder in the street does not fight the form; too few digits make a number nobody could ring. A duty
phone is tapped to call at any hour, so it must be one number a phone can dial (``dial_string``), and
nothing else. Nothing of Harbour's is imported here: the organisation model validates its duty phone with it.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

PHONE_MAX_LENGTH = 50
PHONE_TOO_LONG_MESSAGE = (
    f"Enter the phone number in {PHONE_MAX_LENGTH} characters or fewer, such as 07700 900123."
)
PHONE_MIN_DIGITS = 7
PHONE_TOO_FEW_DIGITS_MESSAGE = (
    f"Enter a phone number with at least {PHONE_MIN_DIGITS} digits, such as 07700 900123."
)
# No number in the international plan (ITU-T E.164) has more digits: more are two numbers run together.
PHONE_MAX_DIGITS = 15
NOT_ONE_NUMBER_MESSAGE = (
    "Enter one number to dial, such as 020 7946 0123 or +44 20 7946 0123: the digits 0 to 9, with "
    "spaces, hyphens or brackets if you like, and + only at the start. Leave out extensions, hours and "
    "other numbers."
)

# The digits 0 to 9 only ([0-9], not \d, which takes any script's digits: a phone dials none of those).
ONE_NUMBER = re.compile(r"\+?[0-9 ()-]+")
# "+44 (0)20 …": the trunk 0 in brackets is dialled only from within the country, never after its code.
TRUNK_ZERO_AFTER_COUNTRY_CODE = re.compile(r"^(\+[0-9]{1,3})[ -]*\(0\)")


def has_too_few_digits(number: str) -> bool:
    return sum(char.isdecimal() for char in number) < PHONE_MIN_DIGITS


def validate_phone_number(number: str) -> None:
    """A model or form field's check of a phone number (``has_too_few_digits``)."""
    if number and has_too_few_digits(number):
        raise ValidationError(PHONE_TOO_FEW_DIGITS_MESSAGE, code="too_few_digits")


def dial_string(number: str) -> str:
    """What a phone dials for ``number`` ("+442079460404" for "+44 (0)20 7946 0404"), or "" where the
    text is not one number it could dial: an extension, hours, two numbers, another script's digits."""
    number = number.strip()
    if not ONE_NUMBER.fullmatch(number):
        return ""
    digits = re.sub(r"[^0-9]", "", TRUNK_ZERO_AFTER_COUNTRY_CODE.sub(r"\1", number))
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        return ""
    return f"+{digits}" if number.startswith("+") else digits


def validate_duty_phone(number: str) -> None:
    """A care provider's duty phone: one number a phone can dial (``dial_string``)."""
    validate_phone_number(number)
    if number and not dial_string(number):
        raise ValidationError(NOT_ONE_NUMBER_MESSAGE, code="not_one_number")
