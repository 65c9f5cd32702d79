"""Web pages against their API endpoints (issue 7): the manager's triage queue, case page and caseload
report, each beside the API endpoint that serves the same data, over a caseload of 100,000 referrals.

Run on PostgreSQL, in a database of its own (it is filled with generated cases):

    createdb harbour_bench_pages
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbour_bench_pages \\
        .venv/bin/python bench/pages.py --build --referrals 100000

``--build`` generates the cases with the caseload report benchmark's set-based builder
(``bench/report.py``'s ``build``). The benchmark then gives every case an encrypted name (the pages
show it) and gives one placed case a full history in its transition log, as the services would have
written it: submitted, assessed, offered and rejected, offered again and accepted, progress notes.
Without ``--build`` the existing data is used, so the timing can be repeated.

Pairs, each page against its API endpoint, as a manager (the page signed in with a session, the API
with a token):
- ``/triage/``                against ``GET /api/v1/referrals/?state=received``
- ``/cases/<id>/``            against ``GET /api/v1/referrals/<id>/`` (the placed case with a history)
- ``/reports/caseload/``      against ``GET /api/v1/reports/caseload/``

Server time is measured in-process through ``django.test.Client``: the whole server-side work of a
request (middleware, authentication, view, queries, template or JSON rendering), without a network or a
WSGI server in front. After a warm-up of each, ``--repeat`` runs of every page and endpoint are taken
in turn, interleaved, so that load from elsewhere on the machine weighs on all alike; the median of
each is compared. It prints a table with the queries per request and the ratio page/API of each pair
(target: at most 2x) and exits non-zero if a pair misses.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))  # for report.build, the one caseload builder
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The manager signs in with force_login: no second factor for the benchmark.
os.environ["REQUIRE_MFA"] = "False"
# Measured as deployed, with DEBUG off, but over plain HTTP: the client is in-process.
os.environ["DEBUG"] = "False"
os.environ.setdefault("MANAGERS_DUTY_PHONE", "020 7946 0321")  # required with DEBUG off; a drama number
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from report import MANAGER_TOKEN, prepare  # noqa: E402

TARGET_RATIO = 2


def personalise() -> None:
    """Give every case an encrypted name (the builder leaves a placeholder the pages cannot decrypt)."""
    from referrals.encryption import encrypt

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_referral SET given_name = %s, family_name = %s",
            [encrypt("Alex"), encrypt("Doe")],
        )


def chosen_case() -> int:
    """A placed case with a rejected offer before its accepted one (every fifth assessed case has one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM referrals_referral WHERE state = 'placed' AND id %% 5 = 0 "
            "ORDER BY placed_at DESC, id LIMIT 1",
            [],
        )
        row = cursor.fetchone()
    if row is None:
        sys.exit("No placed case to show: build the data first (--build).")
    return row[0]


def write_history(referral_id: int) -> None:
    """The transition log of a placed case, as the services write it."""
    from accounts.models import User
    from care_providers.models import PlacementOffer
    from referrals.models import Referral, TransitionLog

    referral = Referral.objects.get(pk=referral_id)
    manager = User.objects.get(username="bench-manager")
    offers = list(PlacementOffer.objects.filter(referral=referral).order_by("offered_at"))
    TransitionLog.objects.filter(referral=referral).delete()
    at = referral.submitted_at
    rows = [
        TransitionLog(referral=referral, transition="submit", from_state="", to_state="received", at=at),
        TransitionLog(
            referral=referral,
            transition="assess",
            from_state="received",
            to_state="assessed",
            actor=manager,
            at=referral.assessed_at,
            input={
                "risk": "medium",
                "route": referral.route,
                "notes": "Needs a safe house away from the area.",
            },
        ),
    ]
    for offer in offers:
        rows.append(
            TransitionLog(
                referral=referral,
                transition="offer",
                from_state="assessed",
                to_state="assessed",
                actor=manager,
                at=offer.offered_at,
                input={"provider": offer.provider_id},
            )
        )
        if offer.state == "rejected":
            rows.append(
                TransitionLog(
                    referral=referral,
                    transition="reject_offer",
                    from_state="assessed",
                    to_state="assessed",
                    at=offer.responded_at,
                    input={"reason": "no_capacity", "notes": "No bed free this week."},
                )
            )
    rows.append(
        TransitionLog(
            referral=referral,
            transition="accept_offer",
            from_state="assessed",
            to_state="placed",
            at=referral.placed_at,
        )
    )
    for day in (1, 3, 5):
        rows.append(
            TransitionLog(
                referral=referral,
                transition="record_progress",
                from_state="placed",
                to_state="placed",
                at=referral.placed_at + timedelta(hours=day),
                input={"notes": f"Settling in; appointment booked (day {day})."},
            )
        )
    TransitionLog.objects.bulk_create(rows)


