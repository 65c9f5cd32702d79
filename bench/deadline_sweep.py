"""Deadline sweep benchmark (issue 4): the sweep's cost follows the clocks that are due, not those open.

Run on PostgreSQL, in a database of its own (the script empties and fills its referral tables):

    createdb harbour_bench_sweep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbour_bench_sweep .venv/bin/python bench/deadline_sweep.py

One run builds two situations in turn and times the same sweep in each:

1. 10,000 open clocks, of which 1,000 are due (500 past their reminder time, 500 past their due time);
2. the same 1,000 due clocks among 1,000,000 open ones.

Of the open clocks that are not due, most are due in a month and ``--escalated-share`` (2%) are overdue
cases an earlier sweep already escalated, still open until someone acts: the sweep must skip those too.

Rows are generated with set-based SQL (``generate_series``); personal fields hold one encrypted
placeholder, since the sweep never reads them. Each timing is the median of ``--repeat`` full sweeps
(``notifications.sweep.sweep_deadlines``: lock, notify managers' inboxes, mark), each run inside a
transaction that is rolled back so that every repetition finds the same due clocks. The script prints
both times, their ratio (target: at most 2x), the queries per sweep and the plans PostgreSQL chose for
the sweep's two reads (EXPLAIN), which should use the partial indexes ``deadline_breach_due`` and
``deadline_reminder_due``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organisation, OrganisationKind, Role, User  # noqa: E402
from notifications.sweep import BATCH_SIZE, _locked, breach_due, reminder_due, sweep_deadlines  # noqa: E402
from referrals.models import Clock, Deadline, Referral  # noqa: E402

OPEN_CLOCKS = [Clock.ASSESSMENT, Clock.PLACEMENT, Clock.OFFER_RESPONSE, Clock.CHECK_IN, Clock.RECOVERY_REVIEW,
               Clock.MISSING]  # fmt: skip


def referral_insert_sql(first: int, count: int, organisation: Organisation, user: User) -> tuple[str, list]:
    """INSERT … SELECT generate_series for ``count`` referrals numbered from ``first``."""
    template = Referral(
        reference="",
        organisation=organisation,
        submitted_by=user,
        given_name="Placeholder",
        family_name="Placeholder",
        gender="female",
        nationality="GB",
        exploitation_location="uk",
        region="london",
        name_digest="0" * 64,
    )
    columns, values, params = [], [], []
    for field in Referral._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.name == "reference":
            values.append("'SWEEP-' || g")
            continue
        values.append("%s")
        params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    sql = (
        f"INSERT INTO {Referral._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(%s::bigint, %s::bigint) AS g"
    )
    return sql, [*params, first, first + count - 1]


def add_referrals(first: int, count: int, organisation: Organisation, user: User) -> tuple[int, int]:
    sql, params = referral_insert_sql(first, count, organisation, user)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH added AS ({sql} RETURNING id) SELECT min(id), max(id) FROM added", params)
        return cursor.fetchone()


def add_clocks(
    first_id: int,
    last_id: int,
    clocks: list[str],
    *,
    started: str,
    due: str,
    remind: str,
    escalated: bool = False,
) -> None:
    """Clocks for a range of referrals; ``escalated`` ones were reminded and escalated by an earlier sweep."""
    done = "now() - interval '1 hour'" if escalated else "NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Deadline._meta.db_table} "
            f"(referral_id, clock, started_at, due_at, remind_at, reminded_at, breached_at, escalations) "
            f"SELECT r.id, c, now() + %s::interval, now() + %s::interval, "
            f"CASE WHEN c = 'missing' THEN NULL ELSE now() + %s::interval END, {done}, {done}, 0 "
            f"FROM {Referral._meta.db_table} r CROSS JOIN unnest(%s::text[]) AS c WHERE r.id BETWEEN %s AND %s",
            [started, due, remind, clocks, first_id, last_id],
        )


def add_open_clocks(count: int, numbered: int, organisation: Organisation, user: User, share: float) -> int:
    """``count`` open clocks that are not due: most due in a month, ``share`` of them overdue cases that an
    earlier sweep already escalated (still open until someone acts). Answers the next referral number."""
    escalated = int(count * share)
    if escalated:
        first, last = add_referrals(numbered, escalated, organisation, user)
        numbered += escalated
        add_clocks(
            first,
            last,
            [Clock.ASSESSMENT],
            started="-9 days",
            due="-2 days",
            remind="-3 days",
            escalated=True,
        )
    referrals = (count - escalated) // len(OPEN_CLOCKS)
    step = 50_000
    for offset in range(0, referrals, step):
        size = min(step, referrals - offset)
        first, last = add_referrals(numbered, size, organisation, user)
        numbered += size
        add_clocks(first, last, OPEN_CLOCKS, started="-1 day", due="+30 days", remind="+20 days")
    return numbered


def reset() -> tuple[Organisation, User]:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE referrals_deadline, notifications_inboxitem, notifications_notification, "
            "notifications_deliveryattempt, referrals_referral RESTART IDENTITY CASCADE"
        )
    organisation, _ = Organisation.objects.get_or_create(
        name="Bench contractor", defaults={"kind": OrganisationKind.CONTRACTOR, "notification_emails": []}
    )
    user, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"organisation": organisation, "role": Role.MANAGER}
    )
    return organisation, user


def analyse() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE referrals_referral")
        cursor.execute("ANALYZE referrals_deadline")


def time_sweep(repeat: int) -> tuple[float, int, dict[str, int]]:
    """Median seconds of a full sweep (rolled back each time), its query count and what it did."""
    timings, queries, outcome = [], 0, {}
    for _ in range(repeat + 1):  # the first run warms the caches and is not counted
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = sweep_deadlines()
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        timings.append(elapsed)
        queries = len(captured)
        outcome = vars(result)
    return statistics.median(timings[1:]), queries, outcome


def explain() -> str:
    now = timezone.now()
    plans = []
    with transaction.atomic():
        for name, due in (("breaches", breach_due(now)), ("reminders", reminder_due(now))):
            ordered = _locked(due.exclude(clock=Clock.OFFER_RESPONSE) if name == "breaches" else due)
            ordered = ordered.order_by("due_at" if name == "breaches" else "remind_at")[:BATCH_SIZE]
            plans.append(f"-- {name}\n{ordered.explain()}")
        transaction.set_rollback(True)
    return "\n".join(plans)


def open_count() -> int:
    return Deadline.objects.filter(stopped_at__isnull=True).count()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--escalated-share",
        type=float,
        default=0.02,
        help="share of the open clocks that are overdue and already escalated (default 2%%)",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run this on PostgreSQL: set DATABASE_URL to a database of its own.")

    organisation, user = reset()
    started = time.perf_counter()
    # The due clocks: half past their reminder time, half past their due time, one per referral.
    first, last = add_referrals(1, args.due, organisation, user)
    half = first + args.due // 2 - 1
    add_clocks(first, half, [Clock.ASSESSMENT], started="-4 days", due="+1 day", remind="-1 hour")
    add_clocks(half + 1, last, [Clock.PLACEMENT], started="-6 days", due="-1 hour", remind="-1 day")
    # The rest of the open clocks, not due.
    numbered = add_open_clocks(args.small - args.due, args.due + 1, organisation, user, args.escalated_share)
    analyse()
    print(f"built {open_count():,} open clocks in {time.perf_counter() - started:.1f}s")

    small_time, small_queries, small_outcome = time_sweep(args.repeat)
    print(f"{open_count():>9,} open, {args.due:,} due: sweep {small_time * 1000:8.1f} ms, "
          f"{small_queries} queries, {small_outcome}")  # fmt: skip

    started = time.perf_counter()
    add_open_clocks(args.large - args.small, numbered, organisation, user, args.escalated_share)
    analyse()
    print(f"grew to {open_count():,} open clocks in {time.perf_counter() - started:.1f}s")

    large_time, large_queries, large_outcome = time_sweep(args.repeat)
    print(f"{open_count():>9,} open, {args.due:,} due: sweep {large_time * 1000:8.1f} ms, "
          f"{large_queries} queries, {large_outcome}")  # fmt: skip
    ratio = large_time / small_time
    print(f"ratio large/small: {ratio:.2f}x (target <= 2x): {'PASS' if ratio <= 2 else 'FAIL'}")
    print("\nEXPLAIN of the sweep's reads on the large table:")
    print(explain())


if __name__ == "__main__":
    main()
