"""Managers' pages of the audit trail: one case's trail, and the whole trail filtered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from referrals.models import Referral
from referrals.selectors import get_visible_referral

from .forms import AuditFilterForm
from .permissions import may_read_audit_trail
from .selectors import audit_events, audit_events_page, audit_trail_for
from .wording import trail_rows

if TYPE_CHECKING:
    from accounts.models import User

PAGE_SIZE = 100


@require_GET
@login_required
def referral_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Who saw and changed this case. 404 outside the user's scope, 403 for a role that may not read it."""
    try:
        referral = get_visible_referral(cast("User", request.user), pk)
    except Referral.DoesNotExist as exc:
        raise Http404("No such referral.") from exc
    if not may_read_audit_trail(request.user):
        raise PermissionDenied("Only managers can read the audit trail.")
    page = Paginator(audit_trail_for(referral), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"referral": referral, "page": page, "rows": trail_rows(page.object_list)}
    return render(request, "audit/referral_audit.html", context)


@require_GET
@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """The whole trail, filtered by user, action, date range and case reference."""
    if not may_read_audit_trail(request.user):
        raise PermissionDenied("Only managers can read the audit trail.")
    form = AuditFilterForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "events": [], "rows": [], "older": None, "newest": False}
    if form.is_bound and not form.is_valid():
        # Events listed under a filter with an error would be events it does not describe.
        return render(request, "audit/audit_log.html", context, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    events = audit_events(**{key: value for key, value in filters.items() if value and key != "before"})
    rows, older = audit_events_page(events, before=filters.get("before"), size=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("before", None)
    context |= {
        "events": rows,
        "rows": trail_rows(rows),
        "older": older,
        "newest": "before" in request.GET,
        "query": query.urlencode(),
    }
    return render(request, "audit/audit_log.html", context)
