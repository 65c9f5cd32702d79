"""The one place where errors become HTTP answers (SPEC §9), and their shapes in the schema.

Order of checks, as the views apply them: 401 unauthenticated, 404 outside the user's scope (the same
answer as for an id that does not exist), 403 a role that may see but not act, 409 a state that does
not allow the action or a lost race, 400 bad input. An unusable Idempotency-Key (a 400, or a 409 for a
key sent before with another request) is refused after the view's own 404, 403 and 409 of the case's
state (see ``IdempotentPostMixin``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, NotFound, ParseError, ValidationError
from rest_framework.fields import get_error_detail
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.utils import json
from rest_framework.views import exception_handler

from referrals.exceptions import HarbourError

logger = logging.getLogger(__name__)

# PostgreSQL: serialization failure, deadlock, lock not available. The loser of a race hears 409.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
CONFLICT_CODE = "conflict"
CONFLICT_MESSAGE = "Another request changed the same thing at the same moment. Try again."
# A view that changes a case sets ``conflict_message`` to this; other views have nothing to reload.
CASE_CONFLICT_MESSAGE = "Someone else changed this case at the same moment. Reload it and try again."


class HarbourJSONParser(JSONParser):
    """DRF's JSON parser, reading every body as UTF-8, byte order mark or not, whatever charset its
    Content-Type names: JSON is UTF-8 (RFC 8259), and a client's label saying otherwise is a mistake
    that would garble every accented name. A body that is not UTF-8, or nested too deep for Python, is a
    400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            text = stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not UTF-8, as JSON must be.") from None
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def error_code(exc: HarbourError) -> str:
    if exc.code is not None:
        return exc.code
    name = type(exc).__name__
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")


def is_race_lost(exc: Exception) -> bool:
    """A transaction-level conflict: a constraint another request won, a deadlock, a lock timeout."""
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, OperationalError):
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        return sqlstate in CONFLICT_SQLSTATES or "database is locked" in str(exc)
    return False


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the domain errors, missing objects and lost races."""
    if isinstance(exc, HarbourError):
        if exc.status_code == 400 and exc.field:
            return Response({exc.field: [exc.api_message]}, status=400)
        return Response({"detail": exc.api_message, "code": error_code(exc)}, status=exc.status_code)
    if isinstance(exc, ObjectDoesNotExist):
        exc = NotFound()
    elif isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=get_error_detail(exc))
    elif is_race_lost(exc):
        # The class only: the message of a database error can quote personal values.
        logger.info("A concurrent change won; answered 409 (%s)", type(exc).__name__)
        message = getattr(context.get("view"), "conflict_message", CONFLICT_MESSAGE)
        return Response({"detail": message, "code": CONFLICT_CODE}, status=409)
    response = exception_handler(exc, context)
    # DRF's own errors (not signed in, throttled, a body that is not JSON…) say what went wrong in words
    # only; their code goes next to the words, as for the errors above. Field errors are left as they are.
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        if isinstance(detail, ErrorDetail):
            response.data["code"] = detail.code
    return response


# --------------------------------------------------------------------------------- schema of errors

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(help_text="What went wrong, in words a user can act on."),
        "code": serializers.CharField(
            help_text="A stable code, e.g. transition_not_allowed, not_authenticated, token_expired."
        ),
    },
)

FieldErrorsSchema = {
    "type": "object",
    "description": (
        "Field errors: each invalid field (or query parameter, Idempotency-Key, or non_field_errors) with a "
        "list of messages; or detail and code: parse_error for a body that is not valid JSON, "
        "nothing_to_correct for a correction that changes none of the case's details, assessment_unchanged "
        "for a change of assessment to the risk and route the case already has."
    ),
    "additionalProperties": {},
}

_DESCRIPTIONS = {
    400: "Bad input: field errors that say what to fix.",
    401: "Not authenticated: send Authorization: Token <token>.",
    403: "Your role may see this but not do this.",
    404: "Not found, or outside what you may see (the two are indistinguishable).",
    409: "The case's state does not allow this, someone else acted first, or the Idempotency-Key was "
    "used for a different request.",
    415: "The body must be application/json.",
    429: "Too many requests; slow down.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers an operation can give."""
    responses = {}
    for code in codes:
        body: Any = FieldErrorsSchema if code == 400 else ErrorSerializer
        responses[code] = OpenApiResponse(response=body, description=_DESCRIPTIONS[code])
    return responses


# A read of one case: 400 for a query parameter it does not take (``query_parameters``).
READ_ERRORS = (400, 401, 404, 429)
WRITE_ERRORS = (400, 401, 403, 404, 409, 415, 429)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refuses before any view: JSON under /api/, and 413 for a body over the size
    limit, which a client sends again only made smaller."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        detail = (
            f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes accepted."
        )
        return JsonResponse({"detail": detail, "code": "request_too_large"}, status=413)
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL that matches nothing: JSON under /api/ (the schema's 404), the house page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
