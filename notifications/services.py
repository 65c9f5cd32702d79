"""Recording notifications: the outbox rows and inbox items written inside the caller's transaction.

``notify`` must be called inside the transaction of the change that caused the event, so that a change
that rolls back sends nothing. Delivery is handed to Celery only after commit; if the broker is down
or hangs then, the outbox sweep sends the rows later.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, User
from audit.services import record_change
from referrals.choices import (
    EMERGENCY_MEANS,
    MISFIT_ACTIONS,
    ContactChange,
    emergency_in_words,
    misfits_in_words,
)
from referrals.choices import misfit_action as reader_misfit_action
from referrals.exceptions import NotificationNotFailed, NotificationOutdated, NotPermitted
from referrals.local_time import MOMENT, local_time

from .models import MISSING_EVENTS, Channel, DeliveryState, Event, InboxItem, Notification
from .selectors import why_outdated, with_outdated_because

logger = logging.getLogger(__name__)


def manager_organisations() -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind=OrganisationKind.CONTRACTOR)


def manager_recipients() -> list[Organisation]:
    """The manager organisations, each with ``active_user_ids`` for its inbox items, in one query.

    ``notify`` takes the recipients from there instead of asking the database for them again. What
    ``notify`` does not read (the webhook secret, decrypted on every joined row) is left deferred.
    """
    fields = ["id", "name", "kind", "notification_emails", "webhook_url"]
    rows = manager_organisations().order_by("pk").values_list(*fields, "users__pk", "users__is_active")
    organisations: dict[int, Organisation] = {}
    for row in rows:
        *values, user_id, user_is_active = row
        organisation = organisations.get(values[0])
        if organisation is None:
            organisation = Organisation.from_db(rows.db, fields, values)
            organisation.active_user_ids = []  # type: ignore[attr-defined]
            organisations[organisation.pk] = organisation
        if user_id is not None and user_is_active:
            organisation.active_user_ids.append(user_id)  # type: ignore[attr-defined]
    return list(organisations.values())


def inbox_message(
    event: str,
    reference: str,
    due_at: datetime.datetime | None = None,
    clock: str = "",
    last_seen_at: datetime.datetime | None = None,
    child: bool | None = None,
    emergency: bool | None = None,
    misfit: dict[str, Any] | None = None,
    kind: str = "",
    contact: str = "",
) -> str:
    """The one-line message for an event, for an organisation of that ``kind``. Case reference, clock,
    due and last-seen times, whether the case is an emergency or a child's (for a correction: what it
    made of an emergency, and first, what it did to phoning the person) and what a correction left the
    provider unable to do: never personal data."""
    text = f"{Event(event).label}: {reference}" if reference else Event(event).label
    if contact:  # "Details corrected: HBR-…: no longer safe to contact directly — do not phone the person"
        text += f": {ContactChange(contact).label}"
    if clock:
        text += f", {clock_label(clock).lower()}"
    if last_seen_at is not None:
        text += f", last seen {local_time(last_seen_at, MOMENT)}"
    if event == Event.REFERRAL_CORRECTED:  # its ``emergency`` is what it changed, said in its own words
        if emergency is not None:
            text += f". {emergency_words(emergency, due_at, MOMENT, at=timezone.now())}"
    else:
        if emergency:
            text += f", emergency: {EMERGENCY_MEANS}"
        if child:
            text += ", a child"
        if due_at is not None:
            text += f" ({due_words(event)} {local_time(due_at, MOMENT)})"
    if misfit:
        text += f". {misfit_words(misfit, kind)}"
    return text


# The clock an event starts, whose due time it carries: "due" alone would not say what is. (A deadline's
# reminder or breach names its clock itself.) A person found back in their placement: the check-in.
CLOCK_DUE_OF: dict[str, str] = {
    Event.REFERRAL_RECEIVED: "assessment",
    Event.REFERRAL_ASSESSED: "placement",
    Event.PERSON_FOUND: "check_in",
}


def due_words(event: str) -> str:
    """What is due at an event's due time: "assessment due", or "due" where the event says what."""
    clock = CLOCK_DUE_OF.get(event)
    return f"{clock_label(clock).lower()} due" if clock else "due"


