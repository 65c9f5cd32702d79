"""One beat schedules: real ``celery -A config beat`` processes against the test database.

Beat sweeps every second here (the ``worker`` fixture's environment); each test polls for the outcome
against a deadline and asserts on no timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from config.beat import BEAT_LOCK
from tests.notifications.receivers import wait_for
from tests.processes import Beat, Worker

pytestmark = pytest.mark.django_db(transaction=True)

SENT = "Sending due task sweep-deadlines"
STANDBY = "another beat is scheduling; this one waits as a standby"


@pytest.fixture
def beats(worker: Worker, tmp_path: Path) -> Iterator[list[Beat]]:
    """Two beats, not started, sharing one schedule file as beats scaled in compose share its volume."""
    started = [Beat(worker.env, tmp_path / f"beat-{n}.log") for n in (1, 2)]
    yield started
    for beat in started:
        beat.stop()


def log_of(beat: Beat) -> str:
    return beat.log.read_text(errors="replace") if beat.log.exists() else ""


def lock_holder() -> int | None:
    """The server process id of the connection holding the beat lock in this database, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s AND objsubid = 1",
            [BEAT_LOCK >> 32, BEAT_LOCK & 0xFFFF_FFFF],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.mark.postgres
def test_a_second_beat_waits_as_a_standby_and_takes_over_when_the_first_stops(beats):
    first, second = beats
    first.start()
    wait_for(lambda: SENT in log_of(first))
    second.start()
    wait_for(lambda: STANDBY in log_of(second))

    # The first goes on sweeping while the second sends nothing.
    sent_before = log_of(first).count(SENT)
    wait_for(lambda: log_of(first).count(SENT) >= sent_before + 2)
    assert SENT not in log_of(second)

    first.stop()
    wait_for(lambda: SENT in log_of(second))
    assert "holds the beat lock and schedules, taking over" in log_of(second)


@pytest.mark.postgres
def test_a_beat_that_loses_its_lock_connection_stops_with_an_error(beats):
    first, _ = beats
    first.start()
    holder = wait_for(lock_holder)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [holder])

    assert first.process is not None
    wait_for(lambda: first.process.poll() is not None)
    assert first.process.returncode != 0
    assert "lost the database connection holding the beat lock" in log_of(first)


def test_on_sqlite_beat_schedules_without_a_lock(worker, tmp_path):
    """The embedded default (``make run``): its one beat schedules at once, asking SQLite for no lock."""
    beat = Beat(
        {**worker.env, "DATABASE_URL": f"sqlite:///{tmp_path / 'harbour.sqlite3'}"}, tmp_path / "beat.log"
    )
    beat.start()
    try:
        wait_for(lambda: SENT in log_of(beat))
    finally:
        beat.stop()
    assert "Traceback" not in log_of(beat)
