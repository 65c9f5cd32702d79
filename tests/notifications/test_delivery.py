"""Delivering the outbox: channels, attempts, retries with back-off, failure and the sweep (SPEC §6)."""

import datetime
import json
import socket
import threading

import pytest
import redis
from cryptography.fernet import Fernet
from django.core import mail
from django.core.mail.backends import smtp
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from notifications.delivery import backoff_seconds, claim, deliver, requeue_pending, requeue_waits
from notifications.models import Channel, DeliveryState, Event, InboxItem, Notification, WebhookCooloff
from notifications.selectors import inbox_for
from notifications.services import mark_read, queue_delivery, resend_failed
from notifications.sweep import sweep_deadlines
from notifications.tasks import deliver_notification
from referrals import services
from referrals.local_time import local_time
from referrals.models import Deadline
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    contractor,
    manager,
    provider_user,
    responder,
    submitted_referral,
)

from .receivers import SlowSmtpServer, WebhookReceiver, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Stands in for the broker: records what would be handed to Celery."""
    sent = {"now": [], "later": []}

    def apply_async(args, countdown=None, **options):
        if countdown is None:
            sent["now"].append(args[0])
        else:
            sent["later"].append((args[0], countdown))

    monkeypatch.setattr("notifications.tasks.deliver_notification.apply_async", apply_async)
    return sent


def email_row(reference=None):
    referral = submitted_referral()
    return Notification.objects.get(referral=referral, event=Event.REFERRAL_RECEIVED, channel=Channel.EMAIL)


def offer_to_webhook(url, secret="s3cret", boss=None):
    boss = boss or manager()
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    provider = CareProviderFactory(
        organisation__webhook_url=url,
        organisation__webhook_secret=secret,
        organisation__notification_emails=[],
    )
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    return Notification.objects.get(referral=referral, event=Event.OFFER_MADE, channel=Channel.WEBHOOK)


def webhooks_to_one_receiver(url, count):
    """``count`` pending webhooks to one organisation, whose receiver is at ``url``: an offer, then
    updates to other cases."""
    first = offer_to_webhook(url)
    others = [
        Notification.objects.create(
            event=Event.REFERRAL_REALLOCATED,
            channel=Channel.WEBHOOK,
            organisation=first.organisation,
            reference=f"HBR-2026-99000{n}",
        )
        for n in range(1, count)
    ]
    return [first, *others]


def test_an_email_carries_the_event_reference_due_time_and_link_only(settings):
    settings.SITE_URL = "https://harbour.example"
    manager()
    row = email_row()
    deliver(str(row.pk))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["managers@contractor.test"]
    assert row.reference in message.subject and "New referral" in message.subject
    assert f"https://harbour.example/cases/{row.referral_id}/" in message.body
    assert f"Happened: {local_time(row.created_at, delivery.EMAIL_MOMENT)}" in message.body
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED and row.delivered_at is not None
    attempt = row.delivery_attempts.get()
    assert attempt.succeeded and attempt.detail == "sent"


@pytest.fixture
def smtp_server(settings, monkeypatch):
    """Django's SMTP backend sending to a SlowSmtpServer: plain, with STARTTLS or over TLS (SMTPS)."""
    servers = []

    def start(delay: float, tls: str) -> SlowSmtpServer:
        server = SlowSmtpServer(delay, tls).start()
        servers.append(server)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = tls == "starttls", tls == "smtps"
        if tls:
            monkeypatch.setattr(smtp.EmailBackend, "ssl_context", server.client_context)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("tls", ["", "starttls", "smtps"])
def test_an_email_goes_through_an_smtp_server_plain_or_over_tls(smtp_server, tls):
    server = smtp_server(delay=0, tls=tls)
    manager()
    row = email_row()
    deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED
    assert row.delivery_attempts.get().detail == "sent"
    (message,) = server.accepted
    assert row.reference.encode() in message


def harbours_log(caplog) -> str:
    """What Harbour logged, without the test mail server's own log of the conversation."""
    return "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("mail."))


