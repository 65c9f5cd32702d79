"""Delivering outbox rows by email and signed webhook, with retries (SPEC §6).

Delivery is at least once. A worker first *claims* a pending row with a conditional UPDATE that pushes
``next_attempt_at`` past the time a send can take (``NOTIFICATION_CLAIM_SECONDS``), so a second task
for the same row, or the outbox sweep, leaves it alone while it is in flight; if the worker dies, the
claim lapses and the sweep sends the row again with the same event id. A send therefore ends well
inside the claim: a webhook within ``WEBHOOK_TIMEOUT_SECONDS`` (at most half the claim), an email's
whole SMTP session within half the claim.

Every attempt is logged as a ``DeliveryAttempt`` holding the outcome and an HTTP status or an error
class, never the body; an attempt whose worker died, or lost its database connection, before its
outcome was recorded is logged as failed, at the time it was claimed, when the row is next claimed. A
failed attempt is retried after an exponential back-off with full jitter, both through a Celery
countdown and through ``next_attempt_at`` (so the sweep still finds it if the broker loses the
message). After ``NOTIFICATION_MAX_ATTEMPTS``, or at once for a failure no retry mends, the row is
``failed`` and managers are told in their inbox, once per outage (``tell_managers_of_failure``).

A webhook receiver that timed out or refused the connection cools off (``cool_off``): its organisation's
webhooks wait, without using an attempt, for ``WEBHOOK_COOLOFF_SECONDS``. Then one delivery probes it
(``probe_or_wait``) while the others wait on: if it reaches the receiver, the cool-off is over and they
go, spread over a cool-off; if it too times out or is refused, the cool-off starts again.

What is sent holds the event, the case reference, the due or last-seen time and a link: no personal data.

Webhook scheme
--------------
``POST`` to the organisation's ``webhook_url`` with ``Content-Type: application/json`` and the body::

    {"id": "<event id>", "event": "offer.made", "reference": "HBR-2026-000042",
     "due_at": "2026-11-28T16:00:00+00:00" or null, "clock": "check_in" (for deadline.* events) or null,
     "last_seen_at": "2026-11-27T22:15:00+00:00" (for referral.missing and .still_missing) or null,
     "link": "https://harbour.example/cases/42/",
     "occurred_at": "2026-11-27T16:00:00.123456+00:00", "sequence": 7,
     "timestamp": 1795891200}

``due_at`` is, for ``referral.received``, when the assessment is due; for ``referral.assessed``, when
the placement is; and for ``referral.found``, when the check-in is, if they are back in their placement.
``referral.received`` also holds ``"child": true`` or ``false`` (whether the person is treated as a
child) and ``"emergency": true`` or ``false`` (whether they need a place to stay today);
``referral.missing`` and ``referral.still_missing`` hold ``"child"`` too.
``referral.corrected`` holds ``"child": true`` or ``false``: whether the correction left the
person treated as a child (which every receiver of it already sees), never the details corrected;
``"emergency": true`` or ``false`` when it made the case an emergency or no longer one, with
``due_at`` the placement's due time, moved or not, where a placement clock runs (it may already be
past); and,
when it left the provider of the pending offer or of the placement unable to take the person,
``"misfit": {"provider_of": "offer" or "placement", "lacking": ["children", "region", "beds"] (beds: it
has no bed at all of the kind the person needs), "region": "london" (the region it does not serve, if it
does not), "action": "offer_again", "reallocate" (to the managers), "reject_offer" (to the offer's
provider), "phone_managers" (to the placement's provider) or null}``; and, when it made the person no
longer safe to contact directly or changed the number they had, ``"contact": "not_safe"`` or
``"phone_changed"`` (whoever may phone the person is not to: never the number).

``occurred_at`` is when the event happened (UTC) and ``sequence`` its place among its case's events
(one more than the case's event before it; 0 for events recorded before Harbour numbered them):
retries deliver events out of order, so a receiver ignores an event older than the last one it applied
for that case. ``timestamp`` is when this attempt was signed.

and the headers

* ``X-Harbour-Event-Id``: the event id, the same on every retry, so a receiver can drop repeats;
* ``X-Harbour-Timestamp``: Unix seconds when this attempt was signed (also ``timestamp`` in the body);
* ``X-Harbour-Signature``: ``sha256=`` + hex HMAC-SHA256 over the raw body bytes (SPEC §6), keyed with
  the organisation's webhook secret: ``HMAC(secret, body)``.

A receiver recomputes the HMAC over the raw body it received and compares it in constant time
(``hmac.compare_digest``). The signed body holds the timestamp, so a receiver that rejects one more
than a few minutes from its clock stops replays. Any 2xx answer counts as delivered; 401, 403, 404 and
410 fail at once (``REFUSALS_TO_MEND_HERE``); anything else, a redirect or no whole answer within
``WEBHOOK_TIMEOUT_SECONDS`` of the start is retried.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import http
import http.client
import io
import json
import logging
import math
import random
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.core.mail.backends import smtp
from django.core.mail.message import sanitize_address
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Least
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import capfirst

from accounts.models import Organisation, OrganisationKind, User
from referrals.choices import EMERGENCY_MEANS, ContactChange
from referrals.encryption import DecryptionFailed, decrypt
from referrals.local_time import local_time

from .models import Channel, DeliveryAttempt, DeliveryState, Event, InboxItem, Notification, WebhookCooloff
from .selectors import why_outdated
from .services import (
    clock_label,
    due_words,
    emergency_words,
    misfit_action,
    misfit_words,
    publish_delivery,
    queue_delivery,
)

logger = logging.getLogger(__name__)

# What a failure to send means, in words a manager can act on; the class name says the rest. Never the
# exception's message, which may quote what was being sent.
FAILURES_IN_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "the receiver refused the connection"),
    (TimeoutError, "the receiver did not answer in time"),
    (socket.gaierror, "the receiver's address was not found"),
    (ssl.SSLError, "the secure connection failed"),
    (smtplib.SMTPException, "the mail server refused the email"),
    (OSError, "the receiver could not be reached"),
)


def failure_in_words(error: BaseException) -> str:
    for kind, words in FAILURES_IN_WORDS:
        if isinstance(error, kind):
            return f"{words} ({type(error).__name__})"
    return type(error).__name__


# A Celery countdown may fire a moment before the stored time; this much early is still on time.
CLAIM_TOLERANCE = datetime.timedelta(seconds=2)
REQUEUE_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    detail: str
    # A failure no retry can mend, such as an organisation with no address at all.
    permanent: bool = False


# ------------------------------------------------------------------------------------------ content


def case_path(referral_id: int | None) -> str:
    if referral_id is None:
        return "/"
    try:
        return reverse("referrals:case", kwargs={"pk": referral_id})
    except NoReverseMatch:
        return f"/cases/{referral_id}/"


def case_link(notification: Notification) -> str:
    return settings.SITE_URL.rstrip("/") + case_path(notification.referral_id)


# An email's times always name their zone.
EMAIL_MOMENT = "%-d %b %Y %H:%M %Z"


def email_content(notification: Notification) -> tuple[str, str]:
    """Subject and body: the event, the case reference, when it happened, the due or last-seen time,
    whether the case is a child's or an emergency where the event says, what a correction did to phoning
    the person (in the subject too, to be read before the email is opened), and a link. Nothing else."""
    label = Event(notification.event).label
    subject = f"Harbour: {label}" + (f" – {notification.reference}" if notification.reference else "")
    lines = [label, ""]
    if notification.contact:
        contact = ContactChange(notification.contact).label
        subject += f": {contact}"
        lines.append(f"{capfirst(contact)}.")
    if notification.reference:
        lines.append(f"Case: {notification.reference}")
    # A retried email arrives after later ones: when it happened puts it back in its place.
    lines.append(f"Happened: {local_time(notification.created_at, EMAIL_MOMENT)}")
    if notification.clock:
        lines.append(f"Deadline: {clock_label(notification.clock)}")
    if notification.last_seen_at is not None:
        lines.append(f"Last seen: {local_time(notification.last_seen_at, EMAIL_MOMENT)}")
    if notification.due_at is not None:
        due = due_words(notification.event).capitalize()
        lines.append(f"{due}: {local_time(notification.due_at, EMAIL_MOMENT)}")
    if notification.child is not None:
        lines.append(f"Treated as a child: {'Yes' if notification.child else 'No'}")
    if notification.emergency is not None and notification.event == Event.REFERRAL_CORRECTED:
        said = emergency_words(
            notification.emergency, notification.due_at, EMAIL_MOMENT, at=notification.created_at
        )
        lines.append(f"{said}.")
    elif notification.emergency is not None:
        lines.append(f"Emergency: {f'Yes, {EMERGENCY_MEANS}' if notification.emergency else 'No'}")
    if notification.misfit:
        lines.append(misfit_words(notification.misfit, notification.organisation.kind))
    lines.append(f"Open the case: {case_link(notification)}")
    lines += ["", "Sign in to Harbour to see the details."]
    return subject, "\n".join(lines) + "\n"


def webhook_payload(notification: Notification, timestamp: int) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(notification.pk),
        "event": notification.event,
        "reference": notification.reference,
        "due_at": notification.due_at.isoformat() if notification.due_at else None,
        "clock": notification.clock or None,
        "last_seen_at": notification.last_seen_at.isoformat() if notification.last_seen_at else None,
        "link": case_link(notification),
        "occurred_at": notification.created_at.astimezone(datetime.UTC).isoformat(),
        "sequence": notification.sequence,
        "timestamp": timestamp,
    }
    if notification.child is not None:
        payload["child"] = notification.child
    if notification.emergency is not None:
        payload["emergency"] = notification.emergency
    if notification.misfit:
        action, _ = misfit_action(notification.misfit, notification.organisation.kind)
        payload["misfit"] = {**notification.misfit, "action": action}
    if notification.contact:
        payload["contact"] = notification.contact
    return payload


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------ channels


_connections = threading.local()


def _connection(scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's open connection to the receiver, and whether it has carried a request before.

    A worker sends many webhooks to the same few receivers, so each thread keeps one keep-alive
    connection per receiver instead of paying for a TCP (and TLS) handshake on every delivery.
    """
    pool: dict[tuple[str, str], http.client.HTTPConnection] = _connections.__dict__.setdefault("pool", {})
    existing = pool.get((scheme, netloc))
    if existing is not None:
        existing.timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        if existing.sock is not None:
            existing.sock.settimeout(existing.timeout)
        return existing, True
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    fresh = kind(netloc, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    pool[(scheme, netloc)] = fresh
    return fresh, False


def _drop_connection(scheme: str, netloc: str) -> None:
    connection_ = _connections.__dict__.get("pool", {}).pop((scheme, netloc), None)
    if connection_ is not None:
        connection_.close()


# Of a receiver's answer only this much is read; the rest is dropped with the connection.
ANSWER_READ_LIMIT = 64 * 1024


def time_left(deadline: float, at_most: float | None = None) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value), no more than ``at_most``; a
    TimeoutError once it has passed. Set as a socket's timeout before each operation, it bounds their sum.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the deadline passed")
    return remaining if at_most is None else min(remaining, at_most)


