"""A deploy check (``manage.py check --deploy``) that the keys configured are the ones the stored cases
were written with: a new or lost FIELD_HASH_KEY would otherwise turn duplicate detection off silently,
and a missing encryption key would show only as errors on case pages.

It reads a few cases, the newest and the oldest still holding personal details, so it stays cheap on
any caseload and notices digests left under an old key at either end. Its messages give counts only.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import DatabaseError

from .encryption import DecryptionFailed, hash_keys
from .models import Referral

# Cases read at each end of the caseload.
CASES_SAMPLED = 10


def _sampled_cases() -> list[Referral]:
    live = Referral.objects.filter(anonymised_at__isnull=True).only(
        "given_name", "family_name", "date_of_birth", "name_digest", "birth_date_digest"
    )
    newest = list(live.order_by("-pk")[:CASES_SAMPLED])
    oldest = [case for case in live.order_by("pk")[:CASES_SAMPLED] if case not in newest]
    return newest + oldest


def _key_of(case: Referral, keys: list[str]) -> int | None:
    """The index in ``keys`` of the key the case's digests are under, or None if none of them."""
    for index, key in enumerate(keys):
        if (case.name_digest, case.birth_date_digest) == case.person_digests(key=key):
            return index
    return None


@checks.register("harbour", deploy=True)
def stored_cases_match_the_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    try:
        cases = _sampled_cases()
    except DecryptionFailed:
        return [
            checks.Error(
                "Personal fields of stored cases do not decrypt with any of FIELD_ENCRYPTION_KEYS.",
                hint='Put back the key they were encrypted with (README, "Keys").',
                id="harbour.E001",
            )
        ]
    except DatabaseError:
        # No database yet, or not migrated: nothing stored to check.
        return []
    keys = hash_keys()
    found = [_key_of(case, keys) for case in cases]
    unmatched = found.count(None)
    if unmatched:
        return [
            checks.Error(
                f"{unmatched} of {len(cases)} cases checked have name digests that FIELD_HASH_KEY "
                "(and FIELD_HASH_KEY_FALLBACKS) did not make: duplicate referrals of them go unnoticed.",
                hint="Put back the key they were made with, or run `manage.py rehash_digests` to recompute "
                'them under this one (README, "Keys").',
                id="harbour.E002",
            )
        ]
    under_fallback = sum(1 for index in found if index)
    if under_fallback:
        return [
            checks.Warning(
                f"{under_fallback} of {len(cases)} cases checked have name digests under a key of "
                "FIELD_HASH_KEY_FALLBACKS.",
                hint="Run `manage.py rehash_digests`, then remove FIELD_HASH_KEY_FALLBACKS.",
                id="harbour.W001",
            )
        ]
    return []
