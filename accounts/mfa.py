"""The second factor (TOTP) for managers and admins (SPEC §10).

When REQUIRE_MFA is on, a manager, staff user or superuser who signed in with a password must also
present a code from an authenticator app before any page is served: without a confirmed device they are
sent to set one up, with one to enter a code. The API token endpoint asks the same people for an
``otp`` code. The session records the verification (django-otp), so it ends with the session.
Removing a confirmed device ends every session and the API token of its user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse
from django_otp import user_has_device

from .authentication import end_sign_ins
from .models import AuthenticatorApp

AUTHENTICATOR_APP_NAME = "Authenticator app"
# Each set-up session is shown a key of its own: one shown to whoever else signed in with the password
# must never be the key that the owner confirms.
PENDING_DEVICE_SESSION_KEY = "_harbour_pending_device_id"
# A user's devices being set up at once, one per session: enough for the owner's phone and laptop, and a
# bound on rows made by whoever holds the password. The oldest beyond it go (its page asks for a new key).
PENDING_DEVICES_KEPT = 5


class DeviceTaken(Exception):  # noqa: N818 - a state of the set-up, not an error to report
    """The device being confirmed is gone: another session set one up first, or a reset removed it."""


def second_factor_required_for(user: Any) -> bool:
    if not settings.REQUIRE_MFA or not getattr(user, "is_authenticated", False):
        return False
    return bool(getattr(user, "is_manager", False) or user.is_staff or user.is_superuser)


def has_confirmed_device(user: Any) -> bool:
    return user_has_device(user, confirmed=True)


def confirmed_device(user: Any) -> AuthenticatorApp | None:
    return AuthenticatorApp.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device(request: HttpRequest) -> AuthenticatorApp:
    """The unconfirmed device this session is setting up, created on its first visit to the set-up page."""
    device_id = request.session.get(PENDING_DEVICE_SESSION_KEY)
    device = (
        None
        if device_id is None
        else AuthenticatorApp.objects.filter(pk=device_id, user=request.user, confirmed=False).first()
    )
    if device is None:
        device = AuthenticatorApp.objects.create(
            user=request.user, name=AUTHENTICATOR_APP_NAME, confirmed=False
        )
        request.session[PENDING_DEVICE_SESSION_KEY] = device.pk
        pending = AuthenticatorApp.objects.filter(user=request.user, confirmed=False).order_by(
            "-created_at", "-pk"
        )
        AuthenticatorApp.objects.filter(
            pk__in=list(pending.values_list("pk", flat=True)[PENDING_DEVICES_KEPT:])
        ).delete()
    return device


def confirm_device(device: AuthenticatorApp, code: str) -> bool:
    """Make a pending device the user's second factor if the code is right; False if it is not.

    ``DeviceTaken`` if another session confirmed one first or the device was removed. The code is
    checked with the device's row locked: django-otp saves the device as it checks, which would put
    back a row removed meanwhile. The user's other pending devices go: their keys were shown to other
    sessions, not necessarily the owner's, and must not become a second factor later.
    """
    with transaction.atomic():
        # One confirmation at a time per user, so that two set-up sessions cannot both end with a device.
        get_user_model().objects.select_for_update().filter(pk=device.user_id).first()
        locked = (
            AuthenticatorApp.objects.select_for_update()
            .filter(pk=device.pk, user_id=device.user_id, confirmed=False)
            .first()
        )
        if locked is None or has_confirmed_device(device.user):
            raise DeviceTaken
        if not verify_code(locked, code):
            return False
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        AuthenticatorApp.objects.filter(user_id=device.user_id, confirmed=False).delete()
    device.confirmed = True
    return True


@receiver(post_delete, sender=AuthenticatorApp, dispatch_uid="second_factor_removed")
def second_factor_removed(sender: Any, instance: AuthenticatorApp, origin: Any = None, **kwargs: Any) -> None:
    """Whichever path removes a confirmed device (``reset_second_factor``, the admin, a shell), its user
    is signed out everywhere: a session or token that a lost phone let in must not outlive it, nor set
    up an authenticator of its own without the password."""
    if not instance.confirmed:
        return
    user_model = get_user_model()
    if isinstance(origin, user_model) or getattr(origin, "model", None) is user_model:
        return  # the user is being deleted, and their sessions and token end with them
    end_sign_ins(instance.user, why="second factor removed")


def verify_code(device: AuthenticatorApp, code: str) -> bool:
    """Check a code against a device; the device throttles repeated failures itself. The row is locked
    while it is checked, so that one code posted twice at once lets in only one of the two."""
    code = "".join(str(code or "").split())
    if not code.isdigit() or not 6 <= len(code) <= 8:
        return False
    with transaction.atomic():
        locked = AuthenticatorApp.objects.select_for_update().get(pk=device.pk)
        return locked.verify_token(code)


def verify_sign_in_code(device: AuthenticatorApp, code: str) -> bool:
    """``verify_code`` for signing in, on the web or at the token endpoint: a refused code there is a
    failed sign-in in the audit trail, since it means someone holds the password. (A typo while
    setting a device up is not.)"""
    from audit.models import AuditAction
    from audit.services import record_authentication

    if verify_code(device, code):
        return True
    record_authentication(action=AuditAction.LOGIN_FAILED, user=device.user, what="second factor refused")
    return False


def token_login_second_factor_error(user: Any, code: str | None) -> str | None:
    """Why the API token endpoint must refuse this user, or None when no (further) factor is needed."""
    if not second_factor_required_for(user):
        return None
    device = confirmed_device(user)
    if device is None:
        return "A second factor is required: set up an authenticator app by signing in on the web first."
    if not code:
        return "A second factor is required: send the 6-digit code from your authenticator app as otp."
    if not verify_sign_in_code(device, code):
        return "The code from the authenticator app is not valid."
    return None


def _path_of(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


class RequireSecondFactorMiddleware:
    """Sends a password-only manager or admin session to set-up or verification, and nowhere else."""

    # The token endpoint asks for the code itself.
    EXEMPT_URL_NAMES = ("mfa-setup", "mfa-verify", "login", "logout", "api-token")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and second_factor_required_for(user) and not user.is_verified():
            refusal = self._refusal(request, user)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest, user: Any) -> HttpResponse | None:
        path = request.path
        if path.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/static/"):
            return None
        if any(path == _path_of(name) for name in self.EXEMPT_URL_NAMES):
            return None
        if path.startswith("/api/"):
            return JsonResponse(
                {"detail": "A second factor is required: verify your session on the web first."}, status=403
            )
        target = "mfa-verify" if has_confirmed_device(user) else "mfa-setup"
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