@pytest.fixture
def mail_server(settings, smtp_receiver):
    """Django's SMTP backend sending to a real SMTP server, and the managers' two addresses."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_receiver.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    organisation = contractor()
    organisation.notification_emails = ["desk@contractor.test", "duty@contractor.test"]
    organisation.save()
    return smtp_receiver


def test_an_address_the_mail_server_refuses_fails_the_attempt_and_only_it_is_sent_the_retry(
    mail_server, queued, caplog
):
    mail_server.refuse = {"duty@contractor.test"}
    manager()
    row = email_row()
    deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING and row.attempts == 1
    assert row.last_error == "the mail server refused 1 of 2 addresses"
    assert [(a.succeeded, a.detail) for a in row.delivery_attempts.all()] == [
        (False, "the mail server refused 1 of 2 addresses")
    ]

    mail_server.refuse = set()
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED
    assert mail_server.recipients == [["desk@contractor.test"], ["duty@contractor.test"]]
    assert "contractor.test" not in harbours_log(caplog)


def test_an_address_refused_on_every_attempt_fails_the_row_and_managers_see_it(
    mail_server, queued, settings, caplog
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    mail_server.refuse = {"duty@contractor.test"}
    boss = manager()
    row = email_row()
    for _ in range(2):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        deliver(str(row.pk))

    row.refresh_from_db()
    assert (row.state, row.last_error) == (DeliveryState.FAILED, "the mail server refused 1 of 1 address")
    assert mail_server.recipients == [["desk@contractor.test"]]
    assert InboxItem.objects.filter(user=boss, event=Event.DELIVERY_FAILED, reference=row.reference).exists()
    assert "contractor.test" not in harbours_log(caplog)


@pytest.mark.parametrize("tls", ["", "starttls", "smtps"])
def test_a_mail_server_answering_each_command_in_time_but_too_slowly_in_all_is_given_up_and_retried(
    settings, smtp_server, queued, tls
):
    settings.NOTIFICATION_CLAIM_SECONDS = 2  # an SMTP session may take half of it
    settings.EMAIL_TIMEOUT = 10
    # Each reply comes well inside EMAIL_TIMEOUT; the session, with four addresses, would take seconds.
    server = smtp_server(delay=0.3, tls=tls)
    manager()
    row = email_row()
    organisation = contractor()
    organisation.notification_emails = [f"desk{n}@contractor.test" for n in range(4)]
    organisation.save()
    deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING and row.attempts == 1
    attempt = row.delivery_attempts.get()
    assert not attempt.succeeded
    assert attempt.detail == "the receiver did not answer in time (TimeoutError)"
    assert server.accepted == []


def test_a_webhook_is_signed_over_its_raw_body_which_holds_the_timestamp(webhook_receiver):
    row = offer_to_webhook(webhook_receiver.url)
    deliver(str(row.pk))

    (hook,) = webhook_receiver.received
    assert hook.signature_verifies("s3cret")
    assert not hook.signature_verifies("another secret")
    payload = json.loads(hook.body)
    assert payload == {
        "id": str(row.pk),
        "event": "offer.made",
        "reference": row.reference,
        "due_at": row.due_at.isoformat(),
        "clock": None,
        "last_seen_at": None,
        "link": payload["link"],
        "occurred_at": row.created_at.astimezone(datetime.UTC).isoformat(),
        "sequence": row.sequence,
        "timestamp": int(hook.headers["X-Harbour-Timestamp"]),
    }
    assert payload["occurred_at"].endswith("+00:00")
    assert payload["link"].endswith(f"/cases/{row.referral_id}/")
    assert hook.event_id == str(row.pk)
    assert hook.headers["Content-Type"] == "application/json"
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED
    assert row.delivery_attempts.get().detail == "HTTP 204"


def placed_by_a_referrer_with_a_webhook(url):
    """A placed case whose referrer has a webhook at ``url``, and its manager."""
    referrer = responder(organisation=OrganisationFactory(webhook_url=url, webhook_secret="s"))
    boss = manager()
    provider = CareProviderFactory()
    case = submitted_referral(referrer)
    services.assess_referral(referral_id=case.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=provider.pk)
    services.accept_offer(referral_id=case.pk, actor=provider_user(provider))
    return case, boss


def test_an_event_retried_after_a_later_one_says_it_happened_before_it(webhook_receiver, queued):
    webhook_receiver.respond = lambda n: 500 if n == 1 else 204
    case, boss = placed_by_a_referrer_with_a_webhook(webhook_receiver.url)
    hooks = Notification.objects.filter(referral=case, channel=Channel.WEBHOOK)
    assessed, placed = hooks.get(event=Event.REFERRAL_ASSESSED), hooks.get(event=Event.REFERRAL_PLACED)

    deliver(str(assessed.pk))  # refused: retried later
    deliver(str(placed.pk))
    Notification.objects.filter(pk=assessed.pk).update(next_attempt_at=timezone.now())
    deliver(str(assessed.pk))

    events = [json.loads(hook.body) for hook in webhook_receiver.received[1:]]
    assert [event["event"] for event in events] == ["referral.placed", "referral.assessed"]
    placed_event, assessed_event = events
    assert assessed_event["sequence"] < placed_event["sequence"]
    assert assessed_event["occurred_at"] < placed_event["occurred_at"]


def test_a_missing_alert_still_undelivered_once_the_person_is_found_is_not_sent(webhook_receiver, queued):
    webhook_receiver.respond = lambda n: 500 if n == 1 else 204
    case, boss = placed_by_a_referrer_with_a_webhook(webhook_receiver.url)
    services.report_missing(referral_id=case.pk, actor=boss, last_seen_at=timezone.now())
    missing = Notification.objects.get(referral=case, event=Event.PERSON_MISSING, channel=Channel.WEBHOOK)
    deliver(str(missing.pk))  # refused: retried later
    services.mark_found(referral_id=case.pk, actor=boss)
    Notification.objects.filter(pk=missing.pk).update(next_attempt_at=timezone.now())
    deliver(str(missing.pk))

    assert len(webhook_receiver.received) == 1
    missing.refresh_from_db()
    assert missing.state == DeliveryState.OUTDATED


def test_a_placement_offer_queued_before_it_expired_is_not_sent_when_a_worker_takes_it(
    webhook_receiver, queued
):
    # The broker was down while the offer ran out: its copy comes to a worker once the broker is back.
    row = offer_to_webhook(webhook_receiver.url)
    offer = row.referral.offers.get()
    sweep_deadlines(now=offer.response_due_at + datetime.timedelta(seconds=1))
    offer.refresh_from_db()
    assert offer.state == "expired"

    deliver(str(row.pk))
    assert webhook_receiver.received == []
    row.refresh_from_db()
    assert row.state == DeliveryState.OUTDATED
    assert row.get_state_display() == "Not sent: no longer current"
    assert row.delivery_attempts.get().detail == "not sent: no longer current (offer closed)"
    assert not InboxItem.objects.filter(event=Event.DELIVERY_FAILED).exists()


def test_each_event_of_a_case_is_numbered_after_the_one_before_it_the_sweeps_included(queued):
    referrer = responder(
        organisation=OrganisationFactory(webhook_url="https://hooks.test/", webhook_secret="s")
    )
    boss = manager()
    provider = CareProviderFactory()
    case = submitted_referral(referrer)
    other = submitted_referral(referrer)
    services.assess_referral(referral_id=case.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=provider.pk)
    services.accept_offer(referral_id=case.pk, actor=provider_user(provider))
    services.report_missing(referral_id=case.pk, actor=boss, last_seen_at=timezone.now())
    repeat_due = Deadline.objects.get(referral=case, clock="missing").due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    services.mark_found(referral_id=case.pk, actor=boss)

    rows = Notification.objects.filter(
        referral=case, organisation=referrer.organisation, channel=Channel.WEBHOOK
    )
    in_order = list(rows.order_by("created_at").values_list("event", "sequence"))
    assert [event for event, _ in in_order] == [
        "referral.assessed",
        "referral.placed",
        "referral.missing",
        "referral.still_missing",
        "referral.found",
    ]
    sequences = [sequence for _, sequence in in_order]
    assert sequences == sorted(set(sequences))
    assert Notification.objects.filter(referral=other).get(channel=Channel.EMAIL).sequence == 1


@pytest.mark.postgres  # the one-statement claim (UPDATE … RETURNING with a join) is PostgreSQL's
def test_a_delivery_takes_one_statement_to_claim_one_to_check_the_offer_is_pending_and_one_to_record(
    webhook_receiver, django_assert_num_queries
):
    row = offer_to_webhook(webhook_receiver.url)
    with django_assert_num_queries(3):
        deliver(str(row.pk))
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED and row.attempts == 1
    assert row.delivery_attempts.get().succeeded


@pytest.mark.postgres  # the one-statement claim (UPDATE … RETURNING with a join) is PostgreSQL's
def test_a_claim_carries_the_organisations_address_and_secret(webhook_receiver, django_assert_num_queries):
    row = offer_to_webhook(webhook_receiver.url, secret="carried")
    with django_assert_num_queries(1):
        claimed = claim(str(row.pk))
        assert claimed.organisation.webhook_url == webhook_receiver.url
        assert claimed.organisation.webhook_secret == "carried"
        assert claimed.attempts == 1 and claimed.reference == row.reference


def test_webhooks_to_one_receiver_share_a_keep_alive_connection(webhook_receiver):
    webhook_receiver.keep_alive = True
    first, second = offer_to_webhook(webhook_receiver.url), offer_to_webhook(webhook_receiver.url)
    deliver(str(first.pk))
    deliver(str(second.pk))
    assert [hook.event_id for hook in webhook_receiver.received] == [str(first.pk), str(second.pk)]
    assert webhook_receiver.received[0].peer == webhook_receiver.received[1].peer


def test_a_connection_the_receiver_dropped_while_idle_is_replaced(webhook_receiver):
    webhook_receiver.keep_alive = webhook_receiver.drop_idle = True
    first, second = offer_to_webhook(webhook_receiver.url), offer_to_webhook(webhook_receiver.url)
    deliver(str(first.pk))
    deliver(str(second.pk))
    assert [hook.event_id for hook in webhook_receiver.received] == [str(first.pk), str(second.pk)]
    assert webhook_receiver.received[0].peer != webhook_receiver.received[1].peer
    for row in (first, second):
        row.refresh_from_db()
        assert row.state == DeliveryState.DELIVERED
        assert row.delivery_attempts.get().detail == "HTTP 204"


def test_delivering_twice_sends_once(webhook_receiver):
    row = offer_to_webhook(webhook_receiver.url)
    deliver(str(row.pk))
    deliver(str(row.pk))
    assert len(webhook_receiver.received) == 1
    assert row.delivery_attempts.count() == 1


def test_a_row_in_flight_is_not_sent_by_a_second_worker(webhook_receiver):
    row = offer_to_webhook(webhook_receiver.url)
    assert claim(str(row.pk)) is not None  # another worker holds it
    deliver(str(row.pk))
    assert webhook_receiver.received == []


def test_an_attempt_whose_worker_died_is_logged_as_failed_with_no_outcome_when_the_row_is_sent_again(
    webhook_receiver,
):
    row = offer_to_webhook(webhook_receiver.url)
    assert claim(str(row.pk)) is not None  # a worker claims the row and is killed before it records anything
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=long_ago)  # its claim lapses
    deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED and row.attempts == 2
    attempts = row.delivery_attempts.order_by("at", "pk")
    assert [(a.succeeded, a.detail) for a in attempts] == [
        (False, delivery.NO_OUTCOME),
        (True, "HTTP 204"),
    ]


def test_an_attempt_whose_outcome_was_not_recorded_is_logged_at_the_time_it_was_claimed(webhook_receiver):
    row = offer_to_webhook(webhook_receiver.url)
    lost = claim(str(row.pk))
    assert lost is not None  # and its worker loses its database connection before it records anything
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=long_ago)
    deliver(str(row.pk))

    first, second = Notification.objects.get(pk=row.pk).delivery_attempts.order_by("at", "pk")
    assert (first.succeeded, first.detail, first.at) == (
        False,
        "outcome not recorded (the worker or its database connection was lost)",
        lost.claimed_at,
    )
    assert second.succeeded and second.at > lost.claimed_at


def test_a_database_failure_while_recording_an_outcome_logs_one_line_and_leaves_the_row_to_the_sweep(
    webhook_receiver, queued, monkeypatch, caplog, settings
):
    row = offer_to_webhook(webhook_receiver.url)

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "record_outcome", database_gone)
        deliver_notification(str(row.pk))  # the task, as a worker runs it: it does not raise

    (line,) = [record for record in caplog.records if record.name == "notifications.tasks"]
    assert line.getMessage() == (
        f"Notification {row.pk} left for the outbox sweep: the database failed (OperationalError)"
    )
    assert line.exc_info is None
    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING and row.attempts == 1
    assert not row.delivery_attempts.exists()

    # Once its claim has lapsed, and the sweep's wait after it, the sweep queues it again.
    wait = datetime.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS + 1)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - wait)
    requeue_pending()
    assert queued["now"] == [str(row.pk)]


def test_a_row_whose_worker_is_lost_on_its_last_attempt_fails_and_managers_see_it_instead_of_a_further_send(
    webhook_receiver, settings
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    boss = manager()
    row = offer_to_webhook(webhook_receiver.url, boss=boss)
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    for _ in range(3):  # each attempt's worker is killed before it records anything; its claim lapses
        assert claim(str(row.pk)) is not None
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=long_ago)

    deliver(str(row.pk))  # the outbox sweep queued it again

    assert webhook_receiver.received == []
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.FAILED, 3, delivery.NO_OUTCOME)
    assert list(row.delivery_attempts.values_list("detail", flat=True)) == [delivery.NO_OUTCOME] * 3
    alert = InboxItem.objects.get(user=boss, event=Event.DELIVERY_FAILED)
    assert row.reference in alert.message and alert.message.endswith(delivery.NO_OUTCOME)
    resend_failed(actor=boss, notification_id=str(row.pk))  # the cause found, a manager sends it again
    deliver(str(row.pk))
    assert len(webhook_receiver.received) == 1


def test_after_a_manager_sends_it_again_an_attempt_whose_worker_died_is_still_logged(webhook_receiver):
    row = offer_to_webhook(webhook_receiver.url)
    webhook_receiver.respond = lambda n: 500
    Notification.objects.filter(pk=row.pk).update(attempts=1)
    delivery.record_outcome(
        Notification.objects.get(pk=row.pk), delivery.Outcome(False, "HTTP 500", permanent=True)
    )
    resend_failed(actor=manager(), notification_id=str(row.pk))
    webhook_receiver.respond = lambda n: 204
    assert claim(str(row.pk)) is not None  # the first attempt of the new round; its worker is killed
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=long_ago)
    deliver(str(row.pk))

    details = list(
        Notification.objects.get(pk=row.pk).delivery_attempts.order_by("at", "pk").values_list("detail")
    )
    assert details == [("HTTP 500",), (delivery.NO_OUTCOME,), ("HTTP 204",)]


def test_a_failed_attempt_is_logged_and_retried_later_with_backoff(
    webhook_receiver, queued, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    webhook_receiver.respond = lambda n: 500
    row = offer_to_webhook(webhook_receiver.url)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING and row.attempts == 1 and row.last_error == "HTTP 500"
    attempt = row.delivery_attempts.get()
    assert not attempt.succeeded and attempt.detail == "HTTP 500"
    ((retried_id, countdown),) = queued["later"]
    assert retried_id == str(row.pk)
    assert 0 <= countdown <= 30
    assert before <= row.next_attempt_at <= timezone.now() + datetime.timedelta(seconds=30)


def test_after_a_receiver_hangs_its_next_delivery_waits_out_the_cooloff_while_others_go_through(
    settings, queued
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_COOLOFF_SECONDS = 60
    hanging, healthy = WebhookReceiver(respond=lambda n: None).start(), WebhookReceiver().start()
    try:
        boss = manager()
        first = offer_to_webhook(hanging.url, boss=boss)
        organisation = first.organisation
        second = Notification.objects.create(
            event=Event.OFFER_REVOKED, channel=Channel.WEBHOOK, organisation=organisation
        )
        other = offer_to_webhook(healthy.url, boss=boss)

        deliver(str(first.pk))  # the receiver hangs past the timeout
        deliver(str(second.pk))
        # The timeout was short only to keep the hang short: a busy machine may take longer over the answer.
        settings.WEBHOOK_TIMEOUT_SECONDS = 5
        deliver(str(other.pk))
    finally:
        hanging.stop()
        healthy.stop()

    assert [hook.event_id for hook in hanging.received] == [str(first.pk)]
    first.refresh_from_db()
    assert first.delivery_attempts.get().detail == "the receiver did not answer in time (TimeoutError)"
    second.refresh_from_db()
    assert (second.state, second.attempts) == (DeliveryState.PENDING, 0)
    assert not second.delivery_attempts.exists()
    cooloff_ends = WebhookCooloff.objects.get(organisation=organisation).until
    assert cooloff_ends <= second.next_attempt_at <= cooloff_ends + datetime.timedelta(seconds=60)
    assert [notification_id for notification_id, _ in queued["later"]] == [str(second.pk)]
    assert [hook.event_id for hook in healthy.received] == [str(other.pk)]
    assert Notification.objects.get(pk=other.pk).state == DeliveryState.DELIVERED


def test_a_receiver_is_tried_again_once_its_cooloff_has_ended(webhook_receiver, queued):
    row = offer_to_webhook(webhook_receiver.url)
    WebhookCooloff.objects.create(
        organisation=row.organisation, until=timezone.now() - datetime.timedelta(seconds=1)
    )
    deliver(str(row.pk))
    assert Notification.objects.get(pk=row.pk).state == DeliveryState.DELIVERED
    assert not WebhookCooloff.objects.exists()  # the receiver answered: its deliveries go as before


def test_once_a_cooloff_has_ended_one_delivery_probes_the_receiver_and_if_its_worker_dies_the_next_does(
    webhook_receiver, queued
):
    probe, held = webhooks_to_one_receiver(webhook_receiver.url, 2)
    WebhookCooloff.objects.create(
        organisation=probe.organisation, until=timezone.now() - datetime.timedelta(seconds=1)
    )
    probing = claim(str(probe.pk))
    assert delivery.probe_or_wait(probing) is None  # a worker probes the receiver …
    deliver(str(held.pk))

    assert webhook_receiver.received == []  # … and the others wait for it, not counting an attempt
    held.refresh_from_db()
    assert (held.state, held.attempts) == (DeliveryState.PENDING, 0)
    assert held.next_attempt_at >= probing.next_attempt_at

    # That worker dies: once its claim lapses, the next delivery probes the receiver.
    WebhookCooloff.objects.update(until=timezone.now() - datetime.timedelta(seconds=1))
    Notification.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())
    deliver(str(held.pk))
    assert [hook.event_id for hook in webhook_receiver.received] == [str(held.pk)]
    assert not WebhookCooloff.objects.exists()


def deliver_on_another_worker(notification_id: str) -> threading.Thread:
    def work() -> None:
        try:
            deliver(notification_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    return worker


@pytest.mark.django_db(transaction=True)  # the probe is sent by another thread, on its own connection
@pytest.mark.parametrize("answers", [True, False], ids=["receiver answers", "receiver still hangs"])
def test_the_others_wait_while_a_probe_is_with_the_receiver_then_go_or_wait_out_a_new_cooloff(
    settings, queued, answers
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 20 if answers else 0.5
    settings.WEBHOOK_COOLOFF_SECONDS = 600
    probe_answered = threading.Event()
    # The probe (the first request) has its answer when the test says, or none at all.
    receiver = WebhookReceiver(
        respond=lambda n: 204 if n > 1 or (answers and probe_answered.wait(30)) else None
    ).start()
    try:
        probe, held = webhooks_to_one_receiver(receiver.url, 2)
        WebhookCooloff.objects.create(
            organisation=probe.organisation, until=timezone.now() - datetime.timedelta(seconds=1)
        )
        worker = deliver_on_another_worker(str(probe.pk))
        wait_for(lambda: receiver.received)
        deliver(str(held.pk))  # while the probe is with the receiver
        probe_answered.set()
        worker.join()

        assert [hook.event_id for hook in receiver.received] == [str(probe.pk)]
        held.refresh_from_db()
        assert (held.state, held.attempts) == (DeliveryState.PENDING, 0)
        Notification.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())  # its time comes
        deliver(str(held.pk))
    finally:
        probe_answered.set()
        receiver.stop()

    held.refresh_from_db()
    if answers:
        assert Notification.objects.get(pk=probe.pk).state == DeliveryState.DELIVERED
        assert held.state == DeliveryState.DELIVERED
        assert [hook.event_id for hook in receiver.received] == [str(probe.pk), str(held.pk)]
    else:
        assert WebhookCooloff.objects.get(organisation=probe.organisation).until > timezone.now()  # again
        assert (held.state, held.attempts) == (DeliveryState.PENDING, 0)
        assert [hook.event_id for hook in receiver.received] == [str(probe.pk)]


def test_an_unreachable_receiver_is_recorded_in_words_and_by_error_class(settings, queued):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    row = offer_to_webhook("http://127.0.0.1:9/nothing-listens-here")
    deliver(str(row.pk))
    row.refresh_from_db()
    assert (
        row.delivery_attempts.get().detail == "the receiver refused the connection (ConnectionRefusedError)"
    )
    assert WebhookCooloff.objects.get(organisation=row.organisation).until > timezone.now()


@pytest.fixture
def scripted_receiver():
    """A receiver that answers one POST with ``parts``: (seconds to wait, bytes to send) in turn."""
    servers = []

    def start(parts: list[tuple[float, bytes]]) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        done = threading.Event()

        def serve() -> None:
            peer, _address = server.accept()
            with peer:
                peer.recv(65536)
                for wait, data in parts:
                    if done.wait(wait):
                        return
                    peer.sendall(data)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((server, done, thread))
        return f"http://127.0.0.1:{server.getsockname()[1]}/hooks"

    yield start
    for server, done, thread in servers:
        done.set()
        thread.join()
        server.close()


def test_a_receiver_that_answers_too_slowly_in_all_is_a_timeout_not_a_held_worker(
    settings, queued, scripted_receiver
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    # Each read is quick; the whole answer, a byte every 0.3 s, would take six seconds.
    url = scripted_receiver([(0, b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"), *[(0.3, b".")] * 20])
    row = offer_to_webhook(url)
    deliver(str(row.pk))
    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING
    assert row.delivery_attempts.get().detail == "the receiver did not answer in time (TimeoutError)"


def test_an_answer_whose_body_follows_on_a_closing_connection_is_read_to_its_end(queued, scripted_receiver):
    url = scripted_receiver(
        [(0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"), (0.2, b"ok")]
    )
    row = offer_to_webhook(url)
    deliver(str(row.pk))
    row.refresh_from_db()
    assert row.state == DeliveryState.DELIVERED
    assert row.delivery_attempts.get().detail == "HTTP 200"


def test_only_the_start_of_a_long_answer_is_read(webhook_receiver, monkeypatch):
    monkeypatch.setattr(delivery, "ANSWER_READ_LIMIT", 4)
    webhook_receiver.keep_alive = True
    webhook_receiver.respond = lambda n: 200
    webhook_receiver.body = b"a long answer"
    first, second = offer_to_webhook(webhook_receiver.url), offer_to_webhook(webhook_receiver.url)
    deliver(str(first.pk))
    deliver(str(second.pk))
    # The unread rest made the first connection unusable: the second went on a new one.
    assert webhook_receiver.received[0].peer != webhook_receiver.received[1].peer
    second.refresh_from_db()
    assert second.state == DeliveryState.DELIVERED


def test_a_webhook_secret_this_process_cannot_decrypt_holds_up_no_email_and_its_webhook_fails_in_words(
    webhook_receiver, queued, settings
):
    provider = CareProviderFactory(
        organisation__webhook_url=webhook_receiver.url,
        organisation__notification_emails=["duty@provider.test"],
    )
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    # A key rotation rolling out: a process already on the new key saves the secret; this one has only the old.
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    provider.organisation.webhook_secret = "a-secret-under-the-new-key"
    provider.organisation.save()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    rows = {
        row.channel: row for row in Notification.objects.filter(referral=referral, event=Event.OFFER_MADE)
    }

    deliver(str(rows[Channel.EMAIL].pk))
    deliver(str(rows[Channel.WEBHOOK].pk))

    assert [message.to for message in mail.outbox if referral.reference in message.subject] == [
        ["duty@provider.test"]
    ]
    email, webhook = (
        Notification.objects.get(pk=rows[channel].pk) for channel in (Channel.EMAIL, Channel.WEBHOOK)
    )
    assert email.state == DeliveryState.DELIVERED
    reason = "the webhook secret could not be decrypted: check FIELD_ENCRYPTION_KEYS"
    assert (webhook.state, webhook.last_error) == (DeliveryState.PENDING, reason)  # retried
    assert [a.detail for a in webhook.delivery_attempts.all()] == [reason]
    assert webhook_receiver.received == []


def test_an_organisation_without_a_webhook_secret_is_never_sent_a_forgeable_signature(
    webhook_receiver, queued
):
    row = offer_to_webhook(webhook_receiver.url, secret="")
    deliver(str(row.pk))
    row.refresh_from_db()
    assert (row.state, row.last_error) == (DeliveryState.FAILED, "no webhook secret")
    assert webhook_receiver.received == []


REFUSED_FOR_GOOD = {
    401: "the receiver refused it (HTTP 401): check the webhook secret",
    403: "the receiver refused it (HTTP 403): check the webhook secret",
    404: "the receiver refused it (HTTP 404): check the webhook address",
    410: "the receiver refused it (HTTP 410): check the webhook address",
}


@pytest.mark.parametrize(("status", "reason"), REFUSED_FOR_GOOD.items())
def test_a_receiver_refusing_it_for_good_fails_it_at_once_with_the_reason_and_managers_see_it(
    webhook_receiver, queued, settings, client, status, reason
):
    webhook_receiver.respond = lambda n: status
    boss = manager()
    row = offer_to_webhook(webhook_receiver.url, boss=boss)
    deliver(str(row.pk))

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.FAILED, 1, reason)
    assert [(a.succeeded, a.detail) for a in row.delivery_attempts.all()] == [(False, reason)]
    assert len(webhook_receiver.received) == 1
    assert InboxItem.objects.filter(user=boss, event=Event.DELIVERY_FAILED, reference=row.reference).exists()
    settings.REQUIRE_MFA = False
    client.force_login(boss)
    assert reason in client.get(reverse("notifications:undelivered")).text


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_a_receiver_answering_what_may_mend_itself_is_retried(webhook_receiver, queued, status):
    webhook_receiver.respond = lambda n: status
    row = offer_to_webhook(webhook_receiver.url)
    deliver(str(row.pk))

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.PENDING, 1, f"HTTP {status}")


def failed_delivery_items(user):
    return list(InboxItem.objects.filter(user=user, event=Event.DELIVERY_FAILED).order_by("pk"))


def test_an_outage_of_one_receiver_is_one_inbox_item_for_each_manager_counting_every_failure(
    webhook_receiver, queued, settings, client
):
    webhook_receiver.respond = lambda n: 401
    boss, deputy = manager(), manager()
    rows = webhooks_to_one_receiver(webhook_receiver.url, 4)
    for row in rows:
        deliver(str(row.pk))

    first = rows[0]
    for user in (boss, deputy):
        (item,) = failed_delivery_items(user)
        assert item.message == (
            f"Notification could not be delivered: {first.reference} "
            f"(Placement offered, webhook to {first.organisation.name}) and 3 more: "
            "the receiver refused it (HTTP 401): check the webhook secret"
        )
        assert (item.reference, item.read) == (first.reference, False)
    # The managers' list still shows every failed notification.
    settings.REQUIRE_MFA = False
    client.force_login(boss)
    page = client.get(reverse("notifications:undelivered")).text
    assert all(row.reference in page for row in rows)


def test_after_a_manager_reads_it_the_next_failure_is_a_new_item_and_each_organisation_and_channel_has_its_own(
    webhook_receiver, queued
):
    webhook_receiver.respond = lambda n: 404
    boss, deputy = manager(), manager()
    first, second = webhooks_to_one_receiver(webhook_receiver.url, 2)
    deliver(str(first.pk))
    (read,) = failed_delivery_items(boss)
    mark_read(user=boss, item_id=read.pk)
    deliver(str(second.pk))
    unreachable = email_row()  # to the managers' own organisation, which has no address now
    organisation = contractor()
    organisation.notification_emails = []
    organisation.save()
    deliver(str(unreachable.pk))

    failed = "Notification could not be delivered"
    where = f"webhook to {first.organisation.name}"
    why = "the receiver refused it (HTTP 404): check the webhook address"
    by_email = (
        f"{failed}: {unreachable.reference} (New referral, email to {organisation.name}): no email address"
    )
    assert [(item.message, item.read) for item in failed_delivery_items(boss)] == [
        (f"{failed}: {first.reference} (Placement offered, {where}): {why}", True),
        (f"{failed}: {second.reference} (Placement ended for reallocation, {where}): {why}", False),
        (by_email, False),
    ]
    assert [item.message for item in failed_delivery_items(deputy)] == [
        f"{failed}: {first.reference} (Placement offered, {where}) and 1 more: {why}",
        by_email,
    ]


def test_a_failure_counted_while_the_manager_reads_the_item_is_a_new_unread_item(
    webhook_receiver, queued, monkeypatch
):
    webhook_receiver.respond = lambda n: 401
    boss, deputy = manager(), manager()
    first, second = webhooks_to_one_receiver(webhook_receiver.url, 2)
    deliver(str(first.pk))
    (read,) = failed_delivery_items(boss)
    counted = delivery.failure_message

    def manager_reads_meanwhile(notification, failures, reason):
        # The manager's click lands after the unread items are looked up, before the count is written.
        if failures > 1:
            mark_read(user=boss, item_id=read.pk)
        return counted(notification, failures, reason)

    monkeypatch.setattr(delivery, "failure_message", manager_reads_meanwhile)
    deliver(str(second.pk))

    failed = "Notification could not be delivered"
    where = f"webhook to {first.organisation.name}"
    why = "the receiver refused it (HTTP 401): check the webhook secret"
    assert [(item.message, item.read) for item in failed_delivery_items(boss)] == [
        (f"{failed}: {first.reference} (Placement offered, {where}): {why}", True),
        (f"{failed}: {second.reference} (Placement ended for reallocation, {where}): {why}", False),
    ]
    # A manager who has not read theirs still has one item counting both.
    assert [(item.message, item.read) for item in failed_delivery_items(deputy)] == [
        (f"{failed}: {first.reference} (Placement offered, {where}) and 1 more: {why}", False),
    ]


def test_an_item_counting_an_outage_says_why_the_latest_failed_and_comes_back_to_the_top_of_the_inbox(
    webhook_receiver, queued, settings, client
):
    webhook_receiver.respond = lambda n: 401
    boss = manager()
    first, second = webhooks_to_one_receiver(webhook_receiver.url, 2)
    deliver(str(first.pk))
    (item,) = failed_delivery_items(boss)
    newer = InboxItem.objects.get(user=boss, referral=submitted_referral(), event=Event.REFERRAL_RECEIVED)
    assert list(inbox_for(boss)[:2]) == [newer, item]  # the new referral is above the outage's item

    webhook_receiver.respond = lambda n: 404  # the secret was mended, the address moved meanwhile
    deliver(str(second.pk))

    (counted,) = failed_delivery_items(boss)
    assert counted.message.endswith(
        " and 1 more: the receiver refused it (HTTP 404): check the webhook address"
    )
    assert inbox_for(boss).first() == counted
    settings.REQUIRE_MFA = False
    client.force_login(boss)
    page = client.get(reverse("notifications:inbox")).text
    assert page.index(f'id="item-{counted.pk}"') < page.index(f'id="item-{newer.pk}"')


def test_a_long_reason_leaves_the_count_and_itself_whole_in_the_items_300_characters():
    first = Notification(
        event=Event.OFFER_MADE,
        channel=Channel.WEBHOOK,
        organisation=OrganisationFactory(name="N" * 200),
        reference="HBR-2026-000001",
    )
    message = delivery.failure_message(first, 40, "R" * 200)
    assert len(message) == 300
    assert message.endswith(" and 39 more: " + "R" * 200)


def test_after_the_last_attempt_the_row_fails_and_managers_see_it_in_their_inbox(
    webhook_receiver, settings, queued
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    webhook_receiver.respond = lambda n: 503
    boss = manager()
    row = offer_to_webhook(webhook_receiver.url, boss=boss)
    for _ in range(5):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        deliver(str(row.pk))

    row.refresh_from_db()
    assert row.state == DeliveryState.FAILED and row.attempts == 3
    assert len(webhook_receiver.received) == 3
    assert row.delivery_attempts.filter(succeeded=False).count() == 3
    alert = InboxItem.objects.get(user=boss, event=Event.DELIVERY_FAILED)
    assert row.reference in alert.message
    # Managers are told in the inbox only: no outbox row that could fail the same way.
    assert not Notification.objects.filter(event=Event.DELIVERY_FAILED).exists()


def test_backoff_is_exponential_with_full_jitter_and_capped(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 10
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 60
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        samples = [backoff_seconds(attempt) for _ in range(300)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # spread over the whole range, not a fixed delay
        assert min(samples) < ceiling / 2


def test_the_sweep_requeues_rows_left_pending_but_not_fresh_or_in_flight(settings, queued):
    settings.NOTIFICATION_REQUEUE_AFTER_SECONDS = 30
    manager()
    stale, fresh, in_flight = (email_row() for _ in range(3))
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    Notification.objects.filter(pk__in=[stale.pk, in_flight.pk]).update(next_attempt_at=long_ago)
    claim(str(in_flight.pk))

    assert requeue_pending() == 1
    assert queued["now"] == [str(stale.pk)]
    # Picked once: the next sweep leaves it to the task just queued.
    assert requeue_pending() == 0


def sweep_every_minute_for(minutes):
    """The outbox sweep once a minute, with no worker: each row's wait moved back a minute instead."""
    for _ in range(minutes):
        Notification.objects.update(next_attempt_at=F("next_attempt_at") - datetime.timedelta(minutes=1))
        requeue_pending()


