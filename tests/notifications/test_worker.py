"""How a Celery worker is set up for delivery: persistent database connections."""

import time

import pytest
from django.db import connection, connections

from notifications.tasks import close_broken_or_old_connections, keep_database_connections


def test_a_worker_keeps_its_database_connections_for_worker_conn_max_age(settings):
    settings.WORKER_CONN_MAX_AGE = 123
    before = {alias: connections.settings[alias]["CONN_MAX_AGE"] for alias in connections}
    try:
        keep_database_connections()
        assert connections.settings["default"]["CONN_MAX_AGE"] == 123
        assert connections["default"].settings_dict["CONN_MAX_AGE"] == 123
    finally:
        for alias, age in before.items():
            connections.settings[alias]["CONN_MAX_AGE"] = age


class _Request:
    def __init__(self, *, is_eager: bool) -> None:
        self.is_eager = is_eager


class _Task:
    def __init__(self, *, is_eager: bool) -> None:
        self.request = _Request(is_eager=is_eager)


@pytest.mark.postgres  # SQLite's in-memory test database never closes its one connection
@pytest.mark.django_db(transaction=True)
def test_after_a_task_a_connection_past_its_age_is_closed_and_a_young_one_kept():
    connection.ensure_connection()
    close_broken_or_old_connections(task=_Task(is_eager=False))
    assert connection.connection is None  # the test settings' CONN_MAX_AGE is 0: past its age at once

    connection.ensure_connection()
    connection.close_at = time.monotonic() + 300
    close_broken_or_old_connections(task=_Task(is_eager=False))
    assert connection.connection is not None


@pytest.mark.django_db
def test_an_eager_task_leaves_the_callers_connection_alone():
    connection.ensure_connection()
    close_broken_or_old_connections(task=_Task(is_eager=True))
    assert connection.connection is not None and connection.in_atomic_block
