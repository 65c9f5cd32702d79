"""The Idempotency-Key header on DRF views: every POST of the API honours it (SPEC §9)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from referrals.api.errors import CONFLICT_CODE
from referrals.exceptions import HarbourError

from .exceptions import IdempotencyKeyInvalid, IdempotencyKeyReused
from .models import IdempotencyRecord
from .services import KEY_MAX_LENGTH, StoredResponse, claim_key, release_key, request_fingerprint, settle_key

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Refusals given once the view began its work: a role that may not act, a case out of sight, a state or
# an offer that does not allow it. A lost race, also a 409, is told apart by its code.
STANDING_REFUSALS = (403, 404, 409)

# What every POST of the API documents: the header a client may send, and the one a repeat is answered with.
IDEMPOTENCY_PARAMETERS = [
    OpenApiParameter(
        HEADER,
        str,
        OpenApiParameter.HEADER,
        required=False,
        description=(
            f"Any unique string of 1-{KEY_MAX_LENGTH} printable characters: no tab, line break or other "
            'control character. Spaces around it are trimmed, so "k" and "  k  " are the same key, and a '
            "key of spaces only is refused. A repeat with the same key returns the first answer, a "
            "refusal (403, 404, 409) too, and changes nothing; the same key with a different request (fields "
            "the operation ignores aside) is a 409. That 409, and the 400 for a key that breaks these rules "
            '({"Idempotency-Key": [message]}), come only after the operation\'s own 401, 404 and 403 (and a '
            "409 for the case's state): a case you may not see is the same 404 with or without a key. A "
            "400, a 409 with code conflict, a 429 or a 5xx is not kept: the key may be sent again."
        ),
    ),
    OpenApiParameter(
        REPLAYED_HEADER,
        str,
        OpenApiParameter.HEADER,
        response=[200, 201, *STANDING_REFUSALS],
        enum=["true"],
        description=(
            "true when this answer is the first answer to an earlier request with the same Idempotency-Key, "
            "replayed: nothing was done this time. Absent otherwise."
        ),
    ),
]


def fields_read_by(serializer_class: type[Serializer[Any]]) -> frozenset[str]:
    """The keys of a body a serializer takes: its writable fields."""
    return frozenset(name for name, field in serializer_class().fields.items() if not field.read_only)


class _Replay(Exception):  # noqa: N818 - control flow, never leaves the view
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


def answer_stands(status: int, body: Any) -> bool:
    """Whether a repeat with the same key gets this answer again, as Stripe's keys do. A refusal stands
    too: a repeat after the case moved on (the person missing again, the offer made again) must not do
    what the first request was refused. The key is let go after an answer that asks for the request to
    be sent again: bad input to correct, a lost race, too many requests, a failure."""
    if status in STANDING_REFUSALS:
        return not (isinstance(body, dict) and body.get("code") == CONFLICT_CODE)
    return status < 400


class IdempotentPostMixin(APIView):
    """Replays the first answer to a POST repeated with the same key by the same user (see
    ``answer_stands``).

    Requests without the header take the ordinary path, untouched. With it, the view's work and the
    stored answer share one transaction (see ``idempotency.services``). By default the key is claimed
    once the user is authenticated; a view whose user is known only later (the token view) calls
    ``claim_idempotency_key`` itself.

    A key claimed that way and found unusable (malformed, or used for a different request) is refused
    only when the view calls ``refuse_unusable_idempotency_key``, once it has found what the request is
    about and checked the role, and before it does any work: a case out of sight is then the same 404
    with or without a key, and a role that may not act hears its 403 first (SPEC §9's order).
    """

    claims_key_after_authentication = True
    _idempotency_record: IdempotencyRecord | None = None
    _idempotency_fingerprint = ""
    _idempotency_refusal: HarbourError | None = None

    def _wants_idempotency(self, request: HttpRequest | Request) -> bool:
        return request.method == "POST" and HEADER in request.headers

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not self._wants_idempotency(request):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            record = self._idempotency_record
            if record is not None and not transaction.get_rollback():
                body = getattr(response, "data", None)
                if body is not None:
                    # Store what the client received: dates as strings, exactly as rendered.
                    body = json.loads(JSONRenderer().render(body))
                if answer_stands(response.status_code, body):
                    settle_key(
                        record,
                        status=response.status_code,
                        body=self.kept_body(body) if response.status_code < 400 else body,
                        referral_id=self.referral_shown_by(response),
                    )
                else:
                    release_key(record)
        return response

    def body_fields(self) -> Collection[str] | None:
        """The top-level keys of the body the view reads, which tell one request from another: a repeat
        that differs only in others, ignored as everywhere in the API (SPEC §9), is the same request.
        None by default: every key."""
        return None

    def referral_shown_by(self, response: Any) -> int | None:
        """The case a successful answer shows, kept with it; see ``replayed_body``. None by default."""
        return None

    def kept_body(self, body: Any) -> Any:
        """What is stored of a successful answer: all of it, unless a view says otherwise (a secret shown
        once is not kept to be shown again)."""
        return body

    def replayed_body(self, request: Request, stored: StoredResponse) -> Any:
        """The body a repeat is answered with: the first answer's, unless a view says otherwise."""
        return stored.body

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self._wants_idempotency(request):
            return
        # Read the raw body once the user is authenticated (a request without a token hears so first,
        # whatever its body) and before the parsers consume the stream.
        self._idempotency_fingerprint = request_fingerprint(
            method=request.method or "", path=request.path, body=request.body, fields=self.body_fields()
        )
        if self.claims_key_after_authentication and request.user.is_authenticated:
            # Claimed now, so that a repeat is answered as the first request was even once the case has
            # moved on or out of sight; a refusal of the key waits for the view's own refusals.
            try:
                self.claim_idempotency_key(request, request.user)
            except (IdempotencyKeyInvalid, IdempotencyKeyReused) as refusal:
                self._idempotency_refusal = refusal

    def refuse_unusable_idempotency_key(self) -> None:
        """Refuse a key found unusable when claimed (400 malformed, 409 used for a different request or
        still in progress). The POST handler calls it after its own 404 and 403, before its work."""
        if self._idempotency_refusal is not None:
            raise self._idempotency_refusal

    def claim_idempotency_key(self, request: Request, user: Any) -> None:
        """Claim the request's key for ``user``; a repeat ends the request with the first answer."""
        if not self._wants_idempotency(request):
            return
        claimed = claim_key(user=user, key=request.headers[HEADER], fingerprint=self._idempotency_fingerprint)
        if isinstance(claimed, StoredResponse):
            raise _Replay(claimed.status, self.replayed_body(request, claimed))
        self._idempotency_record = claimed

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            return Response(exc.body, status=exc.status, headers={REPLAYED_HEADER: "true"})
        return super().handle_exception(exc)
