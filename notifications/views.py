"""Web pages: the in-app inbox (everyone) and undelivered notifications (managers)."""

from __future__ import annotations

import uuid
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Organisation, User
from referrals.exceptions import NotificationNotFailed, NotificationOutdated, NotPermitted
from referrals.selectors import referrals_visible_to
from referrals.views import paginate

from .models import Channel, Event, InboxItem, Notification
from .selectors import inbox_for, pending_count, undelivered_no_longer_current, undelivered_notifications
from .services import mark_all_read, mark_read, resend_all_failed, resend_failed


def signed_in_user(request: HttpRequest) -> User:
    """The user of a view behind ``login_required``."""
    return cast(User, request.user)


def _back_to_inbox(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("notifications:inbox")
    return HttpResponseRedirect(target)


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    page = paginate(request, inbox_for(user))
    # Link only the cases the user may still open (a rejected offer ends a provider's access).
    cases = {item.referral_id for item in page.object_list if item.referral_id}
    openable = (
        set(referrals_visible_to(user).filter(pk__in=cases).values_list("pk", flat=True)) if cases else set()
    )
    context = {
        "page": page,
        "items": page.object_list,
        "openable": openable,
        "delivery_failed": Event.DELIVERY_FAILED,
    }
    return render(request, "notifications/inbox.html", context)


@require_POST
@login_required
def inbox_item_read(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        mark_read(user=signed_in_user(request), item_id=item_id)
    except InboxItem.DoesNotExist:
        raise Http404("No such inbox item.") from None
    return _back_to_inbox(request)


@require_GET
@login_required
def inbox_item_open(request: HttpRequest, item_id: int) -> HttpResponse:
    """Follow an inbox item to its case, reading it on the way, as a mail client does; one telling of
    failed deliveries to the undelivered notifications to that organisation, with why and "Send all
    again"."""
    user = signed_in_user(request)
    try:
        item = mark_read(user=user, item_id=item_id)
    except InboxItem.DoesNotExist:
        raise Http404("No such inbox item.") from None
    if item.event == Event.DELIVERY_FAILED and user.is_manager:
        undelivered = reverse("notifications:undelivered")
        # An item written before failures were counted names no notification: then the whole list.
        if item.notification is not None:
            undelivered += f"?organisation={item.notification.organisation_id}"
        return HttpResponseRedirect(undelivered)
    if item.referral_id and referrals_visible_to(user).filter(pk=item.referral_id).exists():
        return HttpResponseRedirect(reverse("referrals:case", args=[item.referral_id]))
    return HttpResponseRedirect(reverse("notifications:inbox"))


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    mark_all_read(user=signed_in_user(request))
    return _back_to_inbox(request)


@require_POST
@login_required
def resend(request: HttpRequest, notification_id: uuid.UUID) -> HttpResponse:
    try:
        resend_failed(actor=signed_in_user(request), notification_id=str(notification_id))
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from None
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    except NotificationNotFailed as exc:
        # Sent again from another tab, by another manager or by a double press: nothing is left to do.
        messages.info(request, exc.message)
        return HttpResponseRedirect(reverse("notifications:undelivered"))
    except NotificationOutdated as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("notifications:undelivered"))
    messages.success(request, "Sent again. It is retried as before if the receiver still fails.")
    return HttpResponseRedirect(reverse("notifications:undelivered"))


@require_POST
@login_required
def resend_all(request: HttpRequest) -> HttpResponse:
    """Send again every failed notification to one organisation by one channel, but those no longer
    current."""
    organisation_id, channel = request.POST.get("organisation", ""), request.POST.get("channel", "")
    if not organisation_id.isdigit() or channel not in Channel.values:
        return HttpResponseBadRequest("Choose an organisation and a channel.")
    try:
        done = resend_all_failed(
            actor=signed_in_user(request), organisation_id=int(organisation_id), channel=channel
        )
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from None
    skipped = f" {done.outdated} skipped: no longer current." if done.outdated else ""
    if done.sent:
        messages.success(
            request,
            f"{done.sent} sent again. They are retried as before if the receiver still fails.{skipped}",
        )
    elif done.outdated:
        messages.info(request, f"None sent again.{skipped}")
    else:
        messages.info(request, "None of them had failed any more: they were already sent again.")
    return HttpResponseRedirect(reverse("notifications:undelivered"))


@require_GET
@login_required
def undelivered(request: HttpRequest) -> HttpResponse:
    """Undelivered notifications, to one organisation with ``?organisation=<id>`` (from an inbox item)."""
    if not signed_in_user(request).is_manager:
        raise PermissionDenied("Only managers can see undelivered notifications.")
    organisation_id = request.GET.get("organisation")
    organisation = None
    if organisation_id is not None:
        if not organisation_id.isdigit():
            return HttpResponseBadRequest("Choose an organisation by its number.")
        organisation = get_object_or_404(Organisation, pk=organisation_id)
    only = organisation.pk if organisation else None
    page = paginate(request, undelivered_notifications(organisation_id=only))
    context = {
        "page": page,
        "notifications": page.object_list,
        "organisation": organisation,
        "query": f"organisation={only}" if only else "",
        "stuck_minutes": settings.NOTIFICATION_STUCK_MINUTES,
        "no_longer_current": undelivered_no_longer_current(organisation_id=only),
        # An empty list does not mean everything was delivered: say how many are still on their way.
        "in_delivery": pending_count() if not page.object_list else None,
    }
    return render(request, "notifications/undelivered.html", context)
