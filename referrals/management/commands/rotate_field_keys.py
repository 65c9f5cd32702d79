"""Re-encrypt every personal field under the first key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keeping the old one after it) in every
process, run this command, then remove the old key (README, "Rotating the encryption key"). Run before
every process has the new key, it leaves values that the processes without it cannot read.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from referrals.encryption import DecryptionFailed
from referrals.field_keys import rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column under the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        try:
            results = rotate_all(batch_size=batch_size)
        except DecryptionFailed as exc:
            raise CommandError(
                f"{exc} Keep the old key in FIELD_ENCRYPTION_KEYS (after the new one) until rotation is done."
            ) from exc
        for result in results:
            self.stdout.write(
                f"{result.table}: {result.rows} rows, {result.values_rotated} values re-encrypted"
            )
        self.stdout.write(self.style.SUCCESS("All personal fields are encrypted under the first key."))
