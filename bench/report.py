"""Caseload report benchmark (issue 5): the report as served by the API against hand-written SQL, the floor.

Run on PostgreSQL, in a database of its own (it is filled with generated cases):

    createdb harbour_bench_report
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbour_bench_report \\
        .venv/bin/python bench/report.py --build --referrals 1000000

``--build`` migrates the database and generates the cases with set-based SQL (``generate_series``): one
million referrals spread over ten years with growing volumes, their deadlines, offers and placements,
and anonymous notifications at about a third of the referral volume. The case histories follow the §4
workflow (a placed case was assessed first, a closed case has its clocks stopped, and so on); personal
fields hold a placeholder, since the report never reads them. Without ``--build`` the existing data is
used, so the timing can be repeated.

One run then measures, after a warm-up, the median of ``--repeat`` runs of each, taken in turn:
- the report as served: ``GET /api/v1/reports/caseload/`` through Django's test client, with a manager's
  token, JSON rendering included;
- the floor: the same figures computed by hand-written SQL aggregates below, fetched with a cursor;
and prints both, their ratio (target: at most 2x), the number of queries, and the indexes PostgreSQL
used for the report's queries (from EXPLAIN). It exits non-zero if the report misses the target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

FIRST_RESPONDER_KINDS = ["police", "border_force", "local_authority", "government_agency", "ngo"]
REGIONS = [
    "north_east", "north_west", "yorkshire", "east_midlands", "west_midlands", "east",
    "london", "south_east", "south_west", "wales", "scotland", "northern_ireland",
]  # fmt: skip
# Weighted like the published statistics: a few nationalities dominate, a long tail follows.
NATIONALITIES = ["GB", "AL", "VN", "ER", "SD", "RO", "IQ", "NG", "CN", "IR", "AF", "PL", "IN", "PK", "EG",
                 "SY", "ET", "KW", "LT", "SK", "BG", "UA", "GH", "BD", "TR", "unknown", "stateless"]  # fmt: skip
PROVIDERS = 12
# The bench manager's API token, known in advance for the timed API calls (``pages.py`` too).
MANAGER_TOKEN = "bench-report-manager-token-000000000000"  # noqa: S105
TARGET_RATIO = 2


def prepare(referrals: int, *, build_first: bool, resume_from: str | None = None) -> None:
    """Build the cases (or finish a build), or bring data built by an earlier release to this one's
    schema; then issue the bench manager's token afresh: a token lives TOKEN_LIFETIME_HOURS, and data
    built one day is measured again on another."""
    from accounts.authentication import token_digest
    from accounts.models import ApiToken, User

    if build_first or resume_from:
        build(referrals, resume_from)
    else:
        call_command("migrate", verbosity=0, skip_checks=True)
    manager = User.objects.get(username="bench-manager")
    ApiToken.objects.filter(user=manager).delete()
    ApiToken.objects.create(user=manager, digest=token_digest(MANAGER_TOKEN))  # only its digest is kept


def build(referrals: int, resume_from: str | None = None) -> None:
    """Migrate and fill the database with ``referrals`` generated cases (or finish a build that stopped
    before the step ``resume_from``)."""
    if connection.vendor != "postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0, skip_checks=True)
    from accounts.models import Organisation, Role, User
    from care_providers.models import CareProvider

    steps = [label for label, _ in BUILD_SQL]
    if resume_from is not None and resume_from not in steps:
        sys.exit(f"--resume-from is one of: {', '.join(steps)}")
    with connection.cursor() as cursor:
        if resume_from is None:
            cursor.execute(
                "TRUNCATE referrals_deadline, referrals_transitionlog, care_providers_placement, "
                "care_providers_placementoffer, referrals_referral, referrals_anonymousnotification CASCADE"
            )
    organisations = []
    for kind in FIRST_RESPONDER_KINDS:
        for n in range(4):
            org, _ = Organisation.objects.get_or_create(name=f"Bench {kind} {n}", defaults={"kind": kind})
            organisations.append(org.pk)
    contractor, _ = Organisation.objects.get_or_create(
        name="Bench contractor", defaults={"kind": "contractor"}
    )
    manager, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"role": Role.MANAGER, "organisation": contractor}
    )
    providers = []
    for n in range(PROVIDERS):
        org, _ = Organisation.objects.get_or_create(
            name=f"Bench provider {n}", defaults={"kind": "care_provider"}
        )
        provider, _ = CareProvider.objects.update_or_create(
            organisation=org,
            defaults={
                "name": org.name,
                "regions": REGIONS,
                "services": ["accommodation", "outreach"],
                "beds_women": 2000,
                "beds_men": 2000,
                "beds_family": 500,
                "supports_children": True,
                "languages": ["en"],
            },
        )
        providers.append(provider.pk)

    params = {
        "n": referrals,
        "orgs": organisations,
        "providers": providers,
        "user": manager.pk,
        "regions": REGIONS,
        "nationalities": NATIONALITIES,
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for label, sql in BUILD_SQL[steps.index(resume_from) if resume_from else 0 :]:
            step = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {label}: {time.perf_counter() - step:.1f} s", flush=True)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('referrals_referral', 'id'), max(id)) FROM referrals_referral"
        )
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"Built {referrals:,} referrals in {time.perf_counter() - started:.0f} s", flush=True)


# Set-based generation. ``age`` is days before now: sqrt makes recent years busier than early ones.
BUILD_SQL = [
    (
        "cases",
        """
        CREATE TEMP TABLE bench_case AS
        SELECT i AS id,
               now() - (3650 * (1 - sqrt(random()))) * interval '1 day' AS submitted_at,
               random() AS r_state, random() AS r_time1, random() AS r_time2, random() AS r_time3,
               random() AS r_pick
        FROM generate_series(1, %(n)s) AS i
        """,
    ),
    (
        "states",
        """
        CREATE TEMP TABLE bench_referral AS
        SELECT c.*,
          CASE
            WHEN now() - c.submitted_at < interval '7 days' THEN
              CASE WHEN r_state < 0.5 THEN 'received' WHEN r_state < 0.8 THEN 'assessed'
                   WHEN r_state < 0.95 THEN 'placed' ELSE 'declined' END
            WHEN now() - c.submitted_at < interval '120 days' THEN
              CASE WHEN r_state < 0.02 THEN 'received' WHEN r_state < 0.07 THEN 'assessed'
                   WHEN r_state < 0.52 THEN 'placed' WHEN r_state < 0.55 THEN 'missing'
                   WHEN r_state < 0.70 THEN 'recovered' WHEN r_state < 0.80 THEN 'exited'
                   WHEN r_state < 0.90 THEN 'declined' ELSE 'withdrawn' END
            ELSE
              CASE WHEN r_state < 0.002 THEN 'assessed' WHEN r_state < 0.012 THEN 'placed'
                   WHEN r_state < 0.015 THEN 'missing' WHEN r_state < 0.52 THEN 'recovered'
                   WHEN r_state < 0.70 THEN 'exited' WHEN r_state < 0.85 THEN 'declined'
                   ELSE 'withdrawn' END
          END AS state
        FROM bench_case c
        """,
    ),
    (
        "referrals",
        """
        WITH timed AS (
          SELECT b.*,
            CASE WHEN b.state IN ('received', 'declined') OR (b.state = 'withdrawn' AND b.r_pick < 0.5) THEN NULL
                 ELSE least(now() - interval '1 minute',
                            b.submitted_at + b.r_time1 * b.r_time1 * interval '10 days') END AS assessed_at
          FROM bench_referral b
        ), placed AS (
          SELECT t.*,
            CASE WHEN t.state IN ('placed', 'missing', 'recovered', 'exited')
                 THEN least(now() - interval '30 seconds', t.assessed_at + t.r_time2 * t.r_time2 * interval '6 days')
            END AS placed_at
          FROM timed t
        ), closed AS (
          SELECT p.*,
            CASE
              WHEN p.state IN ('recovered', 'exited')
                THEN least(now() - interval '10 seconds', p.placed_at + (20 + p.r_time3 * 200) * interval '1 day')
              WHEN p.state = 'declined'
                THEN least(now() - interval '10 seconds', p.submitted_at + p.r_time3 * interval '8 days')
              WHEN p.state = 'withdrawn'
                THEN least(now() - interval '10 seconds',
                           coalesce(p.assessed_at, p.submitted_at) + p.r_time3 * interval '20 days')
            END AS closed_at
          FROM placed p
        )
        INSERT INTO referrals_referral (
          id, reference, state, state_changed_at, submitted_at, consent, given_name, family_name, aliases,
          date_of_birth, age_estimate, age_in_doubt, is_child, gender, nationality, second_nationality,
          languages, interpreter_needed, exploitation_types, exploitation_location, region,
          needs_accommodation, emergency, needs_medical, has_dependants, safe_to_contact, contact_phone,
          account, responder_reference, crime_reference, name_digest, birth_date_digest, risk, route,
          assessed_at, placed_at, first_placed_at, closed_at, anonymised_at, organisation_id, submitted_by_id)
        SELECT
          c.id, 'BEN-' || lpad(c.id::text, 7, '0'), c.state,
          CASE WHEN c.state = 'missing' THEN c.placed_at + (c.closed_at_or_now - c.placed_at) / 2
               ELSE coalesce(c.closed_at, c.placed_at, c.assessed_at, c.submitted_at) END,
          c.submitted_at, true, 'bench', 'bench', '', NULL, 30, false, c.r_pick < 0.44,
          (ARRAY['male', 'male', 'male', 'female', 'other', 'unknown'])[1 + floor(c.r_time3 * 6)::int],
          (%(nationalities)s::text[])[1 + floor(power(c.r_pick, 2.2) * array_length(%(nationalities)s::text[], 1))::int],
          '', '["en"]', false,
          (ARRAY['["labour"]', '["criminal"]', '["sexual"]', '["labour", "criminal"]',
                 '["domestic_servitude"]', '["sexual", "labour"]', '["other"]', '["organ_harvesting"]'])
                 [1 + floor(power(c.r_time2, 1.5) * 8)::int]::jsonb,
          'uk', (%(regions)s::text[])[1 + floor(c.r_time1 * 12)::int],
          c.r_pick < 0.6, c.r_pick < 0.1, false, false, false, '', '', '', '', md5(c.id::text), '',
          CASE WHEN c.assessed_at IS NULL THEN '' ELSE 'medium' END,
          CASE WHEN c.assessed_at IS NULL THEN '' WHEN c.r_pick < 0.6 THEN 'accommodation' ELSE 'outreach' END,
          c.assessed_at, c.placed_at, c.placed_at, c.closed_at, NULL,
          (%(orgs)s::bigint[])[1 + (c.id %% array_length(%(orgs)s::bigint[], 1))::int], %(user)s
        FROM (SELECT closed.*, coalesce(closed.closed_at, now()) AS closed_at_or_now FROM closed) c
        """,
    ),
    (
        "offers",
        """
        INSERT INTO care_providers_placementoffer
          (state, offered_at, response_due_at, responded_at, reject_reason, offered_by_id, provider_id, referral_id,
           note)
        SELECT 'accepted', r.placed_at - interval '1 hour' * (1 + (r.id %% 7)), r.placed_at + interval '4 hours',
               r.placed_at, '', %(user)s,
               (%(providers)s::bigint[])[1 + (r.id %% array_length(%(providers)s::bigint[], 1))::int], r.id, ''
        FROM referrals_referral r WHERE r.placed_at IS NOT NULL
        UNION ALL
        SELECT 'rejected', r.assessed_at + interval '10 minutes', r.assessed_at + interval '250 minutes',
               r.assessed_at + interval '2 hours', 'no_capacity', %(user)s,
               (%(providers)s::bigint[])[1 + ((r.id + 5) %% array_length(%(providers)s::bigint[], 1))::int], r.id, ''
        FROM referrals_referral r WHERE r.assessed_at IS NOT NULL AND r.id %% 5 = 0
        UNION ALL
        SELECT 'pending', now() - interval '1 hour', now() + interval '3 hours', NULL, '', %(user)s,
               (%(providers)s::bigint[])[1 + ((r.id + 3) %% array_length(%(providers)s::bigint[], 1))::int], r.id, ''
        FROM referrals_referral r WHERE r.state = 'assessed' AND r.id %% 3 = 0
        """,
    ),
    (
        "placements",
        """
        INSERT INTO care_providers_placement (bed_kind, started_at, ended_at, provider_id, referral_id, offer_id)
        SELECT CASE WHEN r.route = 'outreach' THEN '' WHEN r.gender = 'female' THEN 'women'
                    WHEN r.r_family THEN 'family' ELSE 'men' END,
               r.placed_at, r.closed_at, o.provider_id, r.id, o.id
        FROM (SELECT *, id %% 10 = 0 AS r_family FROM referrals_referral WHERE placed_at IS NOT NULL) r
        JOIN care_providers_placementoffer o ON o.referral_id = r.id AND o.state = 'accepted'
        """,
    ),
    (
        "deadlines",
        """
        INSERT INTO referrals_deadline
          (clock, started_at, due_at, remind_at, reminded_at, breached_at, escalations, stopped_at, offer_id, referral_id)
        SELECT 'assessment', r.submitted_at, r.submitted_at + interval '7 days',
               NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, 0,
               CASE WHEN r.state = 'received' THEN NULL ELSE coalesce(r.assessed_at, r.closed_at) END,
               NULL::bigint, r.id
        FROM referrals_referral r
        UNION ALL
        SELECT 'placement', r.assessed_at,
               r.assessed_at + CASE WHEN r.emergency THEN interval '1 day' ELSE interval '7 days' END,
               NULL, NULL, NULL, 0,
               CASE WHEN r.state = 'assessed' THEN NULL ELSE coalesce(r.placed_at, r.closed_at) END, NULL, r.id
        FROM referrals_referral r WHERE r.assessed_at IS NOT NULL
        UNION ALL
        SELECT 'check_in', r.state_changed_at, r.state_changed_at + interval '7 days', NULL, NULL, NULL, 0,
               NULL, NULL, r.id
        FROM referrals_referral r WHERE r.state = 'placed'
        UNION ALL
        SELECT 'recovery_review', r.placed_at, r.placed_at + interval '30 days', NULL, NULL, NULL, 0,
               NULL, NULL, r.id
        FROM referrals_referral r WHERE r.state = 'placed'
        UNION ALL
        SELECT 'missing', r.state_changed_at, r.state_changed_at + interval '24 hours', NULL, NULL, NULL, 1,
               NULL, NULL, r.id
        FROM referrals_referral r WHERE r.state = 'missing'
        """,
    ),
    (
        "anonymous notifications",
        """
        INSERT INTO referrals_anonymousnotification
          (submitted_at, gender, nationality, exploitation_types, region, organisation_id, submitted_by_id)
        SELECT now() - (3650 * (1 - sqrt(random()))) * interval '1 day',
               (ARRAY['male', 'female', 'other', 'unknown'])[1 + (i %% 4)],
               (%(nationalities)s::text[])[1 + (i %% array_length(%(nationalities)s::text[], 1))],
               '["labour"]', (%(regions)s::text[])[1 + (i %% 12)],
               (%(orgs)s::bigint[])[1 + (i %% array_length(%(orgs)s::bigint[], 1))], %(user)s
        FROM generate_series(1, %(n)s / 3) AS i
        """,
    ),
]


# The floor: the same figures by hand, in the fastest formulation found for each (the alternatives
# tried are noted), fetched with a cursor: no ORM, no Python shaping, no JSON.
FLOOR_SQL = [
    """
    SELECT count(*),
           count(*) FILTER (WHERE state = 'recovered'), count(*) FILTER (WHERE state = 'exited'),
           count(*) FILTER (WHERE state = 'missing'), count(*) FILTER (WHERE state = 'declined'),
           count(*) FILTER (WHERE state = 'withdrawn'),
           count(*) FILTER (WHERE assessed_at IS NOT NULL),
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY assessed_at - submitted_at)
             FILTER (WHERE assessed_at IS NOT NULL),
           count(*) FILTER (WHERE first_placed_at IS NOT NULL AND assessed_at IS NOT NULL),
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_placed_at - assessed_at)
             FILTER (WHERE first_placed_at IS NOT NULL AND assessed_at IS NOT NULL)
    FROM referrals_referral
    """,
    """
    SELECT state, count(*),
           count(*) FILTER (WHERE state_changed_at > now() - interval '7 days'),
           count(*) FILTER (WHERE state_changed_at <= now() - interval '7 days'
                              AND state_changed_at > now() - interval '30 days'),
           count(*) FILTER (WHERE state_changed_at <= now() - interval '30 days'
                              AND state_changed_at > now() - interval '90 days'),
           count(*) FILTER (WHERE state_changed_at <= now() - interval '90 days')
    FROM referrals_referral WHERE state IN ('received', 'assessed', 'placed', 'missing') GROUP BY state
    """,
    """
    SELECT date_trunc('month', submitted_at AT TIME ZONE 'Europe/London'), 'referral', count(*)
    FROM referrals_referral GROUP BY 1
    UNION ALL
    SELECT date_trunc('month', submitted_at AT TIME ZONE 'Europe/London'), 'anonymous', count(*)
    FROM referrals_anonymousnotification GROUP BY 1
    """,
    # Nationalities and exploitation types from one pass: the lists of types form a few dozen groups,
    # cheaper than unnesting every referral's list (measured: about twice as fast here).
    "SELECT nationality, exploitation_types, count(*) FROM referrals_referral GROUP BY 1, 2",
    # Adult or child, gender, region and referrer kind from one pass over their combinations (faster
    # here than GROUPING SETS, which sorts once per set).
    """
    SELECT r.is_child, r.gender, r.region, o.kind, count(*)
    FROM referrals_referral r JOIN accounts_organisation o ON o.id = r.organisation_id
    GROUP BY 1, 2, 3, 4
    """,
    """
    SELECT d.clock,
           count(*) FILTER (WHERE d.stopped_at <= d.due_at
                            AND NOT (r.state IN ('withdrawn', 'exited') AND d.stopped_at >= r.closed_at)),
           count(*) FILTER (WHERE d.stopped_at > d.due_at OR (d.stopped_at IS NULL AND d.due_at < now())),
           count(*) FILTER (WHERE d.stopped_at IS NULL AND d.due_at < now())
    FROM referrals_deadline d JOIN referrals_referral r ON r.id = d.referral_id GROUP BY d.clock
    """,
    # The overdue cases, each once, most overdue first, and how many there are.
    """
    WITH overdue AS (
      SELECT d.referral_id, min(CASE WHEN d.clock = 'missing' THEN d.started_at ELSE d.due_at END) AS since,
             array_agg(d.clock) AS clocks
      FROM referrals_deadline d
      WHERE d.stopped_at IS NULL AND (d.clock = 'missing' OR d.due_at < now()) GROUP BY d.referral_id
    )
    SELECT r.reference, o.since, o.clocks, count(*) OVER ()
    FROM overdue o JOIN referrals_referral r ON r.id = o.referral_id ORDER BY o.since, o.referral_id LIMIT 200
    """,
    """
    WITH placements AS (
      SELECT provider_id, count(*) AS active, count(*) FILTER (WHERE bed_kind <> '') AS beds_in_use
      FROM care_providers_placement WHERE ended_at IS NULL GROUP BY provider_id
    ), offers AS (
      SELECT provider_id,
             count(*) FILTER (WHERE state = 'pending') AS pending,
             count(*) FILTER (WHERE state = 'accepted') AS accepted,
             count(*) FILTER (WHERE state IN ('accepted', 'rejected', 'expired')) AS answered,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY responded_at - offered_at)
               FILTER (WHERE state = 'accepted') AS median_to_accept
      FROM care_providers_placementoffer GROUP BY provider_id
    )
    SELECT p.id, p.name, p.beds_women + p.beds_men + p.beds_family, pl.active, pl.beds_in_use,
           o.pending, o.accepted, o.answered, o.median_to_accept
    FROM care_providers_careprovider p
    LEFT JOIN placements pl ON pl.provider_id = p.id LEFT JOIN offers o ON o.provider_id = p.id
    ORDER BY p.name, p.id
    """,
]


def floor() -> int:
    rows = 0
    with connection.cursor() as cursor:
        for sql in FLOOR_SQL:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
    return rows


def served(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/reports/caseload/", HTTP_AUTHORIZATION=f"Token {MANAGER_TOKEN}")
    if response.status_code != 200:
        sys.exit(f"The API answered {response.status_code}: {response.content[:500]!r}")
    return json.loads(response.content)


def alternated(first: Any, second: Any, repeat: int) -> tuple[list[float], list[float]]:
    """Durations of ``repeat`` runs of each, taken in turn, after one warm-up run of each."""
    first(), second()  # warm-up: caches, plans, imports
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for function, durations in ((first, runs[0]), (second, runs[1])):
            started = time.perf_counter()
            function()
            durations.append(time.perf_counter() - started)
    return runs


def index_names(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= index_names(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= index_names(item)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true", help="(Re)generate the cases first.")
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--resume-from", help="Finish an interrupted --build from this step.")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL.")
    prepare(args.referrals, build_first=args.build, resume_from=args.resume_from)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(submitted_at), max(submitted_at) FROM referrals_referral")
        count, first, last = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM referrals_anonymousnotification")
        anonymous = cursor.fetchone()[0]
    print(
        f"Data: {count:,} referrals from {first:%Y-%m-%d} to {last:%Y-%m-%d}, {anonymous:,} anonymous notifications"
    )

    client = Client(HTTP_HOST="localhost")
    with CaptureQueriesContext(connection) as captured:
        data = served(client)
    queries = [query["sql"] for query in captured.captured_queries]
    print(
        f"Report: {data['referrals']:,} referrals, {data['open_cases']:,} open, {data['overdue_total']:,} overdue; "
        f"top five {', '.join(row['name'] for row in data['top5'])}; top ten {data['top10_share']:.1%}"
    )
    print(f"Queries per report (API, authentication included): {len(queries)}")

    # Interleaved, so that load from elsewhere on the machine weighs on both alike.
    served_runs, floor_runs = alternated(lambda: served(client), floor, args.repeat)
    served_median, floor_median = statistics.median(served_runs), statistics.median(floor_runs)
    print(
        f"Served by the API:   median {served_median * 1000:7.0f} ms  runs {[round(r * 1000) for r in served_runs]}"
    )
    print(
        f"Hand-written floor:  median {floor_median * 1000:7.0f} ms  runs {[round(r * 1000) for r in floor_runs]}"
    )
    print(f"Ratio: {served_median / floor_median:.2f}x (target at most 2x)")

    used: dict[str, int] = {}
    with connection.cursor() as cursor:
        for sql in queries:
            if not sql.lstrip().upper().startswith(("SELECT", "(SELECT")):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            for name in index_names(cursor.fetchone()[0]):
                used[name] = used.get(name, 0) + 1
    print(
        "Indexes in the report's plans:",
        ", ".join(f"{name} ({n})" for name, n in sorted(used.items())) or "none",
    )
    if served_median > TARGET_RATIO * floor_median:
        sys.exit(f"Missed the target: the report took more than {TARGET_RATIO}x the floor.")


if __name__ == "__main__":
    main()
