"""A broker that hangs does not hold up every change, and loses nothing (SPEC §6, §10).

A Redis stopped with ``kill -STOP``, or behind a network black hole, accepts connections and never
answers: each publish waits for the socket timeout. After one publish fails, the process leaves
notifications to the outbox sweep for ``PUBLISH_PAUSE_SECONDS`` instead of waiting on the broker again.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from time import monotonic

import pytest
import redis
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.delivery import deliver, requeue_pending
from notifications.models import Channel, DeliveryState, Notification
from notifications.services import PUBLISH_PAUSE_SECONDS, publish_delivery
from tests.factories import OrganisationFactory, manager, referral_fields, responder
from tests.processes import RedisServer, use_broker

from .conftest import personal_data_in
from .receivers import BlackHole

pytestmark = pytest.mark.django_db

# Production's is 5 s; short, to keep the tests quick.
SOCKET_TIMEOUT = 0.5


@pytest.fixture
def hung_broker() -> Iterator[BlackHole]:
    black_hole = BlackHole().start()
    with use_broker(black_hole.url, socket_timeout=SOCKET_TIMEOUT):
        yield black_hole
    black_hole.stop()


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    """Submit a referral on the API as a responder, running what waits for the commit; its outbox rows."""
    manager()
    client = APIClient()
    client.force_authenticate(responder())
    body = {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in referral_fields().items()}

    def submit_one() -> list[Notification]:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/referrals/", body, format="json")
        assert response.status_code == 201, response.content
        return list(Notification.objects.filter(reference=response.json()["reference"]))

    return submit_one


def clock_at(monkeypatch, moment: float) -> None:
    """The process's clock, as it reads it for the pause, stopped at ``moment``."""
    monkeypatch.setattr("notifications.services.monotonic", lambda: moment)


def pending(rows: list[Notification]) -> bool:
    assert rows
    return all(
        (row.state, row.attempts) == (DeliveryState.PENDING, 0)
        for row in Notification.objects.filter(pk__in=[row.pk for row in rows])
    )


def queued_in(server: RedisServer) -> int:
    return redis.Redis.from_url(server.url).llen("celery")


def test_after_a_publish_to_a_hung_broker_fails_the_next_changes_do_not_wait_on_it(
    hung_broker, submit, caplog
):
    caplog.set_level(logging.WARNING, logger="notifications")
    first = submit()
    tried = hung_broker.connections()
    assert tried >= 1

    second, third = submit(), submit()

    assert hung_broker.connections() == tried  # not even a connection
    assert pending(first + second + third)  # for the sweep
    (warning,) = [r for r in caplog.records if "outbox sweep" in r.getMessage()]
    assert personal_data_in(warning.getMessage()) == []


def test_once_the_pause_is_over_a_publish_is_tried_again(hung_broker, submit, monkeypatch):
    # The clock stands still but when the test moves it: a second submission slow on a busy machine
    # must not use up the second left of the pause.
    failed_at = monotonic()
    clock_at(monkeypatch, failed_at)
    submit()
    tried = hung_broker.connections()

    clock_at(monkeypatch, failed_at + PUBLISH_PAUSE_SECONDS - 1)
    submit()
    assert hung_broker.connections() == tried

    clock_at(monkeypatch, failed_at + PUBLISH_PAUSE_SECONDS + 1)
    submit()
    assert hung_broker.connections() > tried


def test_a_retry_after_a_failed_attempt_is_left_to_the_sweep_while_publishing_is_paused(
    hung_broker, submit, webhook_receiver, django_capture_on_commit_callbacks
):
    webhook_receiver.respond = lambda n: 500
    OrganisationFactory(kind="contractor", webhook_url=webhook_receiver.url, webhook_secret="s3cret")
    (row,) = [row for row in submit() if row.channel == Channel.WEBHOOK]
    tried = hung_broker.connections()

    with django_capture_on_commit_callbacks(execute=True):
        deliver(str(row.pk))  # the receiver answers 500: a retry is due later

    assert hung_broker.connections() == tried
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.PENDING, 1, "HTTP 500")
    assert row.next_attempt_at > timezone.now()  # where the sweep finds it


def test_the_outbox_sweep_tries_the_broker_while_publishing_is_paused_and_sends_once_it_is_back(
    redis_server, submit
):
    with use_broker(redis_server.url, socket_timeout=SOCKET_TIMEOUT):
        redis_server.hang()
        rows = submit()
        assert pending(rows)

        def sweep() -> int:
            Notification.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(hours=1))
            return requeue_pending()

        assert sweep() == 0  # still hung: the sweep tried, and failed, in its turn
        redis_server.wake()
        assert sweep() == len(rows)
        # A publish that gave up while Redis hung may still be queued once it wakes, if its command had
        # reached Redis's socket: delivery claims each row, so such a message sends nothing twice.
        queued = queued_in(redis_server)
        assert queued >= len(rows)

        # The broker answered the sweep: changes publish again at once.
        assert submit()
        assert queued_in(redis_server) > queued


def test_a_publish_to_a_broker_that_hangs_up_tries_one_connection():
    # kombu would otherwise try again, after a pause, until CELERY_BROKER_CONNECTION_TIMEOUT was spent,
    # with the web request waiting.
    hangs_up = BlackHole(hang_up=True).start()
    try:
        with use_broker(hangs_up.url):
            assert publish_delivery(str(uuid.uuid4()), despite_pause=True) is False
        assert hangs_up.connections() == 1
    finally:
        hangs_up.stop()
