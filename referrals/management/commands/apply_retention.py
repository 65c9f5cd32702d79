"""Anonymise referrals closed longer ago than the retention period (RETENTION_DAYS, default six years)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from referrals.retention import apply_retention


class Command(BaseCommand):
    help = "Remove every personal field from referrals closed longer ago than the retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")
        parser.add_argument(
            "--older-than-days", type=int, default=None, help="Override RETENTION_DAYS for this run."
        )

    def handle(self, *args: Any, dry_run: bool, older_than_days: int | None, **options: Any) -> None:
        if older_than_days is not None and older_than_days < 0:
            raise CommandError("--older-than-days must be zero or more.")
        result = apply_retention(older_than_days=older_than_days, dry_run=dry_run)
        verb = "would be anonymised" if dry_run else "anonymised"
        self.stdout.write(
            f"Cases closed before {result.cutoff:%Y-%m-%d %H:%M}: {result.referrals} {verb} "
            f"({result.transition_entries} history entries)."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
