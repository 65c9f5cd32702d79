"""Every index on Harbour's tables earns its keep: each one is written on every insert (a referral's
submission writes rows in six tables), so none repeats what another already serves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pytest
from django.apps import apps
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HARBOUR_APPS = ("accounts", "referrals", "care_providers", "notifications", "idempotency", "audit")

# Each index's table, name, columns (by number), and whether it is unique, partial or for LIKE.
INDEXES = """
    SELECT t.relname, i.relname, string_to_array(x.indkey::text, ' ')::int[], x.indisunique,
           x.indpred IS NOT NULL, pg_get_indexdef(x.indexrelid) LIKE '%%pattern_ops%%'
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relname = ANY(%s)
"""


class Index(NamedTuple):
    table: str
    name: str
    columns: list[int]
    unique: bool
    partial: bool
    for_like: bool


def harbour_indexes(app_labels: Iterable[str] = HARBOUR_APPS) -> list[Index]:
    # Django's own tables are left out: the user's groups and permissions (Django's many-to-many tables).
    tables = [
        model._meta.db_table
        for label in app_labels
        for model in apps.get_app_config(label).get_models()
        if not model._meta.auto_created
    ]
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [tables])
        return [Index(*row) for row in cursor.fetchall()]


def test_no_index_leads_another_index_of_its_table():
    """An index on (a) or (a, b) is served by one on (a, b, …) or a unique one on (a, b): a foreign key
    that leads a composite index needs no index of its own."""
    plain = [index for index in harbour_indexes() if not index.partial and not index.for_like]
    served = [
        (index.name, other.name)
        for index in plain
        if not index.unique
        for other in plain
        if other.table == index.table
        and other.name != index.name
        and other.columns[: len(index.columns)] == index.columns
        and (len(other.columns) > len(index.columns) or other.unique)
    ]
    assert served == []


def test_no_index_is_for_like_on_values_matched_whole():
    """Django adds a ``varchar_pattern_ops`` index beside a unique or indexed text field, for LIKE
    'prefix%'. References, digests and states are only matched whole. The accounts are left out: their
    few rows are seldom written, and the username's comes with Django's user model."""
    written_with_cases = [label for label in HARBOUR_APPS if label != "accounts"]
    assert [index.name for index in harbour_indexes(written_with_cases) if index.for_like] == []
