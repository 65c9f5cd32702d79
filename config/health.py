"""Whether Harbour reaches its database: ``/healthz`` for a health checker, and a 503 rather than a 500
for the requests that meet an outage."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"

# What an unavailable answer tells a client to wait before trying again.
RETRY_AFTER_SECONDS = 30
UNAVAILABLE_MESSAGE = "Harbour cannot reach its database just now; try again shortly."
SERVER_ERROR_MESSAGE = "Harbour failed to answer this request. The error is logged for its maintainers."


class HealthCheckMiddleware:
    """Answers ``/healthz`` itself, first of all the middleware (``healthz``).

    Load balancers and Kubernetes probes ask for the address they reached, the target's IP, which no
    ALLOWED_HOSTS entry names; SecurityMiddleware and CommonMiddleware read the host before any view
    runs and would answer 400 with a logged traceback. Nothing here reads the host, the session or
    the user, and nothing in the answer depends on them, so it is safe to answer whatever Host was
    sent; for the same reason a checker asking over plain HTTP gets no HTTPS redirect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTHZ_PATH:
            return healthz(request)
        return self.get_response(request)


def healthz(request: HttpRequest) -> HttpResponse:
    """200 while the database answers ``SELECT 1``, 503 while it does not.

    Without authentication, since a health checker has none, and saying nothing about any case. Not
    logged either way: the checker asks every few seconds, and the check itself shows an outage.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return _not_logged(HttpResponse("database unavailable\n", status=503, content_type="text/plain"))
    return HttpResponse("ok\n", content_type="text/plain")


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler (``handler500``), as JSON under /api/, where a client reads the code of
    every error; except for a database that cannot be reached (refused or lost connections): 503 with
    Retry-After, as JSON under /api/ and a plain page elsewhere, since the client did nothing wrong
    and may simply try again; and for a race lost in the database (``lost_a_race``): 409.

    Django calls it while handling the error, wherever it was raised (a view, or the session read
    in middleware), so ``sys.exc_info`` holds it. Logged here, once a request, as one line naming the
    error's class only: the message of a database error can quote personal values.
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError) and lost_a_race(error):
        return conflict(request, error)
    if not isinstance(error, OperationalError | InterfaceError):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": SERVER_ERROR_MESSAGE, "code": "server_error"}, status=500)
        return defaults.server_error(request)
    # A middleware that reads the session again on the way out meets the outage a second time.
    if not getattr(request, "database_unavailable", False):
        request.database_unavailable = True  # type: ignore[attr-defined]
        logger.error(
            "Database unavailable; answered 503 to %s %s (%s)",
            request.method,
            request.path,
            type(error.__cause__ or error).__name__,
        )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": UNAVAILABLE_MESSAGE, "code": "unavailable"}, status=503
        )
    else:
        # Rendered without the request: the context processors would query the database.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return _not_logged(response)


def lost_a_race(error: OperationalError) -> bool:
    """A deadlock, a serialization failure or a lock not available: PostgreSQL aborted this request's
    transaction for another's sake. The database is there, and the request can simply be sent again."""
    from referrals.api.errors import CONFLICT_SQLSTATES  # the API answers the same errors 409 itself

    return getattr(error.__cause__, "sqlstate", None) in CONFLICT_SQLSTATES


def conflict(request: HttpRequest, error: OperationalError) -> HttpResponse:
    """A lost race met outside the API's own handler (a web page, above all): 409, as the API answers it,
    not the outage's 503, which would send the user away to wait for a database that is up."""
    from referrals.api.errors import CONFLICT_CODE, CONFLICT_MESSAGE

    # The class only: the message of a database error can quote personal values.
    logger.info(
        "A concurrent change won; answered 409 to %s %s (%s)",
        request.method,
        request.path,
        type(error.__cause__).__name__,
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": CONFLICT_MESSAGE, "code": CONFLICT_CODE}, status=409)
    else:
        # Rendered without the request, as the outage's page is: nothing on it depends on who asked.
        response = HttpResponse(loader.render_to_string("409.html"), status=409)
    return _not_logged(response)


def _not_logged(response: HttpResponse) -> HttpResponse:
    # django.request logs every answer of 400 or more unless it is marked as logged already.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
