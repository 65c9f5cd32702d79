"""Writing the audit trail. Rows are only ever added."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from .models import AuditAction, AuditEvent

if TYPE_CHECKING:
    from accounts.models import User
    from referrals.models import Referral


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_read(*, actor: User, referral: Referral, what: str, request: HttpRequest | None = None) -> None:
    """A user saw a person's details (case page, API detail, history, export)."""
    AuditEvent.objects.create(
        actor=actor, action=AuditAction.READ, referral=referral, what=what, ip_address=client_address(request)
    )


def record_change(
    *,
    actor: User | None,
    referral: Referral | None,
    what: str,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> None:
    AuditEvent.objects.create(
        actor=actor,
        action=AuditAction.CHANGE,
        referral=referral,
        what=what,
        changes=changes or {},
        ip_address=client_address(request),
    )
