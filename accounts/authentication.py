"""How users prove who they are: password login throttled by django-axes, and API tokens that expire."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from referrals.encryption import keyed_digest

from .models import ApiToken, User

# How a sign-in with a username that names no user is recorded. A space and "#" cannot be in a username.
UNKNOWN_USERNAME = "unknown #"


def username_as_recorded(typed: str) -> str:
    """The username a sign-in attempt is recorded under, in the audit trail and the lockout records.

    The username itself when it names a user, matched as the login matches it. Otherwise only a short
    keyed digest, since what was typed may be a password typed into the wrong box: the digest still
    tells repeated attempts on one name apart, and the lockout still counts them together.
    """
    if not typed:
        return typed
    try:
        return User._default_manager.get_by_natural_key(typed).get_username()
    except User.DoesNotExist:
        return UNKNOWN_USERNAME + keyed_digest("sign-in username", typed)[:8]


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: django-axes counts failures by, and stores, the username as recorded.
    The typed username is found where django-axes would look for it by default."""
    field = User.USERNAME_FIELD
    typed = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    return None if typed is None else username_as_recorded(str(typed))


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a login while its username and address are locked out (django-axes).

    A login without a request (the test client, a shell) cannot be throttled by address and is left to
    the next backend instead of being refused.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def token_digest(key: str) -> str:
    """What is kept of a token: its SHA-256, by which a token presented is found."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_expires_at(token: ApiToken) -> datetime.datetime:
    return token.created + datetime.timedelta(hours=settings.TOKEN_LIFETIME_HOURS)


def token_has_expired(token: ApiToken, *, now: datetime.datetime | None = None) -> bool:
    return (now or timezone.now()) >= token_expires_at(token)


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the only moment its ``key`` is known, to be shown to whoever signed in."""

    key: str
    api_token: ApiToken

    @property
    def expires_at(self) -> datetime.datetime:
        return token_expires_at(self.api_token)


def issue_token(user: Any, *, asked_at: datetime.datetime | None = None) -> IssuedToken:
    """A fresh token for the user, ending every token issued before it was asked for (``asked_at``, by
    default now), so that a user has one token and its lifetime starts now.

    Requests at the same moment queue on the user's row. Each gets a token of its own: one issued since
    another was asked for is left working, since that request's client has just been given it, and only
    its key, never kept, could be handed out again. The next request ends them all.

    Issuing a token is a sign-in to the API, so it is audited as a login (with the caller's address).
    """
    from audit.models import AuditAction
    from audit.services import record_authentication

    asked_at = asked_at or timezone.now()
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        User._default_manager.select_for_update().get(pk=user.pk)
        ApiToken.objects.filter(user=user, created__lte=asked_at).delete()
        api_token = ApiToken.objects.create(user=user, digest=token_digest(key))
        record_authentication(action=AuditAction.LOGIN, user=user, what="API token issued")
    return IssuedToken(key=key, api_token=api_token)


def revoke_tokens(user: Any, *, why: str) -> int:
    """End the user's API sign-in at once; audited as a logout when there was a token to revoke."""
    from audit.models import AuditAction
    from audit.services import record_authentication

    deleted, _ = ApiToken.objects.filter(user=user).delete()
    if deleted:
        record_authentication(action=AuditAction.LOGOUT, user=user, what=f"API token revoked: {why}")
    return deleted


def end_sign_ins(user: Any, *, why: str) -> None:
    """Sign the user out everywhere: every web session (a new ``session_stamp`` no longer matches the
    hash they were signed in with) and the API token. Audited as a logout."""
    from audit.models import AuditAction
    from audit.services import record_authentication

    with transaction.atomic():
        user.session_stamp = secrets.token_hex(16)
        user.save(update_fields=["session_stamp"])
        record_authentication(action=AuditAction.LOGOUT, user=user, what=f"all sessions ended: {why}")
        revoke_tokens(user, why=why)


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token …`` whose token is younger than TOKEN_LIFETIME_HOURS, found by its digest."""

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        try:
            token = ApiToken.objects.select_related("user").get(digest=token_digest(key))
        except ApiToken.DoesNotExist:
            raise AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        if token_has_expired(token):
            raise AuthenticationFailed("Token has expired; request a new one.", code="token_expired")
        return token.user, token
