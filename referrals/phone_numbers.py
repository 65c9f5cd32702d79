"""Phone numbers someone is to ring: a person's contact phone (SPEC §3) and a care provider's duty phone.

Whatever is typed around the digits (+, brackets, "ext 12", "after 6pm") is kept, so a responder in the
street does not fight the form; too few digits make a number nobody could ring. Nothing of Harbour's is
imported here: the organisation model validates its duty phone with it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

PHONE_MAX_LENGTH = 50
PHONE_TOO_LONG_MESSAGE = (
    f"Enter the phone number in {PHONE_MAX_LENGTH} characters or fewer, such as 07700 900123."
)
PHONE_MIN_DIGITS = 7
PHONE_TOO_FEW_DIGITS_MESSAGE = (
    f"Enter a phone number with at least {PHONE_MIN_DIGITS} digits, such as 07700 900123."
)


def has_too_few_digits(number: str) -> bool:
    return sum(char.isdecimal() for char in number) < PHONE_MIN_DIGITS


def validate_phone_number(number: str) -> None:
    """A model or form field's check of a phone number (``has_too_few_digits``)."""
    if number and has_too_few_digits(number):
        raise ValidationError(PHONE_TOO_FEW_DIGITS_MESSAGE, code="too_few_digits")