def test_requeue_waits_double_from_the_first_up_to_the_stuck_time(settings):
    settings.NOTIFICATION_REQUEUE_AFTER_SECONDS = 30
    settings.NOTIFICATION_STUCK_MINUTES = 10
    assert [wait.total_seconds() for wait in requeue_waits()] == [30, 60, 120, 240, 480, 600]


def test_while_no_worker_takes_deliveries_each_copy_waits_twice_as_long(settings, redis_server):
    settings.NOTIFICATION_REQUEUE_AFTER_SECONDS = 30
    settings.NOTIFICATION_STUCK_MINUTES = 10
    manager()
    row = email_row()

    sweep_every_minute_for(60)

    # Queued at minutes 1, 2, 4, 8, 16, then every ten: nine copies in an hour, not sixty.
    assert redis.Redis.from_url(redis_server.url).llen("celery") == 9
    row.refresh_from_db()
    assert row.requeues == len(requeue_waits()) - 1  # counted no further than the longest wait


def test_a_claim_starts_the_count_again(settings, redis_server):
    manager()
    row = email_row()
    Notification.objects.filter(pk=row.pk).update(requeues=4, next_attempt_at=timezone.now())

    claim(str(row.pk))

    row.refresh_from_db()
    assert row.requeues == 0


def test_after_the_broker_fails_every_row_waits_the_shortest_time_again(settings, redis_server):
    settings.NOTIFICATION_REQUEUE_AFTER_SECONDS = 30
    manager()
    email_row()
    due = email_row()
    Notification.objects.update(requeues=5, next_attempt_at=timezone.now())
    Notification.objects.filter(pk=due.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(hours=1)
    )
    redis_server.stop()

    assert requeue_pending() == 0  # the broker refused: what it held before may be lost with it

    assert list(Notification.objects.values_list("requeues", flat=True)) == [0, 0]


