from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.TextChoices):
    REFERRAL_RECEIVED = "referral.received", "New referral"
    REFERRAL_ASSESSED = "referral.assessed", "Referral assessed"
    REFERRAL_DECLINED = "referral.declined", "Referral declined"
    REFERRAL_WITHDRAWN = "referral.withdrawn", "Referral withdrawn"
    OFFER_MADE = "offer.made", "Placement offered"
    OFFER_REVOKED = "offer.revoked", "Placement offer withdrawn"
    OFFER_REJECTED = "offer.rejected", "Placement offer rejected"
    OFFER_EXPIRED = "offer.expired", "Placement offer expired"
    REFERRAL_PLACED = "referral.placed", "Person placed"
    PERSON_MISSING = "referral.missing", "Person reported missing"
    # The missing clock's repeat (SPEC §5): the same episode, not a new disappearance.
    STILL_MISSING = "referral.still_missing", "Person still missing"
    PERSON_FOUND = "referral.found", "Missing person found"
    REFERRAL_REALLOCATED = "referral.reallocated", "Placement ended for reallocation"
    REFERRAL_RECOVERED = "referral.recovered", "Person recovered and moved on"
    REFERRAL_EXITED = "referral.exited", "Person exited support"
    # A person referred as a child has turned 18: their support continues only with their consent.
    PERSON_NOW_18 = "referral.now_18", "Person now 18"
    # The person's details were corrected (an age assessment, say): whether they are now treated as a
    # child goes with it, and what the provider holding the case no longer fits, the details never.
    REFERRAL_CORRECTED = "referral.corrected", "Details corrected"
    DEADLINE_REMINDER = "deadline.reminder", "Deadline approaching"
    DEADLINE_BREACHED = "deadline.breached", "Deadline passed"
    DELIVERY_FAILED = "notification.failed", "Notification could not be delivered"


# A missing person's alerts: the first, at once, and the repeats until they are found or the case closes.
MISSING_EVENTS = (Event.PERSON_MISSING, Event.STILL_MISSING)
# Alerts shown as urgent in the inbox until read (``InboxItem.urgent``): a person is missing, or a deadline
# has passed.
URGENT_EVENTS = frozenset({*MISSING_EVENTS, Event.DEADLINE_BREACHED})


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    # Not sent: what it told of was over by the time a worker took it (``selectors.outdated_because``).
    OUTDATED = "outdated", "Not sent: no longer current"


