"""The idle timeout of web sessions, kept without writing the session on every request, and pages
that the browser does not keep once the session ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers

REFRESHED_AT = "_harbour_refreshed_at"
# Set on the way to the sign-in page when the browser's session had ended on its own (see below).
TIMED_OUT_COOKIE = "harbour_timed_out"


class SlidingSessionMiddleware:
    """Extend a signed-in session's expiry at most once every SESSION_REFRESH_SECONDS.

    The session expires SESSION_COOKIE_AGE after its last save, so a user idle for that long is signed
    out, give or take the refresh interval; busy pages no longer write the session on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None:
            return response
        if not session.is_empty():
            now = time.time()
            if now - session.get(REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS:
                session[REFRESHED_AT] = now  # marks the session modified: saved with a new expiry
        elif (
            request.method == "GET"
            and settings.SESSION_COOKIE_NAME in request.COOKIES
            and _to_sign_in(response)
        ):
            # The browser held a session the server no longer has: it ended on its own. This answer
            # deletes the session cookie, so the sign-in page learns it from a marker of its own.
            response.set_cookie(
                TIMED_OUT_COOKIE,
                "1",
                max_age=60,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def _to_sign_in(response: HttpResponse) -> bool:
    return response.status_code == 302 and urlsplit(response["Location"]).path == resolve_url(
        settings.LOGIN_URL
    )


class NoStoreMiddleware:
    """Pages and API answers are never stored by the browser or a proxy, unless a view says otherwise:
    after signing out on a shared computer, Back must not show a person's details again. Static files
    are served before this (WhiteNoise) and keep their long cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


@receiver(user_logged_in, dispatch_uid="session_refreshed_at_login")
def session_refreshed_at_login(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Signing in saves the session with a full idle period, so it counts as a refresh."""
    session = getattr(request, "session", None)
    if session is not None:
        session[REFRESHED_AT] = time.time()
