"""Writing the audit trail. Rows are only ever added (on PostgreSQL a trigger refuses UPDATE and DELETE).

``changes`` holds the before and after of non-personal fields only (state, risk, route, reasons):
personal data never enters the audit trail, which is read more widely than the case itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Model
from django.http import HttpRequest

from .context import address_of, current_client_address
from .models import AuditAction, AuditEvent

if TYPE_CHECKING:
    from accounts.models import User
    from referrals.models import Referral, ReferralDraft, TransitionLog

# Transition inputs that describe the decision, not the person (a correction's ``fields`` are the names
# of the details corrected, never their values); free-text notes stay out.
NON_PERSONAL_INPUTS = frozenset(
    {
        "risk",
        "route",
        "reason",
        "outcome",
        "provider",
        "offer",
        "next_check_in",
        "recovery_review",
        "fields",
        "placement_due",
        "check_in_due",
    }
)


def client_address(request: HttpRequest | None) -> str | None:
    """The address of the request, or of the request being served when the caller has none."""
    if request is not None:
        return address_of(request)
    return current_client_address()


def record_read(
    *,
    actor: User,
    referral: Referral,
    what: str,
    request: HttpRequest | None = None,
    action: str = AuditAction.READ,
) -> AuditEvent:
    """A user saw a person's details (case page, API detail, history, export)."""
    return AuditEvent.objects.create(
        actor=actor, action=action, referral=referral, what=what, ip_address=client_address(request)
    )


def record_reads(
    *, actor: User, referrals: Iterable[Referral], what: str, request: HttpRequest | None = None
) -> list[AuditEvent]:
    """A user saw the details of several people at once (a page of the API list): one row each."""
    address = client_address(request)
    return AuditEvent.objects.bulk_create(
        [
            AuditEvent(actor=actor, action=AuditAction.READ, referral=referral, what=what, ip_address=address)
            for referral in referrals
        ]
    )


def draft_label(draft_id: int) -> str:
    """How the trail names a draft: by its number alone, since everything typed into it is personal."""
    return f"draft {draft_id}"


def record_draft_reads(
    *, actor: User, drafts: Iterable[ReferralDraft], what: str, request: HttpRequest | None = None
) -> list[AuditEvent]:
    """A user saw what was typed into their drafts (a person's details, not yet a referral): one row
    each, written in one insert, with no referral to point to."""
    address = client_address(request)
    return AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor,
                action=AuditAction.READ,
                what=f"{draft_label(draft.pk)}: {what}",
                ip_address=address,
            )
            for draft in drafts
        ]
    )


def record_export(
    *, actor: User, what: str, request: HttpRequest | None = None, changes: dict[str, Any] | None = None
) -> AuditEvent:
    """A user downloaded data (a report or a list); ``changes`` may hold the filters, never personal data."""
    return AuditEvent.objects.create(
        actor=actor,
        action=AuditAction.EXPORT,
        what=what,
        changes=changes or {},
        ip_address=client_address(request),
    )


def record_change(
    *,
    actor: User | None,
    referral: Referral | None,
    what: str,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    action: str = AuditAction.CHANGE,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        referral=referral,
        what=what,
        changes=changes or {},
        ip_address=client_address(request),
    )


def record_admin_change(
    *, actor: User, obj: Model, done: str, changes: dict[str, Any], request: HttpRequest
) -> AuditEvent:
    """A change made in the Django admin: ``done`` is added, changed, deleted or password changed.

    The row names the record by its kind, number and name (an organisation's, a user's username);
    ``changes`` must already leave out secret and personal values (see ``audit.admin``).
    """
    what = f"admin: {obj._meta.verbose_name} {obj.pk} ({obj}) {done}"
    return record_change(actor=actor, referral=None, what=what[:200], changes=changes, request=request)


def record_transition(log: TransitionLog, *, before: dict[str, Any] | None = None) -> AuditEvent:
    """The audit row of one transition, written in the transition's own transaction. ``before`` holds
    what inputs replaced (a changed assessment's risk and route), each recorded with its input."""
    referral = log.referral
    changes: dict[str, Any] = {"state": {"before": log.from_state, "after": log.to_state}}
    inputs = cast(dict[str, Any], log.input or {})
    before = before or {}
    for key, value in inputs.items():
        if key in NON_PERSONAL_INPUTS and value not in (None, ""):
            changes[key] = {"before": before[key], "after": value} if key in before else {"after": value}
    return record_change(
        actor=log.actor, referral=referral, what=f"transition: {log.transition}", changes=changes
    )


def record_authentication(
    *,
    action: str,
    user: User | None = None,
    username: str = "",
    request: HttpRequest | None = None,
    what: str = "",
) -> AuditEvent:
    """Login, logout, a failed login or a lockout. ``username`` is as recorded by
    ``accounts.authentication.username_as_recorded``: never what was typed when it names no user."""
    if user is not None and not username:
        username = user.get_username()
    path = getattr(request, "path", "") if request is not None else ""
    return AuditEvent.objects.create(
        actor=user,
        username=username[:150],
        action=action,
        what=what or (path[:200] if path else AuditAction(action).label),
        ip_address=client_address(request),
    )
