"""What a reader can work out from the tables for publication, checked independently of reports.tables.

The reader sees each count as a number, ``<5`` (1 to 4) or ``suppressed`` (anything, zero included), and
knows the sums the report's lines state. Reading the lines again and again, each narrows what its withheld
counts can be from what is known of the others, until no line narrows anything more: interval constraint
propagation, written here the plain way (every count against every other) so that it shares nothing with
the suppression it checks. Random caseloads, built in memory, give it many reports to read.
"""

from __future__ import annotations

import datetime
import math
import random
from collections import Counter
from typing import Any

from referrals.choices import OPEN_STATES, Gender, ReferralState, Region
from referrals.models import Clock
from reports.selectors import (
    AGE_BANDS,
    AGE_IN_DOUBT,
    OUTCOMES,
    REFERRING_KINDS,
    WENT_MISSING,
    CaseloadReport,
    Month,
    OpenState,
    ProviderFigures,
    ReportFilter,
    Share,
    Timeliness,
)
from reports.tables import SUPPRESSED, SUPPRESSED_COUNT, Table, for_publication

Known = dict[tuple[str, Any, str], tuple[float, float]]


def what_a_reader_knows(tables: dict[str, Table]) -> tuple[Known, dict[str, Table]]:
    """The least and most each count can be, for a reader of the tables for publication."""
    published = for_publication(tables)
    known: Known = {}
    for table in tables.values():
        if not table.publishable:
            continue
        for column in table.columns:
            if column.kind != "count":
                continue
            for row in published[table.name].rows:
                value = row[column.key]
                cell = (table.name, row["key"], column.key)
                if value == SUPPRESSED_COUNT:
                    known[cell] = (1, 4)
                elif value == SUPPRESSED:
                    known[cell] = (0, math.inf)
                else:
                    known[cell] = (value, value)
        for cell in table.unpublished:
            known[cell] = (0, math.inf)
    lines = [
        line
        for table in tables.values()
        if table.publishable
        for line in table.lines
        if all(cell in known for cell in (*line.totals, *line.parts))
    ]
    changed = True
    while changed:
        changed = False
        for line in lines:
            terms = [(1, cell) for cell in line.parts] + [(-1, cell) for cell in line.totals]
            for sign, cell in terms:
                # sign × cell = −(the others, signed), which lie between these two:
                least = sum(s * known[c][0 if s > 0 else 1] for s, c in terms if c != cell)
                most = sum(s * known[c][1 if s > 0 else 0] for s, c in terms if c != cell)
                low, high = (-most, -least) if sign > 0 else (least, most)
                narrowed = (max(known[cell][0], low), min(known[cell][1], high))
                if narrowed != known[cell]:
                    known[cell] = narrowed
                    changed = True
    return known, published


def given_away(tables: dict[str, Table]) -> list[tuple[tuple[str, Any, str], tuple[float, float], int]]:
    """Every withheld count a reader learns too much of, with what they learn and what it is: a ``<5``
    narrowed below 1 to 4, or a suppressed count (or an unpublished one of 1 to 4) left fewer than four
    values to be."""
    known, published = what_a_reader_knows(tables)
    truth = {}
    shown = {}
    for table in tables.values():
        if not table.publishable:
            continue
        truth |= table.unpublished
        for row, published_row in zip(table.rows, published[table.name].rows, strict=True):
            for column in table.columns:
                if column.kind == "count":
                    truth[(table.name, row["key"], column.key)] = row[column.key]
                    shown[(table.name, row["key"], column.key)] = published_row[column.key]
    found = []
    for cell, (low, high) in known.items():
        assert low <= truth[cell] <= high, (cell, (low, high), truth[cell])  # the reader is never misled
        value = shown.get(cell)  # None: a count no table shows
        if value == SUPPRESSED_COUNT:
            learnt = (low, high) != (1, 4)
        elif value == SUPPRESSED or (value is None and 1 <= truth[cell] <= 4):
            learnt = high - low < 3
        else:
            learnt = False
        if learnt:
            found.append((cell, (low, high), truth[cell]))
    return found


# ------------------------------------------------------------------------------ random caseloads

NATIONALITIES = ["VN", "AL", "ER", "GB", "SD", "IQ", "NG", "RO"]


def _shares(counts: Counter[str], keys: list[str], total: int) -> list[Share]:
    return [Share(key, key, counts[key], counts[key] / total if total else None) for key in keys]


