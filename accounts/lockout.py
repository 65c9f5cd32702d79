"""The answer to a locked-out login: the same whether or not the username exists."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import format_html

from referrals.wording import managers_duty_line

# The API's code for the answer, beside its words, as every API error has one.
LOCKOUT_CODE = "locked_out"


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def _try_again() -> str:
    return (
        f"Too many failed attempts; try again in {lockout_minutes()} minutes, or ask your administrator to "
        "unlock your account."
    )


# The administrator who can unlock an account may not be there at night: a case that cannot wait goes to
# the managers' duty line.
CASE_CANNOT_WAIT = "If a case cannot wait, phone the managers' 24-hour duty line on {}."


def lockout_message() -> str:
    """What to do now, at any hour, as the API says it."""
    return f"{_try_again()} {CASE_CANNOT_WAIT.format(settings.MANAGERS_DUTY_PHONE)}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """429 everywhere: JSON for the API, the login page with the message for the web."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": lockout_message(), "code": LOCKOUT_CODE}, status=429)
        response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        return response
    return render(
        request,
        "accounts/locked_out.html",
        # The page's duty line is one to tap, as everywhere Harbour says to phone the managers.
        {"message": format_html(f"{{}} {CASE_CANNOT_WAIT}", _try_again(), managers_duty_line())},
        status=429,
    )
