from collections.abc import Sequence
from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView


class PagesPastTheLast(Paginator):
    """A page past the last is empty rather than missing: rows move between requests, and a client
    following a ``next`` link given before they did must not meet an error that reads as a missing
    object."""

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            # A whole number, or it would not be an EmptyPage: below 1 it stays an error.
            if int(number) < 1:
                raise
            return int(number)


class HarbourPagination(PageNumberPagination):
    """``{count, next, previous, results}``; ``?page_size=`` up to 200. A page past the last has no
    results, and its ``previous`` is the last page (none if there are no rows); one that is not a whole
    number from 1 is a 404 of its own code, not a missing object's."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = PagesPastTheLast

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as error:
            raise NotFound(str(error.detail), code="page_not_found") from None

    def get_previous_link(self) -> str | None:
        page, request = self.page, self.request
        if page is None or request is None or page.number <= page.paginator.num_pages:
            return super().get_previous_link()
        paginator = page.paginator
        # Past the last page, the page before it is as empty: lead back to the rows, not through them.
        if not paginator.count:
            return None
        url = request.build_absolute_uri()
        if paginator.num_pages == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, paginator.num_pages)
