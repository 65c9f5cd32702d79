"""Case references: unique, counting up within the year, and never a queue of submissions (SPEC §3)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from referrals.models import Referral
from referrals.references import SEQUENCE_LOCK, next_reference, reserve_numbers
from tests.factories import submitted_referral

# Years no real case has, so the sequences these tests make can be dropped afterwards.
YEARS = range(2091, 2095)


def drop_sequences() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for year in YEARS:
                cursor.execute(f"DROP SEQUENCE IF EXISTS referrals_reference_{year}")


@pytest.fixture
def far_years():
    drop_sequences()
    yield YEARS
    drop_sequences()


@pytest.mark.django_db
def test_numbers_reserved_together_are_distinct_and_count_up(far_years):
    year = far_years[0]
    first = next_reference(year)
    block = reserve_numbers(year, 3)
    last = next_reference(year)
    assert first == f"HBR-{year}-000001"
    assert block == [2, 3, 4]
    assert last == f"HBR-{year}-000005"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_new_years_numbers_start_after_the_highest_already_in_use(far_years):
    year = far_years[1]
    Referral.objects.filter(pk=submitted_referral().pk).update(reference=f"HBR-{year}-000041")
    assert next_reference(year) == f"HBR-{year}-000042"


def in_thread(work):
    """Run ``work`` in a thread with its own connection; answer what it returned or raised."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def number_in_open_transaction(year: int, release: threading.Event):
    """A thread that takes a number of the year and keeps its transaction open until ``release``."""
    taken = threading.Event()

    def take():
        with transaction.atomic():
            number = next_reference(year)
            taken.set()
            release.wait(timeout=30)
        return number

    thread, outcome = in_thread(take)
    taken.wait(timeout=30)
    return thread, outcome


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_number_taken_in_an_open_transaction_does_not_hold_up_the_next(far_years):
    year = far_years[2]
    next_reference(year)  # the year's sequence exists, as it does after its first submission
    release = threading.Event()
    holder, held = number_in_open_transaction(year, release)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Anything that waited for the open transaction would fail at once.
            cursor.execute("SET LOCAL lock_timeout = '100ms'")
            assert next_reference(year) == f"HBR-{year}-000003"
    finally:
        release.set()
        holder.join()
    assert held["value"] == f"HBR-{year}-000002"


def waiting_for_sequence_lock(year: int) -> bool:
    """Whether a transaction of this database waits for the advisory lock that makes the year's sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s",
            [SEQUENCE_LOCK, year],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_submissions_of_a_year_at_once_get_different_numbers(far_years):
    year = far_years[3]
    release = threading.Event()
    first, first_outcome = number_in_open_transaction(year, release)
    # The second waits for the first to commit the sequence it made, then takes the next number.
    second, second_outcome = in_thread(lambda: next_reference(year))
    while not waiting_for_sequence_lock(year) and second.is_alive():
        threading.Event().wait(0.01)
    release.set()
    first.join()
    second.join()
    assert "error" not in second_outcome, second_outcome.get("error")
    assert {first_outcome["value"], second_outcome["value"]} == {f"HBR-{year}-000001", f"HBR-{year}-000002"}
