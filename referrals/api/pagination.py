"""Keyset (cursor) pagination of every API list (SPEC §9).

A page is the rows after (or before) the last (or first) row of the page the client saw, in the list's
own order, not the rows at an offset: a case that leaves the list meanwhile (a manager assessed it) or
joins it ahead of the client's place shifts no other row, so no row that stays on the list and keeps its
place in the order is skipped or repeated. The order is the list's own, with the primary key added as
the tie-breaker, so that every row has a place of its own. A row whose key changes while the list is
walked moves: the overdue report orders by how long a case has been overdue, which a check-in or an
earlier last-seen time changes, so there a case can come twice or be passed over.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, Model, OrderBy, Q, QuerySet
from django.db.models.expressions import Col, Combinable
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from .query_parameters import refuse_unknown_query_parameters

# Signed, so that only the positions Harbour wrote reach a query. Signed, not encrypted: a position is
# the times, names of providers and ids a list orders by, which its page showed; no list pages by a
# personal field, so none is in an address.
CURSOR_SALT = "harbour.api.cursor"
INVALID_CURSOR = "This cursor is not one this list gave: follow the next and previous links as they are."
PAGE_REFUSED = "Lists are paged with the cursor of their next and previous links, not by page number."
# A client written for page numbers asks for the first page as page 1 and may keep that in its requests:
# that is the first page, and the next links lead on. Any other number is refused, not answered with the
# first page, which such a client would ask for again and again.
FIRST_PAGE = "1"
MAX_PAGE_SIZE = 200
PAGE_SIZE_REFUSED = f"Give page_size as a whole number from 1 to {MAX_PAGE_SIZE}."


@dataclass(frozen=True)
class SortKey:
    """One term of a list's order. NULLs sort as PostgreSQL puts them unless the list says otherwise:
    last going up, first going down."""

    name: str
    descending: bool
    nulls_last: bool
    # False for a column that cannot hold NULL: its bounds need no NULL case, which would keep an index
    # from starting a range scan at them.
    nullable: bool

    @classmethod
    def of(cls, term: str | Combinable, rows: QuerySet[Any]) -> SortKey:
        if isinstance(term, str):
            descending = term.startswith("-")
            name = term.removeprefix("-")
            return cls(name, descending, nulls_last=not descending, nullable=_may_be_null(rows, name))
        ordered = term.asc() if isinstance(term, F) else term
        if isinstance(ordered, OrderBy) and isinstance(ordered.expression, F):
            name = _name_of(ordered.expression)
            nulls_last = bool(ordered.nulls_last) or (not ordered.nulls_first and not ordered.descending)
            return cls(name, ordered.descending, nulls_last, nullable=_may_be_null(rows, name))
        raise ImproperlyConfigured(f"A paginated list orders by named fields only, not by {term!r}.")

    def reversed(self) -> SortKey:
        return SortKey(self.name, not self.descending, not self.nulls_last, self.nullable)

    def ordering(self) -> OrderBy:
        # Always explicit, so that every database orders as ``after`` assumes: SQLite puts NULLs first
        # going up, PostgreSQL last. Where it is PostgreSQL's own placement, the list's indexes still serve.
        placement = {"nulls_last": True} if self.nulls_last else {"nulls_first": True}
        return OrderBy(F(self.name), descending=self.descending, **placement)

    def equal(self, value: Any) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})

    def after(self, value: Any) -> Q:
        """The rows this term alone puts after ``value``."""
        if value is None:
            # NULLs last: nothing comes after one (an empty IN matches no row).
            return Q(pk__in=[]) if self.nulls_last else Q(**{f"{self.name}__isnull": False})
        return self._with_nulls_after(Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value}))

    def reached(self, value: Any) -> Q:
        """The rows this term alone puts level with ``value`` or after it, as the one comparison an index
        on the term can start a range scan from (PostgreSQL reads ``a < v OR a = v`` from the start of
        the index and filters every row before the page)."""
        if value is None:
            return self.equal(None) if self.nulls_last else Q()
        return self._with_nulls_after(Q(**{f"{self.name}__{'lte' if self.descending else 'gte'}": value}))

    def _with_nulls_after(self, condition: Q) -> Q:
        return condition | self.equal(None) if self.nulls_last and self.nullable else condition


def _may_be_null(rows: QuerySet[Any], name: str) -> bool:
    """Whether ``name`` can be NULL in ``rows``. Only a column of the list's own table says so for sure:
    an aggregate's field is its column's, yet over no row it is NULL (the overdue report's ``since_*``)."""
    term = _resolved(rows, name)
    return not (isinstance(term, Col) and term.target.model is rows.model) or term.target.null


def _name_of(expression: F) -> str:
    return expression.name  # type: ignore[attr-defined]  # django-stubs do not declare F.name


def _keys_of(rows: QuerySet[Any]) -> list[SortKey]:
    query = rows.query
    terms = query.order_by or (query.get_meta().ordering or () if query.default_ordering else ())
    keys = [SortKey.of(term, rows) for term in terms]
    if query.values_select:
        # Rows of values (grouped, as the overdue report's): adding the primary key would split the
        # groups, so their own order must already end in a key unique among them.
        if not keys:
            raise ImproperlyConfigured("A paginated list of values must have an order.")
        return keys
    if not any(key.name in ("pk", query.get_meta().pk.attname) for key in keys):
        keys.append(SortKey("pk", keys[-1].descending if keys else False, nulls_last=True, nullable=False))
    return keys


def _resolved(rows: QuerySet[Any], name: str) -> Any:
    return F(name).resolve_expression(rows.query.chain())


def _field_of(rows: QuerySet[Any], name: str) -> Field[Any, Any]:
    return _resolved(rows, name).output_field


def _written(value: Any) -> Any:
    """A position value as JSON holds it, to the microsecond (Django's own encoder stops at the
    millisecond, which would put two rows a few microseconds apart at one place)."""
    return value.isoformat() if isinstance(value, datetime.date) else value


def _position_of(row: Model | dict[str, Any], keys: list[SortKey]) -> list[Any]:
    return [_written(row[key.name] if isinstance(row, dict) else getattr(row, key.name)) for key in keys]


@dataclass(frozen=True)
class PageStart:
    """Where a page starts: after ``position`` (before it, going back). Going back from no position is
    the last page."""

    position: list[Any] | None
    back: bool


class HarbourPagination(CursorPagination):
    """``{count, next, previous, results}``: ``count`` the whole filtered list, ``next`` and ``previous``
    links with an opaque ``cursor`` and the request's filters; ``?page_size=`` up to 200. A cursor this
    list did not give is a 400 on ``cursor``, and so is a ``page_size`` that is not a whole number from 1;
    ``?page=`` other than 1 is a 400 that says to follow the links, and a query parameter the list's
    operation does not document a 400 that names it."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = (
        f"Rows per page: a whole number, 50 unless given, at most {MAX_PAGE_SIZE} (a larger number gives "
        f"{MAX_PAGE_SIZE}). 0, a negative number, a fraction or an empty value is a 400."
    )
    cursor_query_description = "Where the page starts: the cursor of a next or previous link, as given."
    page_query_param = "page"

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        if not isinstance(queryset, QuerySet):
            raise ImproperlyConfigured("HarbourPagination pages querysets only.")
        if view is None:
            raise ImproperlyConfigured("HarbourPagination checks the query against its view's operation.")
        # ?page= is read, to take page 1 and refuse any other, but not advertised.
        refuse_unknown_query_parameters(view, also=[self.page_query_param])
        if request.query_params.get(self.page_query_param, FIRST_PAGE) != FIRST_PAGE:
            raise ValidationError({self.page_query_param: [PAGE_REFUSED]})
        self.request, self.address = request, request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        self.keys = _keys_of(queryset)
        self.start = self._read_cursor(request, queryset)
        self.count = queryset.count()
        keys = [key.reversed() for key in self.keys] if self.start.back else self.keys
        rows = queryset.order_by(*(key.ordering() for key in keys))
        if self.start.position is not None:
            rows = rows.filter(self._after(keys, self.start.position))
        # One more than a page says whether there is another beyond it.
        page = list(rows[: self.page_size + 1])
        further = len(page) > self.page_size
        page = page[: self.page_size]
        if self.start.back:
            page.reverse()
        # A page reached from a position has rows beyond it the other way, if the list has any at all.
        came_from_elsewhere = self.start.position is not None and self.count > 0
        self.has_next = came_from_elsewhere if self.start.back else further
        self.has_previous = further if self.start.back else came_from_elsewhere
        self.page = page
        return page

    def get_page_size(self, request: Request) -> int:
        """The ``page_size`` asked for, a larger number than the maximum taken as the maximum; anything
        but a whole number from 1 is a 400, not the default in its place, which would leave the client
        paging by a size it did not ask for."""
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        digits = given.lstrip("0")
        if not re.fullmatch(r"[0-9]+", given) or not digits:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_REFUSED]})
        # Compared by length first: Python will not read an integer of thousands of digits.
        if len(digits) > len(str(self.max_page_size)):
            return self.max_page_size
        return min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters

    @staticmethod
    def _after(keys: list[SortKey], position: list[Any]) -> Q:
        """Rows after ``position`` in the order of ``keys``: past it on the first term, or level with it
        on the first terms and past it on the next."""
        after, level = Q(pk__in=[]), Q()
        for key, value in zip(keys, position, strict=True):
            after |= level & key.after(value)
            level &= key.equal(value)
        # Level with or past it on the first term too: a bound an index on that term can start from.
        return keys[0].reached(position[0]) & after

    def _read_cursor(self, request: Request, rows: QuerySet[Any]) -> PageStart:
        written = request.query_params.get(self.cursor_query_param)
        if written is None:
            return PageStart(position=None, back=False)
        try:
            signed = signing.loads(written, salt=CURSOR_SALT)
            position, back = signed["p"], signed["b"]
            if position is not None:
                if len(position) != len(self.keys):
                    raise ValueError("a position of another list")
                position = [
                    None if value is None else _field_of(rows, key.name).to_python(value)
                    for key, value in zip(self.keys, position, strict=True)
                ]
            return PageStart(position=position, back=bool(back))
        except (signing.BadSignature, DjangoValidationError, KeyError, TypeError, ValueError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None

    def _link(self, start: PageStart) -> str:
        signed = signing.dumps({"p": start.position, "b": start.back}, salt=CURSOR_SALT)
        return replace_query_param(self.address, self.cursor_query_param, signed)

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:
            # Going back found nothing before the cursor: what follows it is the first page.
            return remove_query_param(self.address, self.cursor_query_param)
        return self._link(PageStart(_position_of(self.page[-1], self.keys), back=False))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        # Past the end nothing is on the page: going back from there is the last page.
        position = _position_of(self.page[0], self.keys) if self.page else None
        return self._link(PageStart(position, back=True))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "example": 123,
                    "description": "Rows in the whole filtered list.",
                },
                "next": {
                    **link,
                    "description": "The next page, with its cursor and the filters; null at the end.",
                },
                "previous": {**link, "description": "The page before, likewise; null on the first page."},
                "results": schema,
            },
        }