def emergency_words(
    emergency: bool, due_at: datetime.datetime | None, moment: str, *, at: datetime.datetime
) -> str:
    """What a correction made ``at`` that time made of an emergency, and the placement's due time if a
    placement clock runs: "Now an emergency: the placement is due 1 Dec 13:03"."""
    if due_at is None:
        return emergency_in_words(emergency)
    return emergency_in_words(emergency, local_time(due_at, moment), overdue=due_at <= at)


# Who reads a misfit's notice, as ``referrals.choices.MISFIT_ACTIONS`` names them.
MISFIT_READERS: dict[str, str] = {
    OrganisationKind.CONTRACTOR: "managers",
    OrganisationKind.CARE_PROVIDER: "provider",
}


def misfit_action(misfit: dict[str, Any], kind: str) -> tuple[str | None, str]:
    """The code and the words of what an organisation of that ``kind`` is to do about the ``misfit`` a
    correction left (``Notification.misfit``); no code where it has nothing to do."""
    action, words = reader_misfit_action(MISFIT_READERS.get(kind, ""), misfit["provider_of"])
    return action, words.format(duty_line=settings.MANAGERS_DUTY_PHONE)


def misfit_words(misfit: dict[str, Any], kind: str) -> str:
    """What a ``misfit`` asks of an organisation of that ``kind``, in a sentence: "The provider offered the
    person does not serve London: make a new offer …"."""
    holder = "offered the person" if misfit["provider_of"] == "offer" else "where they are placed"
    lacking = misfits_in_words(misfit["lacking"], misfit.get("region", ""))
    return f"The provider {holder} does not {lacking}: {misfit_action(misfit, kind)[1]}."


@dataclass(frozen=True)
class Announcement:
    """One event for a set of organisations, as the outbox records it."""

    event: Event
    organisations: tuple[Organisation, ...]
    referral_id: int | None = None
    reference: str = ""
    due_at: datetime.datetime | None = None
    clock: str = ""
    last_seen_at: datetime.datetime | None = None
    child: bool | None = None
    emergency: bool | None = None
    misfit: dict[str, Any] | None = None
    contact: str = ""  # a correction's ``ContactChange``
    first_of_case: bool = False  # a new case's first event: no earlier one to follow


def clock_label(clock: str) -> str:
    from referrals.models import Clock

    return Clock(clock).label


def notify(
    *,
    event: Event,
    organisations: Iterable[Organisation],
    referral_id: int | None = None,
    reference: str = "",
    due_at: datetime.datetime | None = None,
    last_seen_at: datetime.datetime | None = None,
    child: bool | None = None,
    emergency: bool | None = None,
    misfit: dict[str, Any] | None = None,
    contact: str = "",
    first_of_case: bool = False,
) -> list[Notification]:
    """Write the inbox items and outbox rows for an event, and queue delivery after commit."""
    return notify_many(
        [
            Announcement(
                event=event,
                organisations=tuple(organisations),
                referral_id=referral_id,
                reference=reference,
                due_at=due_at,
                last_seen_at=last_seen_at,
                child=child,
                emergency=emergency,
                misfit=misfit,
                contact=contact,
                first_of_case=first_of_case,
            )
        ]
    )


