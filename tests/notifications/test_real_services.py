"""Delivery proven end to end with real services, all started by these tests.

A real Redis on its own port, a real ``celery -A config worker`` process (with its embedded beat
scheduler) reading the same PostgreSQL test database, a real HTTP receiver for webhooks and a real SMTP
server. Each test polls for the outcome against a deadline; none asserts on timing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from care_providers.models import OfferState, PlacementOffer
from notifications.models import Channel, DeliveryState, Event, InboxItem, Notification
from notifications.sweep import sweep_deadlines
from referrals import services
from tests.factories import CareProviderFactory, manager, referral_fields, responder, submitted_referral
from tests.processes import DELIVERIES_QUEUE, SWEEPS_QUEUE, Worker

from .receivers import WebhookReceiver, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET = "provider-webhook-secret"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver().start()
    yield hooks
    hooks.stop()


@pytest.fixture
def sweeper(worker: Worker, tmp_path) -> Iterator[Worker]:
    """The sweeps' own worker, as the Procfile's sweeper; ``worker`` then takes only deliveries (and
    schedules, as beat does)."""
    worker.queues = (DELIVERIES_QUEUE,)
    handle = Worker(worker.env, tmp_path / "sweeper.log", queues=(SWEEPS_QUEUE,), beat=False)
    yield handle
    handle.stop()


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


def test_a_worker_that_starts_sends_at_once_what_the_sweep_had_long_queued_into_a_lost_redis(
    worker, redis_server, receiver
):
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    made = offer(boss, provider)
    row = Notification.objects.get(referral=made.referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)
    # No worker ran for hours: the sweep queued it again and again, and would next wait minutes.
    Notification.objects.filter(pk=row.pk).update(requeues=9)
    redis_server.stop()
    redis_server.start()  # empty: it keeps nothing on disk

    worker.start()

    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED)


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
    # The killed worker's claim lapses before the sweep sends the row again, and a busy machine takes
    # seconds to start a worker.
    wait_for(lambda: state_of(row) == DeliveryState.DELIVERED, timeout=60)
    assert [hook.event_id for hook in receiver.received] == [str(row.pk), str(row.pk)]
    # Both attempts are logged, the first even if its worker died before knowing how it went.
    assert list(row.delivery_attempts.values_list("succeeded", flat=True)) == [False, True]


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


def test_offers_expire_on_the_sweepers_worker_while_a_receiver_that_never_answers_holds_deliveries(
    worker, sweeper, receiver, settings
):
    settings.DEADLINE_OFFER_RESPONSE_MINUTES = 0
    receiver.respond = lambda n: None  # accepts each request and never answers
    # The first webhook holds the delivery worker, as a production receiver that hangs does, for longer
    # than a busy machine takes to start the sweeper and expire the offers: once it let go, the worker
    # would send the next offer's webhook if that offer were still pending.
    receiver.hang_seconds = 300
    worker.env.update(WEBHOOK_TIMEOUT_SECONDS="120", NOTIFICATION_CLAIM_SECONDS="240")
    boss = manager()
    provider = provider_with_webhook(receiver.url)
    offers = [offer(boss, provider) for _ in range(3)]  # their webhooks are queued before any sweep
    worker.start()
    wait_for(lambda: receiver.received)  # the delivery worker is held by the first webhook
    # Only now: a sweep that ran first would expire the offers, and their webhooks would not be sent.
    sweeper.start()

    wait_for(
        lambda: all(PlacementOffer.objects.get(pk=made.pk).state == OfferState.EXPIRED for made in offers),
        timeout=60,
    )

    assert len(receiver.received) == 1  # still held by the first: the sweeps ran beside it
    assert "sweep_deadlines[" in sweeper.log.read_text()  # as Celery logs a task it runs: name[id]
    assert "sweep_deadlines[" not in worker.log.read_text()
