"""The deadline sweep (SPEC §5): reminders before a clock is due, escalations after.

Run by Celery beat every ``DEADLINE_SWEEP_SECONDS``. It reads only the clocks that are due, through the
partial indexes ``deadline_reminder_due`` and ``deadline_breach_due``, in batches: each batch costs the
same few queries however many clocks are open. Every batch locks its clocks (and their cases) with
``SELECT … FOR UPDATE SKIP LOCKED`` and marks them in the same transaction as the notifications it
writes, so two sweeps running at once never send the same reminder or escalation twice, and a sweep
never waits on a case someone is changing (that clock is simply picked up next time).

* reminder (``DEADLINE_REMINDER_FRACTION`` of the span gone, not yet due; see ``Deadline``): to
  whoever must act: managers for assessment and placement, the offered provider for an offer's
  response, the placed provider for check-in and recovery review (both wait while the person is
  missing: the one stops, the other is paused);
* breach: an escalation to managers, once;
* an offer's response clock: the offer expires (``referrals.services.expire_offer`` tells managers);
* ``missing``: an escalation to managers and the referring organisation, then again every
  ``MISSING_REPEAT_HOURS`` from the report (a sweep running late moves none of the later ones:
  ``next_repeat``) until the person is found or the case closes (the clock is stopped then); a
  reallocation does not stop it. ``report_missing`` sends the first; the sweep sends
  the repeats, as "still missing", both with the time the person was last seen (the clock's start), so
  nobody takes a day-old episode for a new disappearance, and whether they are a child.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateTimeField, F, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organisation
from care_providers.models import Placement
from referrals.models import Clock, Deadline

from .models import Event
from .services import Announcement, manager_organisations, notify_many

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# A bound on one run, so a sweep after a long outage hands over to the next run instead of running on.
MAX_BATCHES = 50

DEADLINE_FIELDS = (
    "id",
    "clock",
    "started_at",
    "due_at",
    "offer_id",
    "referral",
    "referral__id",
    "referral__reference",
    "referral__organisation",
    "referral__is_child",
)


@dataclass
class SweepResult:
    reminders: int = 0
    breaches: int = 0
    missing_escalations: int = 0
    offers_expired: int = 0


def sweep_deadlines(now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    managers = tuple(manager_organisations())
    for _ in range(MAX_BATCHES):
        expired = expire_offers(now, batch_size)
        result.offers_expired += expired
        if expired < batch_size:
            break
    for _ in range(MAX_BATCHES):
        breaches, missing = escalate_batch(now, batch_size, managers)
        result.breaches += breaches
        result.missing_escalations += missing
        if breaches + missing < batch_size:
            break
    for _ in range(MAX_BATCHES):
        reminded = remind_batch(now, batch_size, managers)
        result.reminders += reminded
        if reminded < batch_size:
            break
    if result != SweepResult():
        logger.info("Deadline sweep: %s", result)
    return result


def _locked(clocks: QuerySet[Deadline]) -> QuerySet[Deadline]:
    # Locks the case too, in the same statement and without waiting: a service holding the case
    # (and about to stop this clock) is never deadlocked with the sweep.
    return (
        clocks.select_for_update(of=("self", "referral"), skip_locked=True)
        .select_related("referral")
        .only(*DEADLINE_FIELDS)
    )


def breach_due(now: datetime.datetime) -> QuerySet[Deadline]:
    """Open clocks past their due time that have not been escalated (index ``deadline_breach_due``)."""
    return Deadline.objects.filter(stopped_at__isnull=True, breached_at__isnull=True, due_at__lte=now)


def reminder_due(now: datetime.datetime) -> QuerySet[Deadline]:
    """Open clocks past their reminder time, not reminded, not yet due (index ``deadline_reminder_due``)."""
    return Deadline.objects.filter(
        stopped_at__isnull=True,
        reminded_at__isnull=True,
        remind_at__isnull=False,
        remind_at__lte=now,
        due_at__gt=now,
    )


def expire_offers(now: datetime.datetime, batch_size: int) -> int:
    """Expire the offers whose response clock ran out, each in a transaction of its own; ``expire_offer``
    tells managers, once. A clock whose case is locked is left to the next sweep, like every other."""
    from referrals.services import expire_offer

    expired = 0
    while expired < batch_size:
        with transaction.atomic():
            # The clock and its case, locked; another sweep's clocks and cases being changed are skipped.
            deadline = _locked(breach_due(now).filter(clock=Clock.OFFER_RESPONSE)).order_by("due_at").first()
            if deadline is None:
                break
            # expire_offer checks the offer is still pending (answered meanwhile, it tells nobody) and
            # stops this clock; the case is already locked here, so it does not wait for it.
            if deadline.offer_id is not None:
                expire_offer(offer_id=deadline.offer_id)
            Deadline.objects.filter(pk=deadline.pk).update(
                breached_at=now,
                reminded_at=Coalesce("reminded_at", now),
                stopped_at=Coalesce("stopped_at", now),
            )
        expired += 1
    return expired


def escalate_batch(
    now: datetime.datetime, batch_size: int, managers: tuple[Organisation, ...]
) -> tuple[int, int]:
    with transaction.atomic():
        clocks = list(
            _locked(breach_due(now).exclude(clock=Clock.OFFER_RESPONSE)).order_by("due_at")[:batch_size]
        )
        if not clocks:
            return 0, 0
        referrers = {
            org.pk: org
            for org in Organisation.objects.filter(pk__in={c.referral.organisation_id for c in clocks})
        }
        announcements = []
        breached: list[int] = []
        missing: list[Deadline] = []
        for deadline in clocks:
            referral = deadline.referral
            if deadline.clock == Clock.MISSING:
                missing.append(deadline)
                announcements.append(
                    Announcement(
                        event=Event.STILL_MISSING,
                        organisations=(*managers, referrers[referral.organisation_id]),
                        referral_id=referral.pk,
                        reference=referral.reference,
                        last_seen_at=deadline.started_at,
                        child=referral.is_child,
                    )
                )
            else:
                breached.append(deadline.pk)
                announcements.append(
                    Announcement(
                        event=Event.DEADLINE_BREACHED,
                        organisations=managers,
                        referral_id=referral.pk,
                        reference=referral.reference,
                        due_at=deadline.due_at,
                        clock=deadline.clock,
                    )
                )
        if breached:
            # A reminder not sent by now would come too late: it is skipped.
            Deadline.objects.filter(pk__in=breached).update(
                breached_at=now, escalations=F("escalations") + 1, reminded_at=Coalesce("reminded_at", now)
            )
        if missing:
            next_due = [When(pk=c.pk, then=Value(next_repeat(c.due_at, now))) for c in missing]
            Deadline.objects.filter(pk__in=[c.pk for c in missing]).update(
                escalations=F("escalations") + 1, due_at=Case(*next_due, output_field=DateTimeField())
            )
        notify_many(announcements)
    return len(breached), len(missing)


def next_repeat(due: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
    """When a missing person's alert due at ``due`` and sent at ``now`` is next due: the first time after
    ``now`` of those every MISSING_REPEAT_HOURS from ``due``. So the alerts keep the report's time of day
    however late a sweep runs (its worker was down), and a sweep days late sends one alert, not one for
    each day missed."""
    repeat = datetime.timedelta(hours=settings.MISSING_REPEAT_HOURS)  # at least an hour: settings refuse less
    return due + ((now - due) // repeat + 1) * repeat


def remind_batch(now: datetime.datetime, batch_size: int, managers: tuple[Organisation, ...]) -> int:
    with transaction.atomic():
        clocks = list(_locked(reminder_due(now)).order_by("remind_at")[:batch_size])
        if not clocks:
            return 0
        offer_providers = provider_organisations_of_offers(
            {c.offer_id for c in clocks if c.clock == Clock.OFFER_RESPONSE and c.offer_id}
        )
        placed_providers = provider_organisations_of_placements(
            {c.referral_id for c in clocks if c.clock in (Clock.CHECK_IN, Clock.RECOVERY_REVIEW)}
        )
        announcements = []
        for deadline in clocks:
            if deadline.clock in (Clock.ASSESSMENT, Clock.PLACEMENT):
                recipients = managers
            elif deadline.clock == Clock.OFFER_RESPONSE:
                recipients = tuple(filter(None, [offer_providers.get(deadline.offer_id or 0)]))
            else:
                recipients = tuple(filter(None, [placed_providers.get(deadline.referral_id)]))
            announcements.append(
                Announcement(
                    event=Event.DEADLINE_REMINDER,
                    organisations=recipients or managers,
                    referral_id=deadline.referral_id,
                    reference=deadline.referral.reference,
                    due_at=deadline.due_at,
                    clock=deadline.clock,
                )
            )
        Deadline.objects.filter(pk__in=[c.pk for c in clocks]).update(reminded_at=now)
        notify_many(announcements)
    return len(clocks)


def provider_organisations_of_offers(offer_ids: set[int]) -> dict[int, Organisation]:
    if not offer_ids:
        return {}
    from care_providers.models import PlacementOffer

    offers = PlacementOffer.objects.filter(pk__in=offer_ids).select_related("provider__organisation")
    return {offer.pk: offer.provider.organisation for offer in offers}


def provider_organisations_of_placements(referral_ids: set[int]) -> dict[int, Organisation]:
    if not referral_ids:
        return {}
    placements = Placement.objects.filter(referral_id__in=referral_ids, ended_at__isnull=True).select_related(
        "provider__organisation"
    )
    return {p.referral_id: p.provider.organisation for p in placements}