class _ReaderWithDeadline(io.RawIOBase):
    """A socket reader (http.client's or smtplib's) giving up at a deadline.

    The socket's timeout bounds each read, not their sum: without a deadline a receiver sending its
    answer a byte every few seconds would hold the worker's thread, and every notification queued
    behind it, for as long as it liked. ``at_most`` keeps a shorter bound on each read, if any.
    """

    def __init__(self, raw: Any, sock: socket.socket, deadline: float, at_most: float | None = None) -> None:
        super().__init__()
        self._raw = raw  # it holds its own reference to the socket, as the reader it replaces did
        self._socket = sock
        self._deadline = deadline
        self._at_most = at_most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._socket.settimeout(time_left(self._deadline, self._at_most))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _AnswerWithDeadline(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_ReaderWithDeadline(self.fp.detach(), sock, deadline))


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST on this thread's keep-alive connection to the receiver; answer the HTTP status.

    The answer must arrive within ``WEBHOOK_TIMEOUT_SECONDS`` of the start, and only its first
    ``ANSWER_READ_LIMIT`` bytes are read. Redirects are not followed: the receiver must answer at its
    own URL. A connection the receiver closed while it was idle is replaced once; any other failure
    raises and is an attempt to retry.
    """
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT_SECONDS
    while True:
        connection_, reused = _connection(parts.scheme, parts.netloc)
        connection_.response_class = functools.partial(_AnswerWithDeadline, deadline=deadline)  # type: ignore[assignment]
        try:
            connection_.request("POST", target, body=body, headers=headers)
            response = connection_.getresponse()
            response.read(ANSWER_READ_LIMIT)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            _drop_connection(parts.scheme, parts.netloc)
            if reused:
                continue  # the idle connection had been closed by the receiver: once more on a new one
            raise
        except BaseException:
            _drop_connection(parts.scheme, parts.netloc)
            raise
        if response.will_close or not response.isclosed():  # closing, or more answer than is read
            _drop_connection(parts.scheme, parts.netloc)
        return response.status


# Answers no retry mends: a wrong secret, or an address with no receiver. The notification fails at once,
# so managers hear of it within minutes, not after hours of retries. Any other answer (408, 429, 5xx …)
# may mend itself and is retried.
REFUSALS_TO_MEND_HERE: dict[int, str] = {
    http.HTTPStatus.UNAUTHORIZED: "check the webhook secret",
    http.HTTPStatus.FORBIDDEN: "check the webhook secret",
    http.HTTPStatus.NOT_FOUND: "check the webhook address",
    http.HTTPStatus.GONE: "check the webhook address",
}


def send_webhook(notification: Notification) -> Outcome:
    organisation = notification.organisation
    url = organisation.webhook_url
    if not url.startswith(("https://", "http://")):
        return Outcome(False, "no webhook address", permanent=True)
    if notification.webhook_secret_unreadable:
        # Retried: this process is restarted with the key (a key rotation rolling out), or it fails and the
        # managers hear of it.
        return Outcome(False, "the webhook secret could not be decrypted: check FIELD_ENCRYPTION_KEYS")
    if not organisation.webhook_secret:
        # A signature made with an empty key proves nothing: anyone can compute it.
        return Outcome(False, "no webhook secret", permanent=True)
    timestamp = int(time.time())
    body = json.dumps(webhook_payload(notification, timestamp), separators=(",", ":")).encode()
    status = post(
        url,
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "Harbour-Webhooks/1",
            "X-Harbour-Event-Id": str(notification.pk),
            "X-Harbour-Timestamp": str(timestamp),
            "X-Harbour-Signature": webhook_signature(organisation.webhook_secret, body),
        },
    )
    if 200 <= status < 300:
        return Outcome(True, f"HTTP {status}")
    if advice := REFUSALS_TO_MEND_HERE.get(status):
        return Outcome(False, f"the receiver refused it (HTTP {status}): {advice}", permanent=True)
    return Outcome(False, f"HTTP {status}")


class _SmtpWithDeadline(smtplib.SMTP):
    """smtplib's client whose whole session, connecting included, ends by ``deadline``.

    Its ``timeout`` (Django's ``EMAIL_TIMEOUT``) bounds each socket operation, not their sum: a mail
    server answering each command just inside it would hold the worker for as long as it liked. So
    before each operation the socket may wait only for what is left; a reply is read through the
    webhook's deadline reader, made again on the TLS socket after STARTTLS.
    """

    def __init__(self, *args: Any, deadline: float, refused: dict[str, Any], **kwargs: Any) -> None:
        self._deadline = deadline
        self._refused = refused
        super().__init__(*args, **kwargs)

    def sendmail(self, *args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
        # What Django's backend drops: the recipients refused while others were accepted.
        refused = super().sendmail(*args, **kwargs)
        self._refused.update(refused)
        return refused

    @property
    def _each_at_most(self) -> float | None:
        return self.timeout if isinstance(self.timeout, int | float) else None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # For SMTPS the TLS handshake too, which the socket's timeout bounds as a whole.
        seconds = time_left(self._deadline, self._each_at_most)
        return super()._get_socket(host, port, seconds)  # type: ignore[misc]

    def send(self, s: Any) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(time_left(self._deadline, self._each_at_most))
            except TimeoutError as error:
                self.close()  # as smtplib does when a send fails
                raise smtplib.SMTPServerDisconnected("Server not connected") from error
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            raw = self.sock.makefile("rb", buffering=0)
            reader = _ReaderWithDeadline(raw, self.sock, self._deadline, self._each_at_most)
            self.file = io.BufferedReader(reader)
        return super().getreply()


class _SmtpSslWithDeadline(_SmtpWithDeadline, smtplib.SMTP_SSL):
    pass


class SmtpBackendWithDeadline(smtp.EmailBackend):
    """Django's SMTP backend with each send, from connecting to QUIT, bounded by ``seconds``, and
    ``refused`` the recipients the mail server refused while accepting others (Django ignores them)."""

    def __init__(self, *, seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds
        self.deadline = math.inf
        self.refused: dict[str, tuple[int, bytes]] = {}

    @property
    def connection_class(self) -> Any:
        kind = _SmtpSslWithDeadline if self.use_ssl else _SmtpWithDeadline
        return functools.partial(kind, deadline=self.deadline, refused=self.refused)

    def send_messages(self, email_messages: Any) -> int:
        self.deadline = time.monotonic() + self.seconds
        try:
            return super().send_messages(email_messages)
        except smtplib.SMTPServerDisconnected as error:
            # smtplib reports a socket that ran out of time as a lost connection.
            if isinstance(error.__context__, TimeoutError):
                raise TimeoutError("the mail server did not answer in time") from error
            raise


def email_connection() -> SmtpBackendWithDeadline | None:
    """Django's SMTP backend bounded by half the claim, as a webhook by ``WEBHOOK_TIMEOUT_SECONDS``.

    A send outlasting its claim (and the sweep's wait after it) is sent again by a second worker while
    the first is still sending. Other backends (file, console, memory) are used as configured.
    """
    if import_string(settings.EMAIL_BACKEND) is not smtp.EmailBackend:
        return None
    return SmtpBackendWithDeadline(seconds=settings.NOTIFICATION_CLAIM_SECONDS / 2, fail_silently=False)


def send_email(notification: Notification) -> Outcome:
    """Email the organisation's addresses that do not have it yet.

    A mail server refusing some addresses and accepting others leaves the accepted ones in
    ``delivered_to`` and the attempt failed, to be retried to the others (the addresses themselves
    are never in the attempt's log).
    """
    addresses = list(notification.organisation.notification_emails or [])
    if not addresses:
        return Outcome(False, "no email address", permanent=True)
    recipients = [address for address in addresses if address not in notification.delivered_to]
    if not recipients:  # an address refused before was removed: every other one has it
        return Outcome(True, "sent")
    subject, body = email_content(notification)
    connection = email_connection()
    try:
        send_mail(
            subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False, connection=connection
        )
    except smtplib.SMTPRecipientsRefused as error:  # every one of them
        refused = error.recipients
    else:
        refused = connection.refused if connection is not None else {}
    if not refused:
        return Outcome(True, "sent")
    accepted = [
        address
        for address in recipients
        if sanitize_address(address, settings.DEFAULT_CHARSET) not in refused
    ]
    if accepted:
        Notification.objects.filter(pk=notification.pk).update(
            delivered_to=[*notification.delivered_to, *accepted]
        )
    addresses_in_all = f"{len(recipients)} address" + ("es" if len(recipients) > 1 else "")
    return Outcome(False, f"the mail server refused {len(recipients) - len(accepted)} of {addresses_in_all}")


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}


# ------------------------------------------------------------------------------------------ delivery


def backoff_seconds(attempt: int) -> float:
    """Exponential back-off with full jitter: uniform in [0, min(cap, base · 2^(attempt-1))]."""
    ceiling = min(
        settings.NOTIFICATION_RETRY_MAX_SECONDS,
        settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0),
    )
    return random.uniform(0, ceiling)


# Claim a due pending row and read it with what its channels need of its organisation, in one
# statement: its own transaction when the connection is in autocommit, as in a worker. ``set_config``
# turns off the commit flush for that transaction only (see ``bookkeeping``); it is evaluated only when
# a row was claimed, and a transaction that changed nothing has nothing to flush.
CLAIM_SQL = """
WITH previous AS (
    SELECT claimed_at FROM notifications_notification WHERE id = %(id)s
), claimed AS (
    UPDATE notifications_notification
       SET next_attempt_at = %(until)s, attempts = attempts + 1, requeues = 0, claimed_at = %(now)s
     WHERE id = %(id)s AND state = 'pending' AND next_attempt_at <= %(due_by)s
 RETURNING id, event, channel, organisation_id, referral_id, reference, due_at, created_at, attempts, clock,
           last_seen_at, sequence, delivered_to, child, misfit, emergency, contact
)
SELECT claimed.id, claimed.event, claimed.channel, claimed.organisation_id, claimed.referral_id,
       claimed.reference, claimed.due_at, claimed.created_at, claimed.attempts, claimed.clock,
       claimed.last_seen_at, claimed.sequence, claimed.delivered_to, claimed.child, claimed.misfit,
       claimed.emergency, claimed.contact, previous.claimed_at,
       organisation.name, organisation.kind, organisation.webhook_url, organisation.webhook_secret,
       organisation.notification_emails, cooloff.until, set_config('synchronous_commit', 'off', true)
  FROM claimed JOIN accounts_organisation AS organisation ON organisation.id = claimed.organisation_id
       CROSS JOIN previous
       LEFT JOIN notifications_webhookcooloff AS cooloff
              ON cooloff.organisation_id = claimed.organisation_id AND claimed.channel = 'webhook'
"""


def claim(notification_id: str) -> Notification | None:
    """Take a pending row that is due, or answer None if it is delivered, failed or in flight.

    One conditional UPDATE decides: of two workers claiming the same row at once, PostgreSQL lets
    only the first match it, so a row is never sent twice at the same time; the claim lasts
    ``NOTIFICATION_CLAIM_SECONDS`` and then lapses, so a dead worker's row is sent again.
    """
    try:
        pk = uuid.UUID(str(notification_id))
    except ValueError:
        return None
    now = timezone.now()
    until = now + datetime.timedelta(seconds=settings.NOTIFICATION_CLAIM_SECONDS)
    if connection.vendor != "postgresql":
        return _claim_portably(pk, now, until)
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"id": pk, "now": now, "until": until, "due_by": now + CLAIM_TOLERANCE})
        row = cursor.fetchone()
    if row is None:
        return None
    id_, event, channel, organisation_id, referral_id = row[:5]
    reference, due_at, created_at, attempts, clock, last_seen_at, sequence, delivered_to = row[5:13]
    child, misfit, emergency, contact = row[13:17]
    claimed_before = row[17]
    name, kind, webhook_url, webhook_secret, emails, cools_off_until = row[18:24]
    if isinstance(emails, str):  # a driver that leaves jsonb as text
        emails, delivered_to = json.loads(emails), json.loads(delivered_to)
        misfit = json.loads(misfit) if misfit is not None else None
    secret, secret_unreadable = "", False
    # Read past the field, and only for a webhook: an email never needs the secret, so a secret this
    # process cannot decrypt (written under a key it does not have yet) holds up no email.
    if channel == Channel.WEBHOOK and webhook_secret:
        try:
            secret = decrypt(webhook_secret)
        except DecryptionFailed:
            secret_unreadable = True
    organisation = Organisation(
        id=organisation_id,
        name=name,
        kind=kind,
        webhook_url=webhook_url,
        webhook_secret=secret,
        notification_emails=emails,
    )
    notification = Notification(
        id=id_,
        event=event,
        channel=channel,
        organisation=organisation,
        referral_id=referral_id,
        reference=reference,
        due_at=due_at,
        clock=clock,
        last_seen_at=last_seen_at,
        child=child,
        emergency=emergency,
        misfit=misfit,
        contact=contact,
        created_at=created_at,
        sequence=sequence,
        delivered_to=delivered_to,
        state=DeliveryState.PENDING,
        attempts=attempts,
        next_attempt_at=until,
        claimed_at=now,
    )
    notification.claimed_before = claimed_before
    notification.receiver_cools_off_until = cools_off_until
    notification.webhook_secret_unreadable = secret_unreadable
    notification._state.adding = False
    notification._state.db = connection.alias
    return notification


def _claim_portably(pk: uuid.UUID, now: datetime.datetime, until: datetime.datetime) -> Notification | None:
    """The same claim in two statements, for databases without UPDATE … RETURNING in a CTE."""
    with transaction.atomic():
        due = Notification.objects.filter(
            pk=pk, state=DeliveryState.PENDING, next_attempt_at__lte=now + CLAIM_TOLERANCE
        )
        claimed_before = due.values_list("claimed_at", flat=True).first()
        if not due.update(next_attempt_at=until, attempts=F("attempts") + 1, requeues=0, claimed_at=now):
            return None
        notification = (
            Notification.objects.select_related("organisation")
            .defer("organisation__webhook_secret")
            .get(pk=pk)
        )
        notification.claimed_before = claimed_before
        if notification.channel == Channel.WEBHOOK:
            try:
                notification.organisation.webhook_secret  # noqa: B018  # loaded, and decrypted, for a webhook only
            except DecryptionFailed:
                notification.webhook_secret_unreadable = True
            cooloff = WebhookCooloff.objects.filter(organisation_id=notification.organisation_id)
            notification.receiver_cools_off_until = cooloff.values_list("until", flat=True).first()
        return notification


@contextmanager
def bookkeeping() -> Iterator[None]:
    """A transaction for delivery bookkeeping that does not wait for its commit to reach the disk.

    Losing such a commit in a database crash only means a notification is sent again, which
    at-least-once delivery allows; it saves a disk flush on every claim and every outcome. The
    changes that matter (the referral and its outbox rows) are committed durably by the services.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


# Logged for an attempt whose claim was made but whose outcome never was.
NO_OUTCOME = "outcome not recorded (the worker or its database connection was lost)"


def log_attempts_without_outcome(notification: Notification) -> None:
    """Log as failed each earlier attempt that was never logged (SPEC §6: every attempt is logged).

    A claim counts an attempt before sending and its log row is written after; a worker killed in
    between, or one that lost its database connection, perhaps after the receiver got the request,
    leaves ``attempts`` ahead of the log. Such an attempt is logged at the time it was claimed (one
    lost before that one, which only a worker killed between two claims and their logging leaves, at
    that time too: it was no later).
    """
    # Since it was last sent again, if it was: ``attempts`` starts again from there.
    since = Coalesce(F("notification__resent_at"), F("notification__created_at"))
    logged = DeliveryAttempt.objects.filter(notification_id=notification.pk, at__gte=since).count()
    missing = notification.attempts - 1 - logged
    if missing <= 0:
        return
    at = notification.claimed_before or timezone.now()  # or claimed before claims were timed
    with bookkeeping():
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(notification=notification, at=at, succeeded=False, detail=NO_OUTCOME)
            for _ in range(missing)
        )
        # Listed with the undelivered ones while it is retried, as after any failed attempt.
        Notification.objects.filter(pk=notification.pk, state=DeliveryState.PENDING).update(
            last_error=NO_OUTCOME
        )


def deliver(notification_id: str) -> None:
    """Send one outbox row if it is still pending. Safe to run twice, and at the same time."""
    notification = claim(notification_id)
    if notification is None:
        return
    if notification.attempts > 1:  # only a retry can follow an attempt left unlogged; a first costs nothing
        log_attempts_without_outcome(notification)
    if why := why_outdated(notification):
        drop_outdated(notification, why)
        return
    if notification.attempts > settings.NOTIFICATION_MAX_ATTEMPTS:
        fail_after_attempts_lost(notification)
        return
    cools_off_until = notification.receiver_cools_off_until
    if cools_off_until is not None and cools_off_until <= timezone.now():
        cools_off_until = probe_or_wait(notification)
    if cools_off_until is not None:
        defer_while_cooling_off(notification, cools_off_until)
        return
    receiver_down = False
    try:
        outcome = SENDERS[Channel(notification.channel)](notification)
    except Exception as error:  # any failure to send is an outcome to record and retry
        outcome = Outcome(False, failure_in_words(error))
        receiver_down = notification.channel == Channel.WEBHOOK and isinstance(error, RECEIVER_DOWN)
    if receiver_down:
        cool_off(notification.organisation_id)
    elif notification.receiver_cools_off_until is not None:
        end_cool_off(notification)
    record_outcome(notification, outcome)


def fail_after_attempts_lost(notification: Notification) -> None:
    """Fail a claimed row whose last attempt was made already and lost with its worker (or its database
    connection), instead of trying beyond ``NOTIFICATION_MAX_ATTEMPTS``: a row whose worker is lost on
    every attempt would otherwise be sent for ever, never failed, and the managers never told. The claim
    made no attempt, so it is not counted; the managers can send it again once the cause is found."""
    ours = Notification.objects.filter(
        pk=notification.pk, state=DeliveryState.PENDING, attempts=notification.attempts
    )
    with bookkeeping():
        if ours.update(state=DeliveryState.FAILED, attempts=F("attempts") - 1, last_error=NO_OUTCOME):
            tell_managers_of_failure(notification, reason=NO_OUTCOME)
    logger.warning(
        "Notification %s failed after %d attempt(s): %s",
        notification.pk,
        notification.attempts - 1,
        NO_OUTCOME,
    )


def drop_outdated(notification: Notification, why: str) -> None:
    """Not send a claimed row that is no longer current, however late it comes (a broker back after an
    outage, a retry, the outbox sweep): a provider asked to answer an offer already closed, or reminded
    of a deadline already met, would act on something over. Logged as an attempt not made."""
    detail = f"not sent: no longer current ({why})"
    with bookkeeping():
        DeliveryAttempt.objects.create(notification=notification, succeeded=False, detail=detail)
        Notification.objects.filter(pk=notification.pk, state=DeliveryState.PENDING).update(
            state=DeliveryState.OUTDATED, last_error=detail
        )
    logger.info("Notification %s not sent: no longer current (%s)", notification.pk, why)


# A webhook receiver failing so is likely to fail the next delivery the same way: it cools off.
RECEIVER_DOWN = (TimeoutError, ConnectionRefusedError)


def cool_off(organisation_id: int) -> None:
    """Hold the organisation's webhook deliveries for ``WEBHOOK_COOLOFF_SECONDS``: one receiver that
    hangs must not hold every worker slot, and so every other organisation's alerts, for its timeout."""
    until = timezone.now() + datetime.timedelta(seconds=settings.WEBHOOK_COOLOFF_SECONDS)
    WebhookCooloff.objects.update_or_create(organisation_id=organisation_id, defaults={"until": until})


def probe_or_wait(notification: Notification) -> datetime.datetime | None:
    """Once a receiver's cool-off has ended, let one delivery alone try it (half-open): answer None if this
    one probes the receiver, or the cool-off is over; else until when this one waits.

    The probe holds the cool-off for as long as its claim (``next_attempt_at``), in one conditional
    UPDATE: of several workers finding the cool-off ended, PostgreSQL lets only the first match it. The
    probe then ends the cool-off or starts it again; a probe whose worker died lets go when its claim
    lapses, and the next delivery probes.
    """
    cooloff = WebhookCooloff.objects.filter(organisation_id=notification.organisation_id)
    if cooloff.filter(until__lte=timezone.now()).update(until=notification.next_attempt_at):
        return None
    return cooloff.values_list("until", flat=True).first()


def end_cool_off(notification: Notification) -> None:
    """The probe did not find the receiver down (it answered, even with an error): its cool-off is over,
    and the deliveries held back go at the times they were given, spread over a cool-off. Only the probe's
    own hold ends: one started again since (another delivery that timed out meanwhile) stays."""
    WebhookCooloff.objects.filter(
        organisation_id=notification.organisation_id, until=notification.next_attempt_at
    ).delete()


def defer_while_cooling_off(notification: Notification, until: datetime.datetime) -> None:
    """Put a claimed row back, not counting the attempt its claim counted, until its receiver's
    cool-off has ended; spread over a cool-off after that, so the rows held back do not all try the
    receiver at once."""
    delay = (until - timezone.now()).total_seconds() + random.uniform(0, settings.WEBHOOK_COOLOFF_SECONDS)
    ours = Notification.objects.filter(
        pk=notification.pk, state=DeliveryState.PENDING, attempts=notification.attempts
    )
    if ours.update(
        attempts=F("attempts") - 1, next_attempt_at=timezone.now() + datetime.timedelta(seconds=delay)
    ):
        schedule_retry(str(notification.pk), delay)


# A delivered row and its attempt in one statement, hence one transaction; see CLAIM_SQL for set_config.
DELIVERED_SQL = """
WITH delivered AS (
    UPDATE notifications_notification
       SET state = 'delivered', delivered_at = %(at)s, last_error = ''
     WHERE id = %(id)s AND state = 'pending'
)
INSERT INTO notifications_deliveryattempt (notification_id, at, succeeded, detail)
SELECT %(id)s, %(at)s, true, %(detail)s FROM (SELECT set_config('synchronous_commit', 'off', true)) AS flush
"""


def record_outcome(notification: Notification, outcome: Outcome) -> None:
    now = timezone.now()
    if outcome.succeeded and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(DELIVERED_SQL, {"id": notification.pk, "at": now, "detail": outcome.detail[:200]})
        return
    attempt = DeliveryAttempt(
        notification=notification, at=now, succeeded=outcome.succeeded, detail=outcome.detail[:200]
    )
    pending = Notification.objects.filter(pk=notification.pk, state=DeliveryState.PENDING)
    with bookkeeping():
        attempt.save()
        if outcome.succeeded:
            pending.update(state=DeliveryState.DELIVERED, delivered_at=now, last_error="")
            return
        # Only the holder of the latest claim decides what happens next.
        ours = pending.filter(attempts=notification.attempts)
        if outcome.permanent or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            if ours.update(state=DeliveryState.FAILED, last_error=outcome.detail[:200]):
                tell_managers_of_failure(notification, reason=outcome.detail[:200])
            logger.warning(
                "Notification %s failed after %d attempt(s): %s",
                notification.pk,
                notification.attempts,
                outcome.detail,
            )
            return
        delay = backoff_seconds(notification.attempts)
        if ours.update(
            next_attempt_at=now + datetime.timedelta(seconds=delay), last_error=outcome.detail[:200]
        ):
            notification_id = str(notification.pk)
            transaction.on_commit(lambda: schedule_retry(notification_id, delay))


def schedule_retry(notification_id: str, delay: float) -> None:
    # Not queued if the broker fails or failed lately: next_attempt_at is recorded, so the sweep retries.
    publish_delivery(notification_id, countdown=delay)


def tell_managers_of_failure(notification: Notification, *, reason: str) -> None:
    """Tell every manager in the inbox, with the ``reason`` it failed: not by email, which could fail the
    same way.

    Once per outage: a manager with an unread item for a failure to the same organisation by the same
    channel has it count this one ("… and 12 more"), with this reason, instead of a new item; once read,
    the next failure makes a new one. Their list of undelivered notifications still shows each failed
    notification.
    """
    # One failure to an organisation told at a time, so that two workers failing at once do not both add
    # an item; no key update, so that it does not wait for the outbox rows being written for it.
    list(
        Organisation.objects.select_for_update(no_key=True)
        .filter(pk=notification.organisation_id)
        .values("pk")
    )
    managers = set(
        User.objects.filter(organisation__kind=OrganisationKind.CONTRACTOR, is_active=True).values_list(
            "pk", flat=True
        )
    )
    unread = InboxItem.objects.filter(
        user_id__in=managers,
        event=Event.DELIVERY_FAILED,
        read_at__isnull=True,
        notification__organisation_id=notification.organisation_id,
        notification__channel=notification.channel,
    ).select_related("notification__organisation")
    told: set[int] = set()
    now = timezone.now()
    for item in unread:
        assert item.notification is not None  # as the filter asked
        # Counted only if still unread: the organisation lock does not hold back a manager reading the
        # item meanwhile, and a failure counted on an item already read would never reach them. Such a
        # manager gets a new item below instead. Dated now, it comes back to the top of the inbox as news.
        counted = InboxItem.objects.filter(pk=item.pk, failures=item.failures, read_at__isnull=True).update(
            failures=item.failures + 1,
            message=failure_message(item.notification, item.failures + 1, reason),
            created_at=now,
        )
        if counted:
            told.add(item.user_id)
    InboxItem.objects.bulk_create(
        InboxItem(
            user_id=user_id,
            event=Event.DELIVERY_FAILED,
            referral_id=notification.referral_id,
            reference=notification.reference,
            notification=notification,
            failures=1,
            message=failure_message(notification, 1, reason),
        )
        for user_id in managers - told
    )


def failure_message(first: Notification, failures: int, reason: str) -> str:
    """The first failed notification of an outage, how many failed after it, and why the latest failed
    (``last_error``, which holds no personal data), cut to fit the item's 300 characters: the head goes
    first, since the undelivered list names every failed notification but the manager must know why."""
    label = Event(first.event).label
    where = f"{Channel(first.channel).label.lower()} to {first.organisation.name}"
    more = f" and {failures - 1} more" if failures > 1 else ""
    tail = f"{more}: {reason}"
    message = f"{Event.DELIVERY_FAILED.label}: {first.reference or label} ({label}, {where})"
    return message[: 300 - len(tail)] + tail


def requeue_waits() -> list[datetime.timedelta]:
    """How long the outbox sweep leaves a row after queueing it 0, 1, 2 … times with no worker taking it.

    ``NOTIFICATION_REQUEUE_AFTER_SECONDS`` first, twice as long after each copy, at most
    ``NOTIFICATION_STUCK_MINUTES`` (the last wait is for every later copy too).
    """
    least = datetime.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS)
    most = max(least, datetime.timedelta(minutes=settings.NOTIFICATION_STUCK_MINUTES))
    waits = [least]
    while waits[-1] < most:
        waits.append(min(waits[-1] * 2, most))
    return waits


def requeue_pending(batch_size: int = REQUEUE_BATCH) -> int:
    """Queue again the pending rows nobody has tried in time (the broker was down, a worker died).

    A row in flight is not due (its claim moved ``next_attempt_at`` on), so it is not picked. A picked
    row gets ``next_attempt_at = now``: still due for the task queued here. While no worker takes
    deliveries, the copies queued before are still waiting for one, so each copy waits twice as long
    as the one before it (``requeue_waits``): an hour's outage leaves some ten copies of a row, not
    one a minute. A claim starts the count again, and so does ``forget_requeues``.
    """
    now = timezone.now()
    waits = requeue_waits()
    waited_long_enough = Q(requeues__gte=len(waits) - 1, next_attempt_at__lte=now - waits[-1])
    for requeues, wait in enumerate(waits[:-1]):
        waited_long_enough |= Q(requeues=requeues, next_attempt_at__lte=now - wait)
    with transaction.atomic():
        due = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(waited_long_enough, state=DeliveryState.PENDING)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        ids = list(due)
        if ids:
            Notification.objects.filter(pk__in=ids).update(
                next_attempt_at=now, requeues=Least(F("requeues") + 1, len(waits) - 1)
            )
    if ids:
        logger.info("Re-queueing %d pending notification(s)", len(ids))
    # Tried even while publishing is paused after a failure: this is how the process learns the broker
    # is back. What is not queued is picked again after NOTIFICATION_REQUEUE_AFTER_SECONDS.
    queued = queue_delivery([str(pk) for pk in ids], despite_pause=True)
    if queued < len(ids):
        forget_requeues()
    return queued


def forget_requeues() -> int:
    """Wait the shortest time again before queueing any pending row: the copies queued may be lost.

    When the broker fails, or a worker starts (after an outage in which the broker may have restarted
    empty), the rows' earlier copies may be gone, and the sweep must not wait on them.
    """
    return Notification.objects.filter(state=DeliveryState.PENDING, requeues__gt=0).update(requeues=0)
