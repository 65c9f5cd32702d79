"""Beat's scheduler: of the beats started against one PostgreSQL database, only one schedules.

Each beat, as it starts, asks for a session-level advisory lock on a connection of its own, which it
keeps while it runs. The one that gets it schedules; any other logs that it waits as a standby and asks
again every few seconds, so it takes over once the first stops and PostgreSQL releases the lock with its
connection. A standby opens no schedule file either, so beats sharing one (compose's volume) never both
write it. A beat whose connection is lost (PostgreSQL restarted) no longer holds the lock and another may
take it: it stops with an error, for its supervisor to start it again behind the new holder.

On SQLite (the embedded default, one beat from ``make run``) there is no such lock: beat schedules at once.
"""

import logging
from typing import Any

from celery.beat import PersistentScheduler
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

# The advisory lock of the beat that schedules (pg_try_advisory_lock's one 64-bit key, "HBEAT" in ASCII:
# a key space apart from the two-key lock of referrals.references).
BEAT_LOCK = 0x48_4245_4154
# How often a standby asks for the lock again: how soon it takes over once the holder stops.
STANDBY_POLL_SECONDS = 5.0


class BeatLockLost(Exception):
    """The connection holding the beat lock failed: another beat may be scheduling already."""


class SingleBeatScheduler(PersistentScheduler):
    """Celery's scheduler with its schedule file, opened and ticking only while this beat holds the lock."""

    _lock_connection: BaseDatabaseWrapper | None = None
    _holds_lock = False
    _waited = False

    def setup_schedule(self) -> None:
        """Deferred to the first tick that holds the lock: a standby leaves the schedule file alone."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._holds_lock:
            self._check_lock()
        elif self._take_lock():
            super().setup_schedule()
        else:
            return STANDBY_POLL_SECONDS
        return super().tick(*args, **kwargs)

    def _take_lock(self) -> bool:
        if self._lock_connection is None:
            self._lock_connection = connections.create_connection("default")
        if self._lock_connection.vendor == "postgresql":
            with self._lock_connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [BEAT_LOCK])
                (self._holds_lock,) = cursor.fetchone()
            if not self._holds_lock:
                if not self._waited:
                    logger.warning("another beat is scheduling; this one waits as a standby")
                    self._waited = True
                return False
            logger.info(
                "This beat holds the beat lock and schedules" + (", taking over" if self._waited else "")
            )
        self._holds_lock = True
        return True

    def _check_lock(self) -> None:
        """A cheap query on the held connection before each tick: it fails once that connection is lost."""
        assert self._lock_connection is not None
        if self._lock_connection.vendor != "postgresql":
            return
        try:
            with self._lock_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            raise BeatLockLost(
                "beat lost the database connection holding the beat lock: it stops, to wait for the lock "
                "again when restarted"
            ) from error

    def close(self) -> None:
        """Release the lock once the schedule file is written and closed, for a standby to open it."""
        try:
            super().close()
        finally:
            if self._lock_connection is not None:
                self._lock_connection.close()