def fetch(client: Client, url: str) -> Callable[[], int]:
    def get() -> int:
        response = client.get(url)
        if response.status_code != 200:
            sys.exit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        return len(response.content)

    return get


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true", help="(Re)generate the cases first.")
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL.")
    prepare(args.referrals, build_first=args.build)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM referrals_referral WHERE given_name = 'bench' LIMIT 1")
        if cursor.fetchone():
            personalise()
    case_id = chosen_case()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM referrals_transitionlog WHERE referral_id = %s LIMIT 1", [case_id])
        if cursor.fetchone() is None:
            write_history(case_id)

    from accounts.models import User

    logging.getLogger("axes").setLevel(logging.WARNING)  # its sign-in line for force_login
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE state = 'received') FROM referrals_referral")
        count, received = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM referrals_transitionlog WHERE referral_id = %s", [case_id])
        history = cursor.fetchone()[0]
    print(
        f"Data: {count:,} referrals, {received:,} awaiting assessment; case {case_id} placed, {history} transitions"
    )

    web = Client(HTTP_HOST="localhost")
    web.force_login(User.objects.get(username="bench-manager"))
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {MANAGER_TOKEN}")
    pairs = [
        ("triage queue", "/triage/", "/api/v1/referrals/?state=received"),
        ("case page", f"/cases/{case_id}/", f"/api/v1/referrals/{case_id}/"),
        ("caseload report", "/reports/caseload/", "/api/v1/reports/caseload/"),
    ]
    requests = [
        (url, fetch(client, url))
        for _, page, endpoint in pairs
        for url, client in ((page, web), (endpoint, api))
    ]

    queries: list[int] = []
    for _, request in requests:  # warm-up: imports, caches, plans; and the query count of each
        with CaptureQueriesContext(connection) as captured:
            request()
        queries.append(len(captured.captured_queries))
    runs: list[list[float]] = [[] for _ in requests]
    for _ in range(args.repeat):
        for (_, request), durations in zip(requests, runs, strict=True):
            started = time.perf_counter()
            request()
            durations.append(time.perf_counter() - started)
    medians = [statistics.median(durations) for durations in runs]

    print(
        f"\nServer time in-process (django.test.Client: middleware, view, queries, rendering), "
        f"median of {args.repeat} interleaved runs after a warm-up"
    )
    print(f"{'':16} {'URL':36} {'median ms':>9} {'queries':>7}  runs (ms)")
    for i, (url, _) in enumerate(requests):
        name = pairs[i // 2][0] if i % 2 == 0 else ""
        runs_ms = ", ".join(f"{r * 1000:.0f}" for r in runs[i])
        print(f"{name:16} {url:36} {medians[i] * 1000:9.1f} {queries[i]:7}  [{runs_ms}]")
    print()
    missed = []
    for n, (name, _, _) in enumerate(pairs):
        ratio = medians[2 * n] / medians[2 * n + 1]
        print(
            f"{name:16} page/API {ratio:5.2f}x  (target at most {TARGET_RATIO}x)  {'ok' if ratio <= TARGET_RATIO else 'MISSED'}"
        )
        if ratio > TARGET_RATIO:
            missed.append(name)
    if missed:
        sys.exit(f"Missed the target: {', '.join(missed)}.")


if __name__ == "__main__":
    main()
