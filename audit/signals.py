"""Authentication events in the audit trail: login, logout, failed login and lockout (SPEC §10)."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.authentication import username_as_recorded

from .models import AuditAction
from .services import record_authentication


def _http_request(request: Any) -> HttpRequest | None:
    """The Django request behind a DRF request, or the request itself."""
    return getattr(request, "_request", request)


@receiver(user_logged_in, dispatch_uid="audit_login")
def audit_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    record_authentication(action=AuditAction.LOGIN, user=user, request=_http_request(request))


@receiver(user_logged_out, dispatch_uid="audit_logout")
def audit_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is None:
        return
    record_authentication(action=AuditAction.LOGOUT, user=user, request=_http_request(request))


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: Any = None, **kwargs: Any
) -> None:
    typed = str((credentials or {}).get("username") or "")
    record_authentication(
        action=AuditAction.LOGIN_FAILED, username=username_as_recorded(typed), request=_http_request(request)
    )


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def audit_lockout(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    # django-axes names the username as recorded already (AXES_USERNAME_CALLABLE).
    record_authentication(
        action=AuditAction.LOCKOUT, username=str(username or ""), request=_http_request(request)
    )
