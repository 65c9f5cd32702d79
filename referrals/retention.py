"""Retention (SPEC §10): cases closed longer ago than RETENTION_DAYS lose every personal field.

What stays is what the caseload reports count: state, dates, nationality, gender, region, age band
(``is_child``), exploitation types, route and risk, organisation and provider. What goes is everything
that identifies or describes the person: names, aliases, date of birth, phone, account, references,
the keyed digests, and the free-text notes inside the transition log.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditAction
from audit.services import NON_PERSONAL_INPUTS, record_change
from idempotency.models import IdempotencyRecord

from .models import Referral, TransitionLog

PERSONAL_FIELDS_BLANKED = {
    "given_name": "",
    "family_name": "",
    "aliases": "",
    "date_of_birth": None,
    "contact_phone": "",
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
    *, older_than_days: int | None = None, dry_run: bool = False, batch_size: int = 500
) -> RetentionResult:
    """Anonymise every referral closed before the cutoff, in batches; audited once per run."""
    cutoff = retention_cutoff(older_than_days)
    due = referrals_due_for_anonymisation(cutoff)
    if dry_run:
        return RetentionResult(
            cutoff=cutoff,
            referrals=due.count(),
            transition_entries=TransitionLog.objects.filter(referral__in=due).count(),
            dry_run=True,
        )
    referrals = entries = 0
    while True:
        with transaction.atomic():
            ids = list(due.order_by("pk").select_for_update().values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            now = timezone.now()
            for log in TransitionLog.objects.filter(referral_id__in=ids).only("pk", "input"):
                entry = cast(dict[str, Any], log.input)
                TransitionLog.objects.filter(pk=log.pk).update(input=_without_personal_inputs(entry))
                entries += 1
            # Answers kept for a repeated Idempotency-Key show the person. They are purged after
            # IDEMPOTENCY_KEY_LIFETIME_HOURS anyway; a retention period shorter than that takes them too.
            IdempotencyRecord.objects.filter(referral_id__in=ids).delete()
            referrals += Referral.objects.filter(pk__in=ids).update(
                **PERSONAL_FIELDS_BLANKED, anonymised_at=now
            )
    record_change(
        actor=None,
        referral=None,
        action=AuditAction.RETENTION,
        what="retention: closed cases anonymised",
        changes={"cutoff": cutoff.isoformat(), "referrals": referrals, "transition_entries": entries},
    )
    return RetentionResult(cutoff=cutoff, referrals=referrals, transition_entries=entries, dry_run=False)
