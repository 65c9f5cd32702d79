"""``manage.py seed_demo [--password P] [--referrals N]``: demo organisations, users and cases (SPEC §9)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from referrals.demo import DEMO_USERNAMES, seed_cast, seed_referrals
from referrals.models import Referral


class Command(BaseCommand):
    help = (
        "Create the demo organisations, care providers and users (responder, responder2, manager, provider, "
        "provider2) and N realistic referrals. Safe to run again: the fixed data is updated, not duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD", "harbour-demo-2026"),
            help="Password of the five demo users (default: $DEMO_PASSWORD or harbour-demo-2026).",
        )
        parser.add_argument("--referrals", type=int, default=200, help="How many referrals to generate.")
        parser.add_argument("--batch-size", type=int, default=2_000, help="Referrals written per batch.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable data.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Generate referrals only if there are none yet (the fixed data is always brought up to date).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["referrals"]
        if count < 0:
            self.stderr.write("--referrals must be zero or more.")
            raise SystemExit(2)
        cast = seed_cast(password=options["password"])
        if options["if_empty"] and Referral.objects.exists():
            count = 0
            self.stdout.write("Referrals already exist; no new ones generated.")
        if count:
            with tqdm(
                total=count,
                unit="referral",
                unit_scale=True,
                disable=count < 1_000 or None,
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
