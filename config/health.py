"""Whether this web process can serve: ``/healthz``, for the container's health check or a load balancer."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse


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


def _not_logged(response: HttpResponse) -> HttpResponse:
    # django.request logs every answer of 400 or more unless it is marked as logged already.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