def notify_many(announcements: Sequence[Announcement]) -> list[Notification]:
    """Record many events at once in a constant number of queries (the deadline sweep's batches)."""
    organisations = {org.pk: org for item in announcements for org in item.organisations}
    if not organisations:
        return []
    # Organisations from ``manager_recipients`` bring their users; ask for the others'.
    users_by_org: dict[int, list[int]] = {
        pk: list(org.active_user_ids) for pk, org in organisations.items() if hasattr(org, "active_user_ids")
    }
    unknown = [pk for pk in organisations if pk not in users_by_org]
    if unknown:
        users = User.objects.filter(organisation__in=unknown, is_active=True)
        for user_id, organisation_id in users.values_list("pk", "organisation_id"):
            users_by_org.setdefault(organisation_id, []).append(user_id)
    last_sequence = last_sequences(
        {
            item.referral_id
            for item in announcements
            if item.referral_id is not None and not item.first_of_case
        }
    )
    inbox: list[InboxItem] = []
    outbox: list[Notification] = []
    for item in announcements:
        said = (
            item.event,
            item.reference,
            item.due_at,
            item.clock,
            item.last_seen_at,
            item.child,
            item.emergency,
        )
        message = inbox_message(*said, contact=item.contact)
        case = {"referral_id": item.referral_id, "reference": item.reference, "clock": item.clock}
        sequence = 0
        if item.referral_id is not None:
            sequence = last_sequence[item.referral_id] = last_sequence.get(item.referral_id, 0) + 1
        for org in {org.pk: org for org in item.organisations}.values():
            action = ""
            if item.misfit:  # what it asks depends on who reads it
                message = inbox_message(*said, misfit=item.misfit, kind=org.kind, contact=item.contact)
                action = misfit_action(item.misfit, org.kind)[0] or ""
            readers = users_by_org.get(org.pk, [])
            inbox.extend(
                InboxItem(user_id=user_id, event=item.event, message=message, action=action, **case)
                for user_id in readers
            )
            channels = []
            if org.notification_emails or not (readers or org.webhook_url):
                # An organisation nobody can be told at (no address, no webhook, no active user) still
                # gets its email row: it fails at once for want of an address and the managers hear of
                # it, instead of an offer or an alert going nowhere without a trace.
                channels.append(Channel.EMAIL)
            if org.webhook_url:
                channels.append(Channel.WEBHOOK)
            outbox.extend(
                Notification(
                    event=item.event,
                    channel=channel,
                    organisation=org,
                    due_at=item.due_at,
                    last_seen_at=item.last_seen_at,
                    child=item.child,
                    emergency=item.emergency,
                    misfit=item.misfit,
                    contact=item.contact,
                    sequence=sequence,
                    **case,
                )
                for channel in channels
            )
    InboxItem.objects.bulk_create(inbox)
    Notification.objects.bulk_create(outbox)
    ids = [str(row.pk) for row in outbox]
    if ids:
        transaction.on_commit(lambda: queue_delivery(ids))
    return outbox


def last_sequences(referral_ids: set[int]) -> dict[int, int]:
    """Each case's last event's ``sequence``, for the next to follow it.

    Every caller of ``notify`` holds the case's row lock (a transition locks it, the deadline sweep
    locks it with its clocks), so a case's events are numbered one after another, in the order they
    are committed.
    """
    if not referral_ids:
        return {}
    rows = (
        Notification.objects.filter(referral_id__in=referral_ids)
        .values("referral_id")
        .annotate(last=Max("sequence"))
        .values_list("referral_id", "last")
        .order_by()
    )
    return dict(rows)


# After a failed publish, this process leaves notifications to the outbox sweep for this long. A broker
# that hangs (accepts connections, never answers) rather than refuses holds each publish for the socket
# timeout; without the pause every request after commit would wait that long.
PUBLISH_PAUSE_SECONDS = 30
# When publishing may be tried again, by ``monotonic()``. One float: threads racing on it at worst both
# try the broker once.
_publish_paused_until = 0.0


def publish_delivery(
    notification_id: str, *, countdown: float | None = None, despite_pause: bool = False
) -> bool:
    """Hand one notification to Celery, once: the outbox sweep is the retry. False if it was not handed.

    Not tried while publishing is paused, unless ``despite_pause``: the sweep's way of finding out that
    the broker is back. A failure is logged and starts the pause (skipping is not logged); a success
    ends it.
    """
    global _publish_paused_until
    from .tasks import deliver_notification

    if not despite_pause and monotonic() < _publish_paused_until:
        return False
    try:
        deliver_notification.apply_async((notification_id,), countdown=countdown, retry=False)
    except Exception as exc:  # the broker is down or hangs; the rows stay pending for the sweep
        _publish_paused_until = monotonic() + PUBLISH_PAUSE_SECONDS
        logger.warning(
            "Could not publish to the broker (%s); for %d s notifications are left to the outbox sweep",
            type(exc).__name__,
            PUBLISH_PAUSE_SECONDS,
        )
        return False
    _publish_paused_until = 0.0
    return True


def queue_delivery(notification_ids: list[str], *, despite_pause: bool = False) -> int:
    """Hand notifications to Celery; answer how many were queued.

    The first failure stops the loop, so a web request pays for at most one failed publish, and none
    while publishing is paused; the rows not queued stay pending for the outbox sweep.
    """
    for queued, notification_id in enumerate(notification_ids):
        if not publish_delivery(notification_id, despite_pause=despite_pause):
            return queued
    return len(notification_ids)


