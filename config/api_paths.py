"""API addresses answer the same with or without their trailing slash (SPEC §9)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path

API_PREFIX = "/api/"


class OptionalTrailingSlashMiddleware:
    """Serves ``/api/v1/referrals`` as ``/api/v1/referrals/`` itself, not through a redirect.

    Django's APPEND_SLASH answers an address without its slash with a 301, which HTTP clients (requests,
    curl -L, fetch) follow as a GET: a POST came back 200 with the list and nothing was submitted (with
    DEBUG on, a 500). Under /api/ the address without the slash is taken for the route with it; the web
    pages keep APPEND_SLASH. The routes themselves keep one address each, so the schema lists each path
    once and ``reverse()`` gives the address with its slash. Comes before CommonMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith(API_PREFIX)
            and not path.endswith("/")
            and is_valid_path(f"{path}/", getattr(request, "urlconf", None))
        ):
            request.path_info = f"{path}/"
            request.path = f"{request.path}/"
        return self.get_response(request)
