"""The client address of the request being served, so services can audit it without a request argument.

Services are called from web views, API views and tasks alike and never receive the request.
``AuditContextMiddleware`` puts the client address into a context variable for the length of one
request; ``audit.services`` reads it when it writes a row. Outside a request (a task, a command) it is
empty and the row records no address.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_client_address: ContextVar[str | None] = ContextVar("audit_client_address", default=None)


def current_client_address() -> str | None:
    return _client_address.get()


def address_of(request: HttpRequest) -> str | None:
    """The client's address: the connection's, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost of our proxies saw (X-Forwarded-For entries further left are the client's to forge).

    The audit trail and the login lockout (AXES_CLIENT_IP_CALLABLE) both use it. A forwarded entry that
    is not an address (TRUSTED_PROXY_COUNT set with no proxy in front) counts for nothing.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            hop = hops[-min(proxies, len(hops))]
            with contextlib.suppress(ValueError):
                return str(ipaddress.ip_address(hop))
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_address.set(address_of(request))
        try:
            return self.get_response(request)
        finally:
            _client_address.reset(token)