def resend_failed(*, actor: User, notification_id: str) -> Notification:
    """A manager sends a failed notification again (the receiver is back): it starts its retries anew.

    ``Notification.DoesNotExist`` for no such notification; ``NotificationNotFailed`` for one that is
    pending or delivered (sent again from another tab, say); ``NotificationOutdated`` for one no longer
    current (``selectors.outdated_because``); ``NotPermitted`` for anyone but a manager.
    """
    if not actor.is_manager:
        raise NotPermitted("Only managers can send a notification again.")
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.state == DeliveryState.DELIVERED:
            raise NotificationNotFailed("This notification has already been delivered.")
        if notification.state != DeliveryState.FAILED:
            raise NotificationNotFailed(
                "This notification was already sent again: it is being delivered, with retries."
            )
        if why := why_outdated(notification):
            raise NotificationOutdated(
                f"This notification is no longer current ({why}): it is not sent again."
            )
        _send_again(actor, [notification])
    return notification


@dataclass(frozen=True)
class SentAgain:
    """What "Send all again" did: how many it sent again, how many it left as no longer current."""

    sent: int
    outdated: int


def resend_all_failed(*, actor: User, organisation_id: int, channel: str) -> SentAgain:
    """A manager sends again every failed notification to one organisation by one channel (its receiver
    is back), but those no longer current. Audited one by one, as ``resend_failed``."""
    if not actor.is_manager:
        raise NotPermitted("Only managers can send notifications again.")
    with transaction.atomic():
        failed = list(
            with_outdated_because(Notification.objects.select_for_update(of=("self",)))
            .select_related("referral")
            .filter(organisation_id=organisation_id, channel=channel, state=DeliveryState.FAILED)
        )
        current = [notification for notification in failed if not notification.outdated_because]  # type: ignore[attr-defined]
        _send_again(actor, current)
    return SentAgain(sent=len(current), outdated=len(failed) - len(current))


def _send_again(actor: User, notifications: list[Notification]) -> None:
    """Start the locked failed rows' retries anew (``attempts`` counts from ``resent_at``), audit each and
    queue them after commit."""
    now = timezone.now()
    for notification in notifications:
        notification.state = DeliveryState.PENDING
        notification.attempts = 0
        notification.next_attempt_at = notification.resent_at = now
        notification.last_error = ""
        # A notice that the person is now 18 is recorded without its case: sent again hours or days after
        # it was first, it would date their birthday in a trail kept for ever, which retention cannot
        # clear (``referrals.coming_of_age`` writes no row for the notice itself, for that reason).
        dates_a_birthday = notification.event == Event.PERSON_NOW_18
        record_change(
            actor=actor,
            referral=None if dates_a_birthday else notification.referral,
            what=f"notification sent again: {notification.event} by {notification.channel}",
        )
    Notification.objects.bulk_update(
        notifications, ["state", "attempts", "next_attempt_at", "resent_at", "last_error"]
    )
    ids = [str(notification.pk) for notification in notifications]
    transaction.on_commit(lambda: queue_delivery(ids))


def mark_read(*, user: User, item_id: int) -> InboxItem:
    """Mark one of the user's own inbox items read; ``InboxItem.DoesNotExist`` for anyone else's."""
    item = InboxItem.objects.get(pk=item_id, user=user)
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
    return item


def offer_items_done(*, referral_id: int, provider_organisation_id: int) -> int:
    """Mark the provider's items of a case asking it to answer the offer ("placement offered", and a
    correction's "reject the offer") read once the offer is answered, expires or is withdrawn: nothing is
    left to act on, and answered offers must not look as if they waited. (The reminder that the answer
    is due goes with its clock: ``reminders_done``.)"""
    return (
        InboxItem.objects.filter(
            referral_id=referral_id, user__organisation_id=provider_organisation_id, read_at__isnull=True
        )
        .filter(Q(event=Event.OFFER_MADE) | Q(action="reject_offer"))
        .update(read_at=timezone.now())
    )


