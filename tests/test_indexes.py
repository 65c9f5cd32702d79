"""Every index on Harbour's tables earns its keep: each one is written on every insert (a referral's
submission writes rows in seven tables), so none repeats what another already serves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import ForeignKey, Model

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HARBOUR_APPS = ("accounts", "referrals", "care_providers", "notifications", "idempotency", "audit")

# Each index's table, name, columns in order, and whether it is unique, partial or for LIKE.
INDEXES = """
    SELECT t.relname, i.relname,
           ARRAY(
               SELECT a.attname::text
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
               ORDER BY k.n
           ),
           x.indisunique, x.indpred IS NOT NULL, pg_get_indexdef(x.indexrelid) LIKE '%%pattern_ops%%'
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relname = ANY(%s)
"""


class Index(NamedTuple):
    table: str
    name: str
    columns: list[str]
    unique: bool
    partial: bool
    for_like: bool


def harbour_models(app_labels: Iterable[str] = HARBOUR_APPS) -> list[type[Model]]:
    # Django's own tables are left out: the user's groups and permissions (Django's many-to-many tables).
    return [
        model
        for label in app_labels
        for model in apps.get_app_config(label).get_models()
        if not model._meta.auto_created
    ]


def harbour_indexes(app_labels: Iterable[str] = HARBOUR_APPS) -> list[Index]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [[model._meta.db_table for model in harbour_models(app_labels)]])
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


def test_every_foreign_key_leads_an_index_of_its_table():
    """What the test above allows: a foreign key without an index of its own is served by another, and
    stays so. Deleting or joining through one never reads its whole table."""
    led = {(index.table, index.columns[0]) for index in harbour_indexes() if not index.partial}
    unserved = [
        f"{model.__name__}.{field.name}"
        for model in harbour_models()
        for field in model._meta.concrete_fields
        if isinstance(field, ForeignKey) and (model._meta.db_table, field.column) not in led
    ]
    assert unserved == []


def test_no_index_is_for_like_on_values_matched_whole():
    """Django adds a ``varchar_pattern_ops`` index beside a unique or indexed text field, for LIKE
    'prefix%'. References, digests and states are only matched whole. The accounts are left out: their
    few rows are seldom written, and the username's comes with Django's user model."""
    written_with_cases = [label for label in HARBOUR_APPS if label != "accounts"]
    assert [index.name for index in harbour_indexes(written_with_cases) if index.for_like] == []
