"""The query parameters an API read takes: those its operation in the OpenAPI schema lists (SPEC §9).

Any other is a 400 that names it and lists the ones taken, rather than being dropped: a client that
looked a case up by a filter the list does not have (``?reference=``, ``?status=``) would otherwise get
the whole list back, looking just like a filtered one, and act on someone else's case. The schema is
the one list: what it documents is what a request may give, so the two cannot drift apart.

The refusal is a 400 for bad input, so it comes after the view's own 404 and 403 (SPEC §9's order): a
paged list refuses in ``HarbourPagination.paginate_queryset``, once its rows are scoped; a read that is
not paged calls ``refuse_unknown_query_parameters`` itself, once it has found what it shows.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from .serializers import as_typed


@functools.cache
def documented_query_parameters() -> dict[tuple[type[APIView], str], frozenset[str]]:
    """The query parameters of every operation of the schema, by view class and method. Built from the
    schema once per process, on the first read that asks."""
    # Imported here: the generator imports DRF's generic views, which import the default pagination,
    # which imports this module.
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    paths = generator.get_schema(request=None, public=True)["paths"]
    documented = {}
    # (path, path_regex, method, callback) of every route the schema was made from: four parts, where
    # DRF's endpoints (which the stubs give) have three. The schema gives the path coerced ({pk} is {id}).
    endpoints = cast("list[tuple[str, str, str, Any]]", generator.endpoints)
    for path, _, method, callback in endpoints:
        coerced = generator.coerce_path(path, method, generator.create_view(callback, method))
        operation = paths.get(coerced, {}).get(method.lower())
        if operation is not None:
            documented[(callback.cls, method)] = frozenset(
                parameter["name"]
                for parameter in operation.get("parameters", ())
                if parameter["in"] == "query"
            )
    return documented


def taken_in_words(names: Collection[str]) -> str:
    """ "cursor, page_size and state", or that there are none."""
    if not names:
        return "this address takes none"
    *others, last = sorted(names)
    return f"the parameters are {', '.join(others)} and {last}" if others else f"the only parameter is {last}"


def refuse_unknown_query_parameters(view: APIView, *, also: Collection[str] = ()) -> None:
    """A 400 naming each query parameter the view's operation does not document (nor ``also``, those
    read but not advertised, such as ``?page=1``), and listing those it does."""
    request = view.request
    method = "GET" if request.method == "HEAD" else request.method or ""
    try:
        documented = documented_query_parameters()[(type(view), method)]
    except KeyError:
        raise ImproperlyConfigured(f"{type(view).__name__} {method} is not in the API schema.") from None
    unknown = [name for name in request.query_params if name not in documented and name not in also]
    if unknown:
        taken = taken_in_words(documented)
        raise ValidationError(
            {
                as_typed(name): [f"“{as_typed(name)}” is not a query parameter here: {taken}."]
                for name in unknown
            }
        )