# What the managers' items of a case ask of them: to assess the new referral, to offer the person again
# after an offer came to nothing or their placement ended for reallocation, or, after a correction that
# left the provider unable to take them, to make a new offer or reallocate them
# (``referrals.choices.MISFIT_ACTIONS``). Only managers get these actions (SPEC §6); a reallocation is
# news to the referrer and the provider also told of it, read when they read it.
OFFER_AGAIN_ASKED = (Event.OFFER_REJECTED, Event.OFFER_EXPIRED, Event.REFERRAL_REALLOCATED)
MANAGERS_ASKED = (Event.REFERRAL_RECEIVED, *OFFER_AGAIN_ASKED)
MANAGERS_TO_DO = ("offer_again", "reallocate")
# What a correction that left the provider unable to take the person asks of anyone, and of that what it
# asks about the placement (the managers to reallocate the person, the provider to phone the managers),
# which is over once the placement ends.
MISFIT_TO_DO = tuple(code for code, _words in MISFIT_ACTIONS.values() if code)
PLACEMENT_MISFIT_TO_DO = tuple(
    code for (_reader, held), (code, _words) in MISFIT_ACTIONS.items() if code and held == "placement"
)


def misfit_items_done(*, referral_id: int) -> int:
    """Mark read every item of a case asking the managers or the provider to act on a provider that could
    not take the person (``referrals.choices.MISFIT_ACTIONS``), once a correction makes it able to again:
    nothing is left to do."""
    return InboxItem.objects.filter(
        referral_id=referral_id, action__in=MISFIT_TO_DO, read_at__isnull=True
    ).update(read_at=timezone.now())


def manager_items_done(
    *, referral_id: int, events: Sequence[str] = MANAGERS_ASKED, actions: Sequence[str] = MANAGERS_TO_DO
) -> int:
    """Mark the managers' items of a case read once what they ask is done (the referral assessed or
    declined, the person offered again or reallocated) or nobody's to do any more (the case closed), for
    every manager who got them, in one update; with the placed provider's asking it to phone the managers
    if ``actions`` name it. (Reminders go with their clocks: ``reminders_done``; breaches stay unread.)"""
    managers_asked = Q(event__in=events, user__organisation__in=manager_organisations())
    return (
        InboxItem.objects.filter(referral_id=referral_id, read_at__isnull=True)
        .filter(managers_asked | Q(action__in=actions))
        .update(read_at=timezone.now())
    )


def missing_items_done(*, referral_id: int) -> int:
    """Mark a case's missing alerts (``MISSING_EVENTS``) read once the person is found or the case closes,
    for everyone who got them (the managers, the referring organisation, the provider told of a manager's
    report): nothing is left to act on, and an unread alert would read as an emergency still open."""
    return InboxItem.objects.filter(
        referral_id=referral_id, event__in=MISSING_EVENTS, read_at__isnull=True
    ).update(read_at=timezone.now())


def reminders_done(*, referral_id: int, clocks: Sequence[str] = ()) -> int:
    """Mark the reminders of a case's stopped clocks read (of all its clocks if none are named), for
    whoever got them: the deadline is met or nobody's to meet any more, so nothing is left to act on.
    Breaches stay unread: a missed deadline is news after the fact."""
    reminders = InboxItem.objects.filter(
        referral_id=referral_id, event=Event.DEADLINE_REMINDER, read_at__isnull=True
    )
    if clocks:
        reminders = reminders.filter(clock__in=clocks)
    return reminders.update(read_at=timezone.now())


def mark_all_read(*, user: User) -> int:
    """Mark the user's unread items read, except those another transaction holds at this moment (SKIP
    LOCKED), without waiting for it. A transition (or the deadline sweep expiring an offer) marks its
    case's items read over several statements, its reminders before the items they followed, for every
    user at once: waiting for one of them while holding the user's other items of that case would
    deadlock, and PostgreSQL would abort the transition or this. An item it holds it is marking read
    itself; one a delivery worker holds is counting a new failure into it, news that stays unread."""
    with transaction.atomic():
        unread = InboxItem.objects.filter(user=user, read_at__isnull=True).order_by()
        free = unread.select_for_update(skip_locked=True).values("pk")
        return InboxItem.objects.filter(pk__in=free).update(read_at=timezone.now())


def empty_inbox(*, user: User, why: str) -> int:
    """Delete every inbox item of a user moved to another organisation or role: they told of the old
    one's cases, which the user no longer sees. Audited by number, when there was any."""
    deleted, _ = InboxItem.objects.filter(user=user).delete()
    if deleted:
        record_change(actor=user, referral=None, what=f"inbox emptied: {why}", changes={"items": deleted})
    return deleted
