"""Retention (SPEC §10): cases closed longer ago than RETENTION_DAYS lose every personal field.

What stays is what the caseload reports count: state, dates, nationality, gender, region, age band
(``is_child``), exploitation types, route and risk, organisation and provider. What goes is everything
that identifies or describes the person: names, aliases, date of birth and age estimate, phone, a
child's local authority and the contact there (the authority narrows where a child is far more than the
region), account, references, the keyed digests, the free-text notes inside the transition log and on
placement offers, and the notifications that the person turned 18 (their time dates the birthday), with
the managers' items saying one could not be delivered.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditAction
from audit.services import NON_PERSONAL_INPUTS, record_change
from care_providers.models import PlacementOffer
from idempotency.models import IdempotencyRecord
from notifications.models import Event, InboxItem, Notification

from .models import Referral, TransitionLog

PERSONAL_FIELDS_BLANKED = {
    "given_name": "",
    "family_name": "",
    "aliases": "",
    "date_of_birth": None,
    # Its stand-in where the date is not known (SPEC §3): with the submission date, the year of birth.
    "age_estimate": None,
    "contact_phone": "",
    "local_authority": "",
    "local_authority_contact": "",
    "account": "",
    "responder_reference": "",
    "crime_reference": "",
    "name_digest": "",
    "birth_date_digest": "",
}


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime.datetime
    referrals: int
    transition_entries: int
    dry_run: bool


def retention_cutoff(
    older_than_days: int | None = None, *, now: datetime.datetime | None = None
) -> datetime.datetime:
    days = settings.RETENTION_DAYS if older_than_days is None else older_than_days
    return (now or timezone.now()) - datetime.timedelta(days=days)


def referrals_due_for_anonymisation(cutoff: datetime.datetime) -> QuerySet[Referral]:
    return Referral.objects.filter(closed_at__lt=cutoff, anonymised_at__isnull=True)


def _without_personal_inputs(entry: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (entry or {}).items() if key in NON_PERSONAL_INPUTS}


def apply_retention(
    *,
    older_than_days: int | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    max_batches: int | None = None,
) -> RetentionResult:
    """Anonymise the referrals closed before the cutoff, batch by batch; audited once per run that
    anonymised any.

    ``max_batches`` bounds a run: the periodic task runs on the sweeper, which has one slot, and a run
    that worked through a whole backlog at once would hold the deadline and outbox sweeps back for as
    long (SPEC §5). What a run leaves is still due, so the next run continues where it stopped. Without
    it (``manage.py apply_retention``), the run goes on until nothing is due.
    """
    cutoff = retention_cutoff(older_than_days)
    due = referrals_due_for_anonymisation(cutoff)
    if dry_run:
        return RetentionResult(
            cutoff=cutoff,
            referrals=due.count(),
            transition_entries=TransitionLog.objects.filter(referral__in=due).count(),
            dry_run=True,
        )
    referrals = entries = batches = 0
    while max_batches is None or batches < max_batches:
        anonymised, batch_entries = _anonymise_batch(due, batch_size)
        referrals += anonymised
        entries += batch_entries
        batches += 1
        if anonymised < batch_size:
            break
    if referrals:
        record_change(
            actor=None,
            referral=None,
            action=AuditAction.RETENTION,
            what="retention: closed cases anonymised",
            changes={"cutoff": cutoff.isoformat(), "referrals": referrals, "transition_entries": entries},
        )
    return RetentionResult(cutoff=cutoff, referrals=referrals, transition_entries=entries, dry_run=False)


def _anonymise_batch(due: QuerySet[Referral], batch_size: int) -> tuple[int, int]:
    """Anonymise up to ``batch_size`` due referrals in one transaction, with the same few statements
    however many history entries they have; returns the referrals and the history entries done.

    The cases are locked with SKIP LOCKED, as the other sweeps lock: two sweepers running retention at
    once take different cases, and a case a service holds is left for the next batch or run.
    """
    with transaction.atomic():
        ids = list(
            due.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return 0, 0
        # The inputs are encrypted, so the notes are taken out here, not in SQL.
        entries = list(TransitionLog.objects.filter(referral_id__in=ids).only("pk", "input"))
        changed = []
        for entry in entries:
            kept = _without_personal_inputs(cast(dict[str, Any], entry.input))
            if kept != entry.input:
                entry.input = kept
                changed.append(entry)
        _save_inputs(changed)
        # Answers kept for a repeated Idempotency-Key show the person. They are purged after
        # IDEMPOTENCY_KEY_LIFETIME_HOURS anyway; a retention period shorter than that takes them too.
        IdempotencyRecord.objects.filter(referral_id__in=ids).delete()
        PlacementOffer.objects.filter(referral_id__in=ids).exclude(note="").update(note="")
        # When the person was told of as now 18 dates their birthday to within a day; so does a managers'
        # item saying that notice could not be delivered, which names it. Taken before the notices,
        # whose deletion would leave the item without the link that finds it.
        now_18 = Q(event=Event.PERSON_NOW_18) | Q(notification__event=Event.PERSON_NOW_18)
        InboxItem.objects.filter(now_18, referral_id__in=ids).delete()
        Notification.objects.filter(referral_id__in=ids, event=Event.PERSON_NOW_18).delete()
        anonymised = Referral.objects.filter(pk__in=ids).update(
            **PERSONAL_FIELDS_BLANKED, anonymised_at=timezone.now()
        )
    return anonymised, len(entries)


def _save_inputs(entries: list[TransitionLog]) -> None:
    """Write the entries' inputs back in one UPDATE, however many there are.

    On PostgreSQL the new values travel as two arrays joined to the table; Django's ``bulk_update``
    (used elsewhere, as on the embedded SQLite) builds a CASE with a branch per row, whose cost in
    Python and in the database grows with the square of the batch.
    """
    if not entries:
        return
    if connection.vendor != "postgresql":
        TransitionLog.objects.bulk_update(entries, ["input"])
        return
    field = TransitionLog._meta.get_field("input")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_transitionlog AS entry SET input = kept.input"
            " FROM unnest(%s::bigint[], %s::text[]) AS kept(id, input) WHERE entry.id = kept.id",
            [
                [entry.pk for entry in entries],
                [field.get_db_prep_save(entry.input, connection) for entry in entries],
            ],
        )
