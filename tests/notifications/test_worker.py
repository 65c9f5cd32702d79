"""How Celery workers are set up: persistent database connections, and which queue each task goes to."""

import time

import pytest
from django.db import connection, connections

from config.celery import app as celery_app
from notifications.tasks import close_broken_or_old_connections, keep_database_connections
from tests.processes import DELIVERIES_QUEUE, SWEEPS_QUEUE


def queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def test_every_periodic_task_goes_to_the_sweeps_queue_and_deliveries_to_the_default_one():
    for entry in celery_app.conf.beat_schedule.values():
        assert queue_of(entry["task"]) == SWEEPS_QUEUE, entry["task"]
        # Not run by its next turn, it is dropped rather than run late beside that turn.
        assert entry["options"]["expires"] == entry["schedule"], entry["task"]
    assert queue_of("notifications.tasks.deliver_notification") == DELIVERIES_QUEUE
    # A worker started without --queues consumes both (the real-worker tests start theirs so).
    assert {queue.name for queue in celery_app.conf.task_queues} == {DELIVERIES_QUEUE, SWEEPS_QUEUE}


def test_a_sweep_and_a_delivery_each_land_on_their_own_queue_only(redis_server):
    import redis

    from notifications.tasks import deliver_notification, sweep_deadlines

    sweep_deadlines.apply_async()
    deliver_notification.apply_async(("00000000-0000-0000-0000-000000000000",))
    broker = redis.Redis.from_url(redis_server.url)
    queued = {
        queue: [message.decode() for message in broker.lrange(queue, 0, -1)]
        for queue in (SWEEPS_QUEUE, DELIVERIES_QUEUE)
    }
    assert [("sweep_deadlines" in message) for message in queued[SWEEPS_QUEUE]] == [True]
    assert [("deliver_notification" in message) for message in queued[DELIVERIES_QUEUE]] == [True]


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
