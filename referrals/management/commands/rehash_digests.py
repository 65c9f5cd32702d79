"""Recompute every stored name and date-of-birth digest under FIELD_HASH_KEY.

The digests duplicate detection matches are HMACs under FIELD_HASH_KEY, so a new key matches none of the
stored ones. To change it: set FIELD_HASH_KEY=NEW and FIELD_HASH_KEY_FALLBACKS=OLD in every process (lookups
then match digests under either), run this command, then remove the fallback (README, "Keys"). After a lost
key, set the new one and run it: duplicates are missed until it has finished.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from referrals.encryption import DecryptionFailed
from referrals.field_keys import rehash_referrals


class Command(BaseCommand):
    help = "Recompute every case's name and date-of-birth digests under FIELD_HASH_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        try:
            for progress in rehash_referrals(batch_size=batch_size):
                self.stdout.write(
                    f"{progress.cases_done} of {progress.cases} cases, "
                    f"{progress.digests_recomputed} recomputed"
                )
        except DecryptionFailed as exc:
            raise CommandError(f"{exc} The digests are recomputed from the decrypted names.") from exc
        self.stdout.write(self.style.SUCCESS("Every case's digests are under FIELD_HASH_KEY."))
