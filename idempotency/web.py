"""A web form sent twice does its work once: a double tap on a slow phone, or Back and send again.

Each rendering of a form carries a random ``form_key`` (``{% form_key %}``). The first POST of a key
claims it, as the API's ``Idempotency-Key`` does (``idempotency.services``), and keeps where it
redirected to; the same form sent again by the same user, with the same values, goes there too and
changes nothing, whether it arrives after the first finished or while it runs (it waits for it). A form
whose first sending did not redirect (its errors were shown) keeps nothing, so it can be corrected and
sent again; one sent again with other values is a new request.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .exceptions import IdempotencyKeyReused
from .services import StoredResponse, claim_key, release_key, request_fingerprint, settle_key

FORM_KEY_FIELD = "form_key"
ALREADY_SENT = "That form had already been sent, so sending it again changed nothing. This is where it went."

View = Callable[..., HttpResponse]


def new_form_key() -> str:
    return secrets.token_urlsafe(16)


def sent_once(view: View) -> View:
    """Do a form view's POST once per ``form_key`` and user; a repeat redirects where the first went."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form_key = request.POST.get(FORM_KEY_FIELD, "") if request.method == "POST" else ""
        if not form_key or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        values = urlencode(sorted((name, value) for name, values in request.POST.lists() for value in values))
        fingerprint = request_fingerprint(method="POST", path=request.path, body=values.encode())
        with transaction.atomic():
            try:
                claimed = claim_key(user=request.user, key=f"form:{form_key}", fingerprint=fingerprint)
            except IdempotencyKeyReused:
                claimed = None  # sent again with other values: a request of its own
            if isinstance(claimed, StoredResponse):
                messages.info(request, ALREADY_SENT)
                return redirect(claimed.body["location"])
            response = view(request, *args, **kwargs)
            if claimed is not None and not transaction.get_rollback():
                if 300 <= response.status_code < 400:
                    settle_key(claimed, status=response.status_code, body={"location": response["Location"]})
                else:
                    release_key(claimed)
        return response

    return wrapper
