"""``manage.py seed_demo [--password P] [--referrals N]``: demo organisations, users and cases (SPEC §9)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from referrals.demo import DEMO_USERNAMES, seed_cast, seed_referrals

# In the README, the Makefile and CI: anyone can sign in with it, so it is for DEBUG (make run) only.
PUBLISHED_PASSWORD = "harbour-demo-2026"  # noqa: S105


class Command(BaseCommand):
    help = (
        "Create the demo organisations, care providers and users (responder, responder2, manager, provider, "
        "provider2) and N realistic referrals. Safe to run again: the fixed data is updated, not duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD", PUBLISHED_PASSWORD),
            help=(
                f"Password of the five demo users (default: $DEMO_PASSWORD or {PUBLISHED_PASSWORD}). With DEBUG "
                "off it must be a strong password of your own: the default is published."
            ),
        )
        parser.add_argument("--referrals", type=int, default=200, help="How many referrals to generate.")
        parser.add_argument("--batch-size", type=int, default=2_000, help="Referrals written per batch.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the demo data is already there (the first run of `make run` seeds it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["referrals"]
        if count < 0:
            raise CommandError("--referrals must be zero or more.")
        if options["if_empty"] and User.objects.filter(username__in=DEMO_USERNAMES).exists():
            self.stdout.write("Demo data is already there; nothing to do.")
            return
        if not settings.DEBUG:
            refuse_a_guessable_password(options["password"])
        cast = seed_cast(password=options["password"])
        if count:
            with tqdm(
                total=count,
                unit="referral",
                unit_scale=True,
                disable=count < 1_000,
                file=self.stderr,
                desc="Seeding",
            ) as bar:
                seed_referrals(
                    cast,
                    count=count,
                    batch_size=options["batch_size"],
                    seed=options["seed"],
                    progress=bar.update,
                )
            self.stdout.write(
                f"Created {count} referrals and about {round(count * 0.3)} anonymous notifications."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo users: {', '.join(DEMO_USERNAMES)}; password: {options['password']}")
        )


def refuse_a_guessable_password(password: str) -> None:
    """Outside DEBUG the demo manager sees every case, and whoever has its password enrols their own
    second factor: the published password, or one the password validators refuse, would open the caseload."""
    if password == PUBLISHED_PASSWORD:
        raise CommandError(
            "With DEBUG off, the demo users need a strong --password of your own: the default is published. "
            "Seed demo data only into a throw-away trial, never where real cases are kept."
        )
    try:
        validate_password(password)
    except ValidationError as error:
        raise CommandError("With DEBUG off, --password must be strong: " + " ".join(error.messages)) from None
