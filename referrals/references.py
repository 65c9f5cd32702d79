"""Case references such as HBR-2026-004217: the year, then a number counting up within the year (SPEC §3).

On PostgreSQL each year has a sequence of its own, made by the year's first submission. Taking a number
never waits for another transaction, so submissions do not queue behind one another until commit; a
submission that rolls back leaves a gap, which a unique, human-friendly reference allows. A new year's
sequence starts after the highest number of that year already in use. Making it needs the database
user's right to create objects in the schema, the right ``migrate`` needs too.

SQLite lets one transaction write at a time anyway: there the year's ``ReferenceCounter`` row is
incremented inside the submitting transaction.
"""

from __future__ import annotations

import re

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from .models import ReferenceCounter, Referral

PREFIX = "HBR"
# With the year, the advisory lock under which a year's sequence is made (pg_advisory_xact_lock's two keys).
SEQUENCE_LOCK = 0x4842_5200


def format_reference(year: int, number: int) -> str:
    return f"{PREFIX}-{year}-{number:06d}"


# A reference as it is read out over the phone or typed on one: any case, spaces or slashes for the dashes,
# "HBR" left off, the number without its leading zeros ("hbr 2026 4217", "2026/4217").
TYPED_REFERENCE = re.compile(rf"(?:{PREFIX}[\s/-]*)?(\d{{4}})[\s/-]+(\d{{1,6}})", re.IGNORECASE)


def reference_as_typed(typed: str) -> str:
    """The case reference someone typed, written as Harbour writes it (HBR-2026-004217), to be found by
    an exact match; what is not one, upper-cased, which matches nothing."""
    typed = typed.strip()
    if found := TYPED_REFERENCE.fullmatch(typed):
        return format_reference(int(found[1]), int(found[2]))
    return typed.upper()


def next_reference(year: int) -> str:
    """The next case reference of the year."""
    return format_reference(year, reserve_numbers(year, 1)[0])


def reserve_numbers(year: int, count: int) -> list[int]:
    """``count`` (at least one) case numbers of the year that no other referral has or will get."""
    if connection.vendor == "postgresql":
        return _from_sequence(int(year), count)
    return _from_counter(year, count)


def _from_sequence(year: int, count: int) -> list[int]:
    name = f"referrals_reference_{year}"
    with connection.cursor() as cursor:
        numbers = _take(cursor, name, count)
        if numbers:
            return numbers
        # The year's first submission makes the sequence, holding the year's advisory lock until its
        # transaction ends: a second one waits here for the first to commit, then finds the sequence.
        with transaction.atomic(savepoint=False):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SEQUENCE_LOCK, year])
            table = connection.ops.quote_name(Referral._meta.db_table)
            prefix = f"{PREFIX}-{year}-"
            cursor.execute(
                f"SELECT max(substr(reference, %s)::integer) FROM {table} WHERE reference ~ %s",  # noqa: S608
                [len(prefix) + 1, rf"^{prefix}[0-9]+$"],
            )
            (highest,) = cursor.fetchone()
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {(highest or 0) + 1}")
            numbers = _take(cursor, name, count)
    if not numbers:
        raise RuntimeError(f"The case reference sequence of {year} could not be made.")
    return numbers


def _take(cursor: CursorWrapper, name: str, count: int) -> list[int]:
    """Numbers from the named sequence; none if it does not exist yet."""
    cursor.execute("SELECT nextval(to_regclass(%s)) FROM generate_series(1, %s::integer)", [name, count])
    return [number for (number,) in cursor.fetchall() if number is not None]


def _from_counter(year: int, count: int) -> list[int]:
    """Increment the year's counter row, which stays locked until the transaction ends."""
    table = connection.ops.quote_name(ReferenceCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + %s "
            "RETURNING last_number",
            [year, count, count],
        )
        (last,) = cursor.fetchone()
    return list(range(last - count + 1, last + 1))
