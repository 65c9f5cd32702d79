"""The idle timeout of web sessions, kept without writing the session on every request, how long a
session has left, what a user whose session ended is told, pages that the browser does not keep once
the session ends, and the key of the browser a user signed in on, which outlives the session."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers

REFRESHED_AT = "_harbour_refreshed_at"
# When the user signed in: however busy, a session ends SESSION_MAX_HOURS after it (an API token lasts
# TOKEN_LIFETIME_HOURS), or a stolen session cookie could be kept alive for ever by a request every
# few minutes ("Stay signed in" extends it whenever asked).
SIGNED_IN_AT = "_harbour_signed_in_at"
# Set on the way to the sign-in page when the browser's session had ended (see below), to why it ended.
SIGNED_OUT_COOKIE = "harbour_signed_out"
IDLE = "idle"
SIGNED_OUT_EVERYWHERE = "everywhere"
SIGNED_IN_TOO_LONG = "too_long"
# Set on the request by SlidingSessionMiddleware: whether it came with a signed-in session, and whether
# the middleware ended that session for having lasted SESSION_MAX_HOURS.
_CAME_SIGNED_IN = "_harbour_came_signed_in"
_ENDED_TOO_LONG = "_harbour_ended_too_long"
# A random key of the browser, in a cookie of its own, given when its user signs in and taken back when
# they sign out. A form shown in it carries a digest of it (``referrals.unsent_forms``): a form sent
# after the session lapsed is known to come from the browser that showed it. The session's own key
# cannot serve: Django deletes its cookie in the answer to the first request after the lapse, so a
# second form, sent from another tab, would arrive without it.
BROWSER_KEY_COOKIE = "harbour_browser"
BROWSER_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# Where the session cookie lasts until the browser closes, so does the key; otherwise for as long as a
# form may be left open (``referrals.unsent_forms.OWNER_MAX_AGE``).
BROWSER_KEY_MAX_AGE = 24 * 60 * 60
# Set on the request: the browser key its answer gives the browser, or "" for none (signed out).
_BROWSER_KEY_GIVEN = "_harbour_browser_key_given"


def why_signed_out(request: HttpRequest) -> str:
    """Why a request that is not signed in, from a browser that had a session, has none.

    A session Django still holds but empties on reading it ended because its auth hash no longer
    matches the user's: a new password, or ``end_sign_ins``. One the server no longer has at all
    expired after the idle timeout (nothing else deletes a session without a request of its own).
    """
    if not getattr(request, _CAME_SIGNED_IN, False):
        return IDLE
    if getattr(request, _ENDED_TOO_LONG, False):
        return SIGNED_IN_TOO_LONG
    user = getattr(request, "user", None)  # reading it checks the session's hash
    signed_in = user is not None and user.is_authenticated
    return SIGNED_OUT_EVERYWHERE if not signed_in and request.session.is_empty() else IDLE


def signed_out_words(why: str) -> str:
    """What the user is told of a session that ended (``why_signed_out``): one ended by a change they may
    not have made is worth reporting, so it is not passed off as idleness."""
    if why == SIGNED_OUT_EVERYWHERE:
        return (
            "You were signed out because your password or sign-in settings were changed. "
            "If you did not change them, contact your administrator."
        )
    if why == SIGNED_IN_TOO_LONG:
        return f"You were signed out {settings.SESSION_MAX_HOURS} hours after you signed in."
    return f"You were signed out after {settings.SESSION_COOKIE_AGE // 60} minutes without activity."


class SlidingSessionMiddleware:
    """Extend a signed-in session's expiry at most once every SESSION_REFRESH_SECONDS.

    The session expires SESSION_COOKIE_AGE after its last save, so a user idle for that long is signed
    out, give or take the refresh interval; busy pages no longer write the session on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None:
            return self.get_response(request)
        # Read before the authentication middleware checks the session's hash, which empties it.
        setattr(request, _CAME_SIGNED_IN, SESSION_KEY in session)
        if SESSION_KEY in session and _signed_in_too_long(session):
            # Emptied, as an idle session is gone, rather than logged out: that would take back the
            # browser key, and with it the form this request may carry (``referrals.unsent_forms``).
            session.flush()
            setattr(request, _ENDED_TOO_LONG, True)
        response = self.get_response(request)
        if not session.is_empty():
            if _refresh_due(session):
                extend_session(session)
        elif (
            request.method == "GET"
            and settings.SESSION_COOKIE_NAME in request.COOKIES
            and _to_sign_in(response)
        ):
            # The browser held a session that has ended. This answer deletes the session cookie, so
            # the sign-in page learns why from a marker of its own.
            response.set_cookie(
                SIGNED_OUT_COOKIE,
                why_signed_out(request),
                max_age=60,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def _signed_in_too_long(session: SessionBase) -> bool:
    # A session signed in before sessions had a maximum counts from its first request since.
    signed_in_at = session.setdefault(SIGNED_IN_AT, time.time())
    return time.time() - signed_in_at >= _max_seconds()


def _max_seconds() -> int:
    return settings.SESSION_MAX_HOURS * 3600


def _refresh_due(session: SessionBase) -> bool:
    return time.time() - session.get(REFRESHED_AT, 0) >= settings.SESSION_REFRESH_SECONDS


def extend_session(session: SessionBase) -> None:
    """Give the session a full idle period from now."""
    session[REFRESHED_AT] = time.time()  # marks the session modified: saved with a new expiry


def seconds_left(request: HttpRequest) -> int:
    """How long the signed-in session lasts, from the answer to this request, without another request:
    the whole idle period if the answer extends it (``SlidingSessionMiddleware``), else what is left of
    the one its last extension gave; never beyond SESSION_MAX_HOURS from signing in, so that the page
    warns of that end too."""
    session = request.session
    now = time.time()
    idle = settings.SESSION_COOKIE_AGE
    if not _refresh_due(session):
        idle = round(idle - (now - session[REFRESHED_AT]))
    return max(0, min(idle, round(_max_seconds() - (now - session.get(SIGNED_IN_AT, now)))))


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


def browser_key(request: HttpRequest) -> str:
    """The key of the browser the request came from: a new one, given with the answer, if it has none."""
    given = getattr(request, _BROWSER_KEY_GIVEN, None)
    if given:
        return given
    key = request.COOKIES.get(BROWSER_KEY_COOKIE, "")
    if given is None and BROWSER_KEY_SHAPE.fullmatch(key):
        return key
    return _give_browser_key(request)


def _give_browser_key(request: HttpRequest) -> str:
    key = secrets.token_urlsafe(32)
    setattr(request, _BROWSER_KEY_GIVEN, key)
    return key


class BrowserKeyMiddleware:
    """Give the browser the key its request was given (``browser_key``), or take it back. The cookie is
    the session cookie's kind: HttpOnly, Secure as it is, SameSite Lax, and gone when the browser closes
    (or after BROWSER_KEY_MAX_AGE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        given = getattr(request, _BROWSER_KEY_GIVEN, None)
        if given:
            response.set_cookie(
                BROWSER_KEY_COOKIE,
                given,
                max_age=None if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE else BROWSER_KEY_MAX_AGE,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        elif given == "" and BROWSER_KEY_COOKIE in request.COOKIES:
            response.delete_cookie(
                BROWSER_KEY_COOKIE, path=settings.SESSION_COOKIE_PATH, domain=settings.SESSION_COOKIE_DOMAIN
            )
        return response


@receiver(user_logged_in, dispatch_uid="browser_key_at_login")
def browser_key_at_login(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Each sign-in gives the browser a new key, as it does a new session key: a key someone set in the
    browser before is not the one its forms carry."""
    if request is not None:
        _give_browser_key(request)


@receiver(user_logged_out, dispatch_uid="browser_key_at_logout")
def browser_key_at_logout(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Signing out takes the key back: a form of theirs still open there keeps nothing once sent."""
    if request is not None:
        setattr(request, _BROWSER_KEY_GIVEN, "")


@receiver(user_logged_in, dispatch_uid="session_refreshed_at_login")
def session_refreshed_at_login(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Signing in saves the session with a full idle period, so it counts as a refresh; the session's
    maximum counts from it."""
    session = getattr(request, "session", None)
    if session is not None:
        extend_session(session)
        session[SIGNED_IN_AT] = time.time()
