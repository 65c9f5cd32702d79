"""A child in support turns 18 (DOMAIN.md: children, consent): once a day, the managers and the placed
provider are told, once per case, that the person is now 18, whose support continues as an adult's
only with their own consent, and whose placement may be a children's.

The date of birth is encrypted, so no query can find who has turned 18: the check reads the open cases
of children with a date of birth not yet told of, a batch at a time, and works out each one's 18th
birthday in Python (``Referral.turns_18_on``). Nothing keeps the birthday in clear: the case keeps only
that it was told of (``Referral.told_now_18``), not when.
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from notifications.models import Event
from notifications.services import Announcement, manager_recipients, notify_many
from notifications.sweep import provider_organisations_of_placements

from .choices import OPEN_STATES
from .models import Referral

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def those_now_18(today: datetime.date, batch_size: int = BATCH_SIZE) -> list[int]:
    """The open cases of people referred as children by their date of birth who are 18 by ``today``
    and have not been told of, decrypted a batch at a time."""
    waiting = (
        Referral.objects.filter(
            state__in=OPEN_STATES, is_child=True, told_now_18=False, date_of_birth__isnull=False
        )
        .only("pk", "is_child", "date_of_birth", "submitted_at")
        .order_by("pk")
    )
    now_18: list[int] = []
    last = 0
    while batch := list(waiting.filter(pk__gt=last)[:batch_size]):
        last = batch[-1].pk
        now_18 += [case.pk for case in batch if (day := case.turns_18_on) is not None and day <= today]
    return now_18


def tell_of_those_now_18(today: datetime.date | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Tell the managers and the placed provider of each person now 18, once; answer how many were
    told of. Safe to run twice, at once too: each batch locks its cases and marks them told in the
    transaction that writes the notifications. A case someone is changing at that moment is skipped,
    as the sweeps skip it, and told of on the next run."""
    today = today or timezone.localdate()
    now_18 = those_now_18(today, batch_size)
    managers = tuple(manager_recipients())
    told = sum(
        _tell(now_18[start : start + batch_size], managers) for start in range(0, len(now_18), batch_size)
    )
    if told:
        logger.info("Told of %d people now 18", told)
    return told


def _tell(referral_ids: list[int], managers: tuple[Organisation, ...]) -> int:
    # No audit row: its time would date the person's birthday in an append-only trail kept for ever.
    with transaction.atomic():
        cases = list(
            Referral.objects.select_for_update(skip_locked=True)
            # Read again under the lock: closed meanwhile, or told of by another run, it is left alone.
            .filter(pk__in=referral_ids, state__in=OPEN_STATES, told_now_18=False)
            .order_by("pk")
            .only("pk", "reference")
        )
        placed = provider_organisations_of_placements({case.pk for case in cases})
        notify_many(
            [
                Announcement(
                    event=Event.PERSON_NOW_18,
                    organisations=(*managers, *filter(None, [placed.get(case.pk)])),
                    referral_id=case.pk,
                    reference=case.reference,
                )
                for case in cases
            ]
        )
        Referral.objects.filter(pk__in=[case.pk for case in cases]).update(told_now_18=True)
    return len(cases)