class Notification(models.Model):
    """An outbox row: one event for one organisation on one channel (SPEC §6).

    Written in the same transaction as the change that caused it; delivered by Celery after commit;
    re-sent by the outbox sweep while still pending. ``id`` is the event id receivers use to drop repeats.
    Holds no personal data: only the event, the case reference, the due or last-seen time and a link.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=40, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="notifications"
    )
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    reference = models.CharField(max_length=20, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # For a deadline's reminder or breach: which clock (a case can have several open).
    clock = models.CharField(max_length=20, blank=True, default="")
    # For a missing person's escalations, the first and the repeats: since when they have been missing.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # For a new referral and a missing person's escalations: whether the person is treated as a child. For
    # a correction of the person's details: whether it left them treated as a child, as it did then, not
    # as a later correction may have.
    child = models.BooleanField(null=True, blank=True)
    # For a correction that left the provider of the pending offer or of the placement unable to take the
    # person, as it did then: ``{"provider_of": "offer" or "placement", "lacking": ["children", "region",
    # "beds"], "region": the region it does not serve}`` (``referrals.services.misfit_notice``; "beds":
    # it has no bed at all of the kind the person needs, which kind it does not say). Codes, never
    # personal data.
    misfit = models.JSONField(null=True, blank=True)
    # Whether the person needs a place to stay today. For a new referral: whether it is an emergency. For
    # a correction of it: what it made the case, as it did then, with the placement's due time in
    # ``due_at`` where a placement clock runs, moved or not. The event decides the words
    # (``services.inbox_message``).
    emergency = models.BooleanField(null=True, blank=True)
    # For a correction that made the person no longer safe to contact directly, or changed the number
    # they had: ``referrals.choices.ContactChange``'s code, as it did then; "" otherwise. A default in the
    # database too, for the release before this one, which writes none.
    contact = models.CharField(max_length=20, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)
    # The case's events in the order they happened, for receivers to put retried deliveries back in
    # order: one more than the case's last, given by ``notify_many`` under the case's row lock (0 for
    # events recorded before it was, older than every later one).
    sequence = models.PositiveIntegerField(default=0, db_default=0)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # How often the outbox sweep has queued it since a worker last took it: each time, the sweep waits
    # twice as long before the next copy. A default in the database too, for the release before this.
    requeues = models.PositiveSmallIntegerField(default=0, db_default=0)
    # When a worker last claimed it: an attempt whose outcome was never recorded is logged at that time.
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The organisation's addresses that accepted the email while the mail server refused others: its
    # retries go to the others only, so those that have it do not get it again.
    delivered_to = models.JSONField(default=list, blank=True, db_default=[])
    last_error = models.CharField(max_length=200, blank=True)
    # When a manager last sent it again: ``attempts`` counts from there, its earlier attempts stay logged.
    resent_at = models.DateTimeField(null=True, blank=True)

    # On the instance ``notifications.delivery.claim`` answers: when it was claimed before that claim,
    # and for a webhook, until when its receiver cools off (``WebhookCooloff``) if it ever did.
    claimed_before: datetime.datetime | None = None
    receiver_cools_off_until: datetime.datetime | None = None
    # And whether its organisation's webhook secret could not be decrypted with the keys configured.
    webhook_secret_unreadable: bool = False

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="notification_pending_due"
            ),
            models.Index(fields=["state", "-created_at"], name="notification_state_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.organisation_id} ({self.channel})"


class WebhookCooloff(models.Model):
    """An organisation's webhook receiver that timed out or refused the connection: until ``until``, its
    deliveries wait instead of each holding a worker's slot for the timeout (``WEBHOOK_COOLOFF_SECONDS``).
    Once ``until`` has passed, one delivery probes the receiver, holding ``until`` for as long as its
    claim; the row is deleted once the receiver answers (``notifications.delivery.probe_or_wait``). In
    the database, so that every worker process sees it."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.organisation_id} until {self.until}"


class DeliveryAttempt(models.Model):
    """One try at delivering a notification, with its outcome. Never holds the body."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField()
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.notification_id} {'ok' if self.succeeded else 'failed'}"


class InboxItem(models.Model):
    """An in-app notification for one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox", db_index=False
    )
    event = models.CharField(max_length=40, choices=Event.choices)
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reference = models.CharField(max_length=20, blank=True)
    # For a deadline's reminder or breach: which clock, so that stopping it marks its reminders read. A
    # default in the database too: a release still serving while this one migrates writes no clock.
    clock = models.CharField(max_length=20, blank=True, default="", db_default="")
    # Unbounded: a correction's line joins what it made of an emergency and what each reader is to do,
    # and no part of it may be cut off.
    message = models.TextField()
    # For a correction that left the provider unable to take the person: what the item asks its reader to
    # do (``services.misfit_action``'s code), so that it is read once that is done or nobody's to do. A
    # default in the database too, for the release before this one, which writes none.
    action = models.CharField(max_length=20, blank=True, default="", db_default="")
    # For a failed delivery: the first failed notification it tells of, whose organisation and channel
    # the later failures of the same outage are counted against (``failures``) while it is unread.
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A default in the database too, for the release before this one, which writes none.
    failures = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="inbox_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.user_id}"

    @property
    def read(self) -> bool:
        return self.read_at is not None

    @property
    def urgent(self) -> bool:
        """An alert not read yet. Once read, by its reader or for everyone once the missing person is found
        or leaves support (``services.missing_items_done``), its message still says what it was, but an
        Urgent tag would send whoever scans the inbox after an emergency that is over."""
        return self.event in URGENT_EVENTS and not self.read
