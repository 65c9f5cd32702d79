"""A web form sent twice does its work once: a double tap on a slow phone, or Back and send again.

Each rendering of a form carries a random ``form_key`` (``{% form_key %}``). The first POST of a key
claims it, as the API's ``Idempotency-Key`` does (``idempotency.services``), and, if the view says the
form did its work (``form_done``), keeps where it redirected to. The same form sent again by the same
user with the same key goes there too and changes nothing, whether it arrives after the first finished
or while it runs (it waits for it). A form whose first sending did nothing (its errors were shown, or a
colleague had acted first) keeps nothing, so it can be sent again.

Pages are not cached (``accounts.sessions``), so Back fetches the form again, and the browser puts back
what was typed but not the hidden fields. The key is therefore in the page's address too: a form's
page without one is sent to the same address with a new one (``?form=<key>``), and Back, fetching that
address, gets the form with the same key, still tied to what was sent with it (a draft, a referral). The
form posts to an address of its own (``?send=<key>``): a sending to the page's own address that fails
(the phone offline for a moment) would replace the page in the browser's history, and Back would go to
the page before it, losing the form. A form shown again with its errors keeps the key it was sent with,
so a failed sending from there, which does replace that page, goes Back to the form's page, same key.

A form opened again has a new key. On a form whose repeat would record the same thing twice (an
anonymous notification, a progress note: ``form_done(..., ask_before_repeating=True)``), the same values
sent by the same user within FORM_REPEAT_MINUTES of a sending that did its work are therefore asked
about first: they may be a second person with the same details, or the first one sent again.
"""

from __future__ import annotations

import datetime
import functools
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from referrals.unsent_forms import OWNER_FIELD

from .exceptions import IdempotencyKeyReused
from .services import (
    StoredResponse,
    claim_key,
    keys_claimed_before,
    recent_answer,
    release_key,
    request_fingerprint,
    settle_key,
)

if TYPE_CHECKING:
    from accounts.models import User

FORM_KEY_FIELD = "form_key"
# Where the key is in the address of a form's page, and in the address the form posts to.
FORM_PAGE_PARAMETER = "form"
SENDING_PARAMETER = "send"
# Sent from the page that asks whether the same values are meant to be sent again.
SEND_AGAIN_FIELD = "send_again"
# What differs between two renderings of one form, whatever was typed into it.
PER_RENDERING_FIELDS = frozenset({FORM_KEY_FIELD, SEND_AGAIN_FIELD, OWNER_FIELD, "csrfmiddlewaretoken"})
FORM_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,40}")
FORM_REPEAT_MINUTES = 10
ALREADY_SENT = "That form had already been sent, so sending it again changed nothing. This is where it went."

View = Callable[..., HttpResponse]


def new_form_key() -> str:
    return secrets.token_urlsafe(16)


def form_key_of(request: HttpRequest) -> str:
    """The POST's form key, if it is one of Harbour's making; empty otherwise."""
    form_key = request.POST.get(FORM_KEY_FIELD, "") if request.method == "POST" else ""
    return form_key if FORM_KEY_SHAPE.fullmatch(form_key) else ""


def shown_form_key(request: HttpRequest) -> str:
    """The key of a form a page shows: the key it was sent with, on a page that answers the sending (with
    its errors, say); the key in the page's address; or a new one (a page of several forms)."""
    form_key = form_key_of(request) or request.GET.get(FORM_PAGE_PARAMETER, "")
    return form_key if FORM_KEY_SHAPE.fullmatch(form_key) else new_form_key()


def sending_address(form_address: str, form_key: str) -> str:
    """Where the form with this key posts to: its address, marked as a sending."""
    return f"{form_address}?{urlencode({SENDING_PARAMETER: form_key})}"


def _page_key_still_the_forms(request: HttpRequest, user: User) -> bool:
    """Whether the key in a form page's address still stands for the form typed there: Back to it soon
    after a sending. A key sent more than FORM_REPEAT_MINUTES ago is an address opened again later (the
    browser's history offers it), a new form: with the old key, the same note sent again would be
    taken for the first one sent twice, and the draft saved from it would be the one typed into."""
    form_key = request.GET.get(FORM_PAGE_PARAMETER, "")
    if not FORM_KEY_SHAPE.fullmatch(form_key):
        return False
    since = timezone.now() - datetime.timedelta(minutes=FORM_REPEAT_MINUTES)
    return not keys_claimed_before(user=user, prefix=f"form:{form_key}", before=since)


