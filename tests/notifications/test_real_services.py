"""Delivery proven end to end with real services, all started by these tests.

A real Redis on its own port, a real ``celery -A config worker`` process (with its embedded beat
scheduler) reading the same PostgreSQL test database, a real HTTP receiver for webhooks and a real SMTP
server. Each test polls for the outcome against a deadline; none asserts on timing.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from care_providers.models import OfferState, PlacementOffer
from config.celery import app as celery_app
from notifications.models import Channel, DeliveryState, Event, InboxItem, Notification
from notifications.sweep import sweep_deadlines
from referrals import services
from tests.factories import CareProviderFactory, manager, referral_fields, responder, submitted_referral

from .receivers import SmtpReceiver, WebhookReceiver, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_PORTS = range(6390, 6400)
SECRET = "provider-webhook-secret"


class RedisServer:
    """A throwaway redis-server on its own port, that the test can stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = next(p for p in REDIS_PORTS if _port_is_free(p))
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Worker:
    """``celery -A config worker -B`` in its own process group, pointed at the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "config",
                    "worker",
                    "-B",
                    "-P",
                    "solo",
                    "-l",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-s",
                    self.env["HARBOUR_VAR_DIR"] + "/celerybeat-schedule",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing restored to the queue."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None


def use_broker(url: str) -> None:
    """Point this (test) process's Celery app at the test's Redis."""
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = {"socket_connect_timeout": 1, "socket_timeout": 5}
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    broker_url, options = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    use_broker(server.url)
    yield server
    server.stop()
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = broker_url, options
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker(
    transactional_db: None, redis_server: RedisServer, smtp: SmtpReceiver, tmp_path: Path, settings
) -> Iterator[Worker]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": redis_server.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "HARBOUR_VAR_DIR": str(tmp_path / "var"),
        "NOTIFICATION_MAX_ATTEMPTS": "3",
        "NOTIFICATION_RETRY_BASE_SECONDS": "0.2",
        "NOTIFICATION_RETRY_MAX_SECONDS": "0.5",
        "NOTIFICATION_CLAIM_SECONDS": "3",
        "NOTIFICATION_REQUEUE_AFTER_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "1",
        "OUTBOX_SWEEP_SECONDS": "1",
        "DEADLINE_SWEEP_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    handle = Worker(env, tmp_path / "worker.log")
    yield handle
    handle.stop()
    log = handle.log.read_text(errors="replace") if handle.log.exists() else ""
    for name in (referral_fields()["given_name"], referral_fields()["family_name"]):
        assert name not in log, "personal data in the worker's log"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver().start()
    yield hooks
    hooks.stop()


def provider_with_webhook(url: str):
    return CareProviderFactory(
        organisation__webhook_url=url,
        organisation__webhook_secret=SECRET,
        organisation__notification_emails=[],
    )


def offer(boss, provider) -> PlacementOffer:
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    return services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)


def state_of(notification: Notification) -> str:
    notification.refresh_from_db()
    return notification.state


def test_a_referral_submitted_on_the_api_reaches_the_managers_inbox_and_email(worker, smtp):
    boss = manager()
    worker.start()
    client = APIClient()
    client.force_authenticate(responder())
    body = {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in referral_fields().items()}
    response = client.post("/api/v1/referrals/", body, format="json")
    assert response.status_code == 201, response.content
    reference = response.json()["reference"]

    assert InboxItem.objects.filter(user=boss, event=Event.REFERRAL_RECEIVED, reference=reference).exists()
    message = wait_for(lambda: next((m for m in smtp.messages if reference in m["Subject"]), None))
    assert message["To"] == "managers@contractor.test"
    row = Notification.objects.get(reference=reference, channel=Channel.EMAIL)
    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED)


def test_an_offer_reaches_the_providers_webhook_with_a_signature_that_verifies(worker, receiver):
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    worker.start()
    made = offer(boss, provider)

    hook = wait_for(lambda: receiver.received and receiver.received[0])
    row = Notification.objects.get(referral=made.referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)
    assert hook.event_id == str(row.pk)
    assert hook.signature_verifies(SECRET)
    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED)


def test_a_transition_commits_while_redis_is_down_and_is_delivered_once_redis_is_back(
    worker, redis_server, receiver
):
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    redis_server.stop()

    made = offer(boss, provider)  # publishing fails after commit; the change stands

    made.refresh_from_db()
    assert made.state == OfferState.PENDING
    row = Notification.objects.get(referral=made.referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)
    assert row.state == DeliveryState.PENDING and row.attempts == 0

    redis_server.start()
    worker.start()  # its beat runs the outbox sweep, which finds the row nobody sent
    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED)
    assert [hook.event_id for hook in receiver.received] == [str(row.pk)]


def test_a_worker_killed_mid_delivery_delivers_after_restart_with_the_same_event_id(worker, receiver):
    receiver.respond = lambda n: None if n == 1 else 204  # the first request never gets an answer
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    worker.start()
    made = offer(boss, provider)
    wait_for(lambda: len(receiver.received) == 1)

    worker.kill()
    receiver.release.set()
    worker.start()

    row = Notification.objects.get(referral=made.referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)
    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED)
    assert [hook.event_id for hook in receiver.received] == [str(row.pk), str(row.pk)]


def test_a_receiver_that_answers_500_then_times_out_is_retried_then_failed_and_shown_to_managers(
    worker, receiver, client, settings
):
    receiver.respond = lambda n: 500 if n == 1 else None  # then it hangs past the timeout
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    worker.start()
    made = offer(boss, provider)
    row = Notification.objects.get(referral=made.referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)

    wait_for(lambda: state_of(row) == DeliveryState.FAILED, timeout=45)
    assert row.attempts == 3
    details = list(row.delivery_attempts.values_list("detail", flat=True))
    assert details[0] == "HTTP 500"
    assert len(details) == 3 and all(detail != "HTTP 500" for detail in details[1:])
    assert (
        InboxItem.objects.filter(
            user=boss, event=Event.DELIVERY_FAILED, reference=made.referral.reference
        ).count()
        == 1
    )

    settings.REQUIRE_MFA = False
    client.force_login(boss)
    page = client.get(reverse("notifications:undelivered"))
    assert page.status_code == 200 and made.referral.reference in page.text


def test_an_offer_not_answered_in_time_expires_and_managers_are_told_once(worker, smtp, settings):
    settings.DEADLINE_OFFER_RESPONSE_MINUTES = 0
    boss = manager()
    provider = CareProviderFactory()
    worker.start()  # its beat sweeps the deadlines every second
    made = offer(boss, provider)

    wait_for(lambda: PlacementOffer.objects.get(pk=made.pk).state == OfferState.EXPIRED)
    reference = made.referral.reference
    wait_for(lambda: any(reference in m["Subject"] and "expired" in m["Subject"] for m in smtp.messages))
    sweep_deadlines()
    sweep_deadlines()
    assert InboxItem.objects.filter(user=boss, event=Event.OFFER_EXPIRED).count() == 1
    assert Notification.objects.filter(event=Event.OFFER_EXPIRED).count() == 1
    assert not Notification.objects.filter(event=Event.DEADLINE_BREACHED).exists()