def random_caseload(rng: random.Random) -> CaseloadReport:
    """A small caseload's report, as the selectors would give it, with every sum the report's lines rely
    on holding: a few dozen referrals at most over a few months, two providers, a handful of clocks."""
    months = [datetime.date(2026, month, 1) for month in range(1, rng.randint(1, 5) + 1)]
    states = [str(state) for state in ReferralState]
    people = [
        {
            "state": rng.choice(states),
            "band": rng.choice(AGE_BANDS)[0],
            "month": rng.choice(months),
            "nationality": rng.choice(NATIONALITIES[: rng.randint(1, len(NATIONALITIES))]),
            "age": rng.choice(["adult", "adult", "child"]),
            "gender": rng.choice([Gender.FEMALE, Gender.FEMALE, Gender.MALE, Gender.OTHER]),
            "region": rng.choice([Region.WALES, Region.LONDON, Region.SCOTLAND]),
            "kind": rng.choice(REFERRING_KINDS),
            "provider": rng.choice([1, 2]),
            "outreach": rng.random() < 0.3,
        }
        for _ in range(rng.randint(0, rng.choice([6, 15, 40])))
    ]
    total = len(people)
    by_state = Counter(person["state"] for person in people)

    def count(key: str, where: Any = lambda person: True) -> Counter[str]:
        return Counter(person[key] for person in people if where(person))

    anonymous = {month: rng.choice([0, 0, 1, 1, 2, 5]) for month in months}
    referral_months = count("month")
    placed = [person for person in people if person["state"] in ("placed", "missing")]
    providers = []
    for provider_id in (1, 2):
        here = [person for person in placed if person["provider"] == provider_id]
        beds = sum(not person["outreach"] for person in here) + rng.choice([0, 0, 0, 2])
        answered = rng.randint(0, 8)
        accepted = rng.randint(0, answered)
        providers.append(
            ProviderFigures(
                provider_id=provider_id,
                name=f"House {provider_id}",
                active_placements=len(here),
                beds_in_use=beds,
                capacity=beds + 3,
                occupancy=beds / (beds + 3),
                pending_offers=rng.randint(0, 2),
                accepted_offers=accepted,
                answered_offers=answered,
                acceptance_rate=accepted / answered if answered else None,
                median_time_to_accept=datetime.timedelta(hours=3) if accepted else None,
            )
        )
    never_assessed = by_state["received"] + by_state["declined"]
    withdrawn_before = rng.randint(0, by_state["withdrawn"])
    assessed = total - never_assessed - withdrawn_before
    # Placed once, then reallocated: assessed again.
    ever_placed = sum(by_state[state] for state in ("placed", "missing", "recovered", "exited"))
    ever_placed += rng.randint(0, by_state["assessed"])
    emergencies = rng.randint(0, ever_placed)
    # Waiting for a first placement: some of the assessed, the others placed before.
    waiting_emergency = rng.randint(0, by_state["assessed"])
    waiting_standard = rng.randint(0, by_state["assessed"] - waiting_emergency)
    timeliness = []
    for key, clock, cases, waiting in (
        ("assessment", Clock.ASSESSMENT, assessed, by_state["received"]),
        ("placement_emergency", Clock.PLACEMENT, emergencies, waiting_emergency),
        ("placement_standard", Clock.PLACEMENT, ever_placed - emergencies, waiting_standard),
    ):
        decided = rng.randint(0, cases + waiting)
        met = rng.randint(0, decided)
        timeliness.append(
            Timeliness(
                key=key,
                clock=str(clock),
                label=key,
                count=cases,
                median=datetime.timedelta(hours=3) if cases else None,
                p90=datetime.timedelta(hours=9) if cases else None,
                waiting=waiting,
                longest_wait=datetime.timedelta(days=2) if waiting else None,
                within_deadline=met,
                decided=decided,
                share_within_deadline=met / decided if decided else None,
            )
        )
    # The missing now, and some of the placed, recovered or exited found since.
    outcomes = by_state.copy()
    found = by_state["placed"] + by_state["recovered"] + by_state["exited"]
    outcomes[WENT_MISSING] = by_state["missing"] + rng.randint(0, found)
    outcome_keys = [str(state) for state in OUTCOMES]
    outcome_keys.insert(outcome_keys.index(ReferralState.MISSING) + 1, WENT_MISSING)
    overdue = Counter({str(clock): rng.choice([0, 0, 1, 3, 6]) for clock in Clock})
    overdue[str(Clock.MISSING)] = by_state["missing"]
    overdue_total = sum(overdue.values())
    return CaseloadReport(
        as_at=datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC),
        report_filter=ReportFilter(),
        referrals=total,
        anonymous_notifications=sum(anonymous.values()),
        open_cases=sum(by_state[state] for state in OPEN_STATES),
        open_by_state=[
            OpenState(
                str(state),
                state.label,
                by_state[state],
                {
                    key: count("band", lambda person, s=state: person["state"] == s)[key]
                    for key, *_ in AGE_BANDS
                },
            )
            for state in OPEN_STATES
        ],
        monthly=[Month(month, referral_months[month], anonymous[month]) for month in months],
        nationalities=_shares(count("nationality"), sorted(count("nationality")), total),
        top5=[],
        top5_share=None,
        top10_share=None,
        exploitation_types=[],
        age_groups=_shares(count("age"), ["adult", "child"], total),
        age_in_doubt=_shares(
            Counter({AGE_IN_DOUBT: rng.randint(0, count("age")["child"])}),
            [AGE_IN_DOUBT],
            count("age")["child"],
        )[0],
        genders=_shares(count("gender"), list(Gender.values), total),
        regions=_shares(count("region"), list(Region.values), total),
        organisation_kinds=_shares(count("kind"), [str(kind) for kind in REFERRING_KINDS], total),
        providers=providers,
        provider_choices=[(row.provider_id, row.name) for row in providers],
        timeliness=timeliness,
        overdue_total=overdue_total,
        overdue=[],
        overdue_by_clock=_shares(overdue, list(Clock.values), overdue_total),
        outcomes=_shares(outcomes, outcome_keys, total),
    )