def test_a_broker_failure_at_commit_is_logged_and_leaves_the_row_pending(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(args, **options):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("notifications.tasks.deliver_notification.apply_async", broker_down)
    manager()
    with django_capture_on_commit_callbacks(execute=True):
        referral = submitted_referral()
    assert referral.pk is not None
    assert Notification.objects.get(referral=referral).state == DeliveryState.PENDING
    assert "left to the outbox sweep" in caplog.text


def test_a_transition_that_rolls_back_sends_nothing(django_capture_on_commit_callbacks, queued):
    manager()
    actor = responder()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        submitted_referral(actor)
        raise RuntimeError("something later in the same change failed")
    assert callbacks == []
    assert queued["now"] == []
    assert not Notification.objects.exists()
    assert not InboxItem.objects.exists()


def test_queue_delivery_stops_at_the_first_broker_failure(monkeypatch):
    calls = []

    def broker_down(args, **options):
        calls.append(args[0])
        raise ConnectionRefusedError

    monkeypatch.setattr("notifications.tasks.deliver_notification.apply_async", broker_down)
    assert queue_delivery(["a", "b", "c"]) == 0
    assert calls == ["a"]


def test_an_organisation_without_an_address_fails_at_once_without_retries(queued):
    boss = manager()
    row = email_row()
    organisation = contractor()
    organisation.notification_emails = []
    organisation.save()
    deliver(str(row.pk))
    row.refresh_from_db()
    assert row.state == DeliveryState.FAILED
    assert queued["later"] == []
    assert InboxItem.objects.filter(user=boss, event=Event.DELIVERY_FAILED).count() == 1


def test_an_offer_to_a_provider_nobody_can_be_told_at_fails_and_managers_see_it(queued, settings, client):
    boss = manager()
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    # No address, no webhook and nobody signed up yet: the offer reaches no one there.
    provider = CareProviderFactory(organisation__notification_emails=[])
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)

    (row,) = Notification.objects.filter(referral=referral, event=Event.OFFER_MADE)
    deliver(str(row.pk))

    row.refresh_from_db()
    assert (row.state, row.last_error) == (DeliveryState.FAILED, "no email address")
    alert = InboxItem.objects.get(user=boss, event=Event.DELIVERY_FAILED)
    assert referral.reference in alert.message and provider.organisation.name in alert.message
    settings.REQUIRE_MFA = False
    client.force_login(boss)
    assert referral.reference in client.get(reverse("notifications:undelivered")).text


def test_an_organisation_told_in_the_inbox_or_by_webhook_gets_no_email_row_without_an_address(
    webhook_receiver, queued
):
    provider = CareProviderFactory(organisation__notification_emails=[])
    staff = provider_user(provider)
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    assert InboxItem.objects.filter(user=staff, event=Event.OFFER_MADE).exists()
    assert not Notification.objects.filter(referral=referral, event=Event.OFFER_MADE).exists()
    hooked = offer_to_webhook(webhook_receiver.url)  # a provider with a webhook alone
    assert not hooked.referral.notifications.filter(event=Event.OFFER_MADE, channel=Channel.EMAIL).exists()


def test_no_attempt_log_or_error_holds_the_message(webhook_receiver):
    webhook_receiver.respond = lambda n: 500
    row = offer_to_webhook(webhook_receiver.url)
    deliver(str(row.pk))
    row.refresh_from_db()
    detail = row.delivery_attempts.get().detail
    assert row.reference not in detail and row.reference not in row.last_error
    assert delivery.Outcome(False, "HTTP 500").detail == detail