def _page_with_a_key(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop(SENDING_PARAMETER, None)  # fetched after signing in again, the address a form was sent to
    query[FORM_PAGE_PARAMETER] = new_form_key()
    return f"{request.path}?{query.urlencode()}"


def form_done(response: HttpResponse, *, ask_before_repeating: bool = False) -> HttpResponse:
    """Mark a view's answer as the form having done its work: a repeat of the form goes where it goes.

    ``ask_before_repeating``: the same values sent again from a new rendering of the form, soon after,
    are asked about (see the module's docstring). Only for a form whose repeat would record the same
    thing twice: most forms change a case's state, and a repeat finds it changed, or is a new step of
    the case that happens to carry the same values (a second offer rejected for the same reason).
    """
    response.form_done = {"location": response["Location"], "ask": ask_before_repeating}  # type: ignore[attr-defined]
    return response


def sent_once(*, shown_at_times: frozenset[str] = frozenset()) -> Callable[[View], View]:
    """Do a form view's POST once per ``form_key`` and user; a repeat redirects where the first went. The
    form's page is sent to an address with a key of its own first (see the module's docstring).

    ``shown_at_times``: fields a form shows only at some moments (the recovery review's tick box, while
    the review is due). The form fetched again by Back a moment later may lack one, so the values are
    compared without them: the same note, sent again without the tick box, is still the same note.
    """
    return functools.partial(_sent_once, shown_at_times=shown_at_times)


def _sent_once(view: View, *, shown_at_times: frozenset[str]) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "GET" and not _page_key_still_the_forms(request, request.user):
            return redirect(_page_with_a_key(request))
        form_key = form_key_of(request)
        if not form_key:
            return view(request, *args, **kwargs)
        typed = sorted(
            (name, value)
            for name, values in request.POST.lists()
            if name not in PER_RENDERING_FIELDS
            for value in values
        )
        compared = [(name, value) for name, value in typed if name not in shown_at_times]
        fingerprint = request_fingerprint(method="POST", path=request.path, body=urlencode(compared).encode())
        earlier = None
        with transaction.atomic():
            try:
                claimed = claim_key(user=request.user, key=f"form:{form_key}", fingerprint=fingerprint)
            except IdempotencyKeyReused:
                # Sent again with other values (after Back, from a form whose browser kept its key): a
                # request of its own, itself sent once.
                key = f"form:{form_key}:{fingerprint[:16]}"
                claimed = claim_key(user=request.user, key=key, fingerprint=fingerprint)
            if isinstance(claimed, StoredResponse):
                messages.info(request, ALREADY_SENT)
                return redirect(claimed.body["location"])
            if not request.POST.get(SEND_AGAIN_FIELD):
                since = timezone.now() - datetime.timedelta(minutes=FORM_REPEAT_MINUTES)
                earlier = recent_answer(user=request.user, fingerprint=fingerprint, since=since)
            if earlier is None:
                response = view(request, *args, **kwargs)
                if not transaction.get_rollback():
                    done = getattr(response, "form_done", None)
                    if done is not None:
                        settle_key(claimed, status=response.status_code, body=done)
                    else:
                        release_key(claimed)
            else:
                transaction.set_rollback(True)  # the form is not sent: its key stays free
        if earlier is not None:
            return ask_before_sending_again(request, typed, earlier)
        return response

    return wrapper


def ask_before_sending_again(
    request: HttpRequest, typed: list[tuple[str, str]], earlier: tuple[datetime.datetime, str]
) -> HttpResponse:
    """The same values, sent a moment ago: say so, and send them again only if asked to."""
    sent_at, location = earlier
    context = {
        "typed": typed,
        "sent_at": timezone.localtime(sent_at),
        "location": location,
    }
    return render(request, "idempotency/send_again.html", context)
