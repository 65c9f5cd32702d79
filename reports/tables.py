"""The report as tables: the same rows for the page, the CSV download and its "for publication" variant.

For publication, counts of 1 to 4 are shown as ``<5``. The counts add up along lines (a state's time
bands to its open cases, a breakdown's rows to the summary's referrals, the months to the anonymous
notifications, …), and a reader who knows the lines can work a ``<5`` back from the others, or narrow
it: 66 referrals less 60 less 5 leave the ``<5`` beside them at 1; four ``<5`` months under a ``<5``
total are 1 each. Lines run across tables (the summary's referrals are its open cases and the closed
outcomes; the providers' active placements are the placed and the missing cases; the timeliness
table's cases are the referrals less those never assessed, or those ever placed, and its cases waiting
are the received, or some of the assessed), and what one line tells of a count carries to every other
it is on: Adult ``<5`` and Child 6 put the referrals at 10 at most, Recovered 7 and three outcomes of
``<5`` at 10 at least, so 10, and each of those ``<5`` is 1.

So the publishable tables are read together, as such a reader would. Each withheld count starts as what
the reader knows of it: 1 to 4 for a ``<5``, anything for a suppressed count (a reader is taken to know
that one of 5 or more is 5 or more, which errs on the safe side). Each line narrows its withheld counts
from what is known of the others, again and again until none narrows any further (interval constraint
propagation), and the lines solved together pin what they settle exactly (two lines each suppressing
two counts, one of them shared, give the third away when one is subtracted from the other). While a
``<5`` is left narrower than 1 to 4, or a suppressed count fewer than four values to be, one more count
is suppressed, shown as ``suppressed``: on the line that narrowed it, or one that narrowed the counts
that line reads it from, the smallest published count whose suppression would widen it, parts before
totals; else a zero; else a ``<5`` (a ``<5`` total over ``<5`` parts). A line may run through a count
no table shows (a provider's active placements less its beds in use are its people in outreach, its
offers answered less those accepted the ones it refused or let expire, a clock's decided less its met
the missed): the reader knows nothing of it, but one of 1 to 4 is kept from being narrowed like a
``<5``. It all works on the aggregated tables, a few hundred counts whatever the number of referrals.

A share, rate or time is published only when every count it is computed from is published, shares'
totals included: it then says nothing a reader could not work out from the published counts.

All of this holds for one set of filters. Files for two overlapping sets (a month and the month but a
day) could be subtracted one from the other; the files say which filters they hold, and to publish one
set of filters for a period.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.utils import timezone

from accounts.models import OrganisationKind
from referrals.choices import ReferralState, Region
from referrals.deadlines import WORKING_DAY_START
from referrals.local_time import MOMENT, local_time
from referrals.models import Clock

from .selectors import AGE_BANDS, AGE_IN_DOUBT, WENT_MISSING, CaseloadReport, OverdueCase

SUPPRESSED_COUNT = "<5"
SUPPRESSED = "suppressed"
CSV_CHUNK_CHARS = 64 * 1024
# A date and time a spreadsheet reads as one, in UK time (``local_time`` adds the zone only to the hour
# that happens twice, when the clocks go back).
CSV_MOMENT = "%Y-%m-%d %H:%M"
# A spreadsheet runs text starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A cell of the publication: (table name, row key, column key).
Cell = tuple[str, Any, str]
REFERRALS: Cell = ("summary", "referrals", "count")
OPEN_CASES: Cell = ("summary", "open", "count")
ANONYMOUS_NOTIFICATIONS: Cell = ("summary", "anonymous_notifications", "count")
OVERDUE_CASES: Cell = ("summary", "overdue", "count")
# What a reader knows of a withheld count, as (least, most): 1 to 4 if shown as <5; anything if suppressed
# or not shown at all, though at least 5 if suppressed and of 5 or more (see _suppressed).
Bounds = tuple[float, float]
SMALL: Bounds = (1, 4)
LARGE: Bounds = (5, math.inf)
ANY: Bounds = (0, math.inf)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # text, count (people or cases: suppressed for publication), number, share, duration, datetime, month
    kind: str = "text"
    # Counts this figure rests on: suppressed for publication when any of them is.
    depends_on: tuple[str, ...] = ()
    # A URL name taking the row's ``key``: on the page, the cell links there.
    links_to: str = ""


@dataclass(frozen=True)
class Line:
    """Counts that add up to the sum of others (their totals, most often one), so that any one of them
    is the totals less the rest."""

    totals: tuple[Cell, ...]
    parts: tuple[Cell, ...]


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    publishable: bool = True
    notes: list[str] = field(default_factory=list)
    # The lines this table's counts add up along, to its own counts or to another table's.
    lines: list[Line] = field(default_factory=list)
    # The count every share of this table is a fraction of, but for the rows keyed in ``row_shares_of``.
    shares_of: Cell | None = None
    row_shares_of: dict[str, Cell] = field(default_factory=dict)
    # Counts no column shows that its lines run through: the published counts can give them away as
    # they can a ``<5``, so they are withheld alike when 1 to 4.
    unpublished: dict[Cell, int] = field(default_factory=dict)
    # Of ``notes``, those left out of the variant for publication: they name counts it may withhold.
    unpublished_notes: list[str] = field(default_factory=list)

    def cells(self, column: str) -> tuple[Cell, ...]:
        return tuple((self.name, row["key"], column) for row in self.rows)


def _hours(value: datetime.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def _share_table(
    name: str,
    title: str,
    key_label: str,
    rows: list[Any],
    *,
    shares_of: Cell = REFERRALS,
    share_label: str = "Share",
    **kwargs: Any,
) -> Table:
    return Table(
        name=name,
        title=title,
        columns=[
            Column("label", key_label),
            Column("count", "Referrals", "count"),
            Column("share", share_label, "share", ("count",)),
        ],
        rows=[{"key": row.key, "label": row.label, "count": row.count, "share": row.share} for row in rows],
        shares_of=shares_of,
        **kwargs,
    )


def overdue_rows(cases: Iterable[OverdueCase]) -> Iterator[dict[str, Any]]:
    """The rows of the overdue table, keyed by referral, for the report's list or for every case."""
    labels = dict(Clock.choices)
    for row in cases:
        yield {
            "key": row.referral_id,
            "reference": row.reference,
            "clock": row.clock,
            "clock_label": row.clock_label,
            "overdue_since": row.overdue_since,
            "overdue_by": row.overdue_by,
            "also_overdue": ", ".join(labels[clock] for clock in row.also_overdue),
        }


def report_tables(report: CaseloadReport) -> dict[str, Table]:
    """Every table of the report, by name, in page order."""
    tables = [
        Table(
            name="summary",
            title="Summary",
            columns=[Column("label", "Measure"), Column("count", "Count", "count")],
            rows=[
                {"key": "referrals", "label": "Referrals", "count": report.referrals},
                {"key": "open", "label": "Open cases", "count": report.open_cases},
                {
                    "key": "anonymous_notifications",
                    "label": "Anonymous notifications (not referrals)",
                    "count": report.anonymous_notifications,
                },
                {"key": "overdue", "label": "Cases overdue now", "count": report.overdue_total},
            ],
        ),
        Table(
            name="open_cases",
            title="Open cases by state and time in that state",
            columns=[
                Column("label", "State"),
                Column("total", "Open cases", "count"),
                *(Column(key, label, "count") for key, label, _, _ in AGE_BANDS),
            ],
            rows=[
                {"key": row.state, "label": row.label, "total": row.total, **row.bands}
                for row in report.open_by_state
            ],
            notes=[
                "A missing person's time is counted from when they were last seen. A person reallocated "
                "while missing is counted as missing, not assessed, until found, for the time since they "
                "were last seen."
            ],
        ),
        Table(
            name="monthly",
            title="Referrals and anonymous notifications per month",
            columns=[
                Column("month", "Month", "month"),
                Column("referrals", "Referrals", "count"),
                Column("anonymous_notifications", "Anonymous notifications", "count"),
            ],
            rows=[
                {
                    "key": row.month,
                    "month": row.month,
                    "referrals": row.referrals,
                    "anonymous_notifications": row.anonymous_notifications,
                }
                for row in report.monthly
            ],
            notes=_part_months(report),
        ),
        Table(
            name="nationalities",
            title="Nationalities",
            columns=[
                Column("key", "Code"),
                Column("label", "Nationality"),
                Column("count", "Referrals", "count"),
                Column("share", "Share", "share", ("count",)),
            ],
            rows=[
                {"key": row.key, "label": row.label, "count": row.count, "share": row.share}
                for row in report.nationalities
            ],
            shares_of=REFERRALS,
            notes=[
                "A person with two nationalities is counted once, under the first one given.",
                *(tie.note for tie in report.nationality_ties),
            ],
            unpublished_notes=[tie.note for tie in report.nationality_ties],
        ),
        _share_table(
            "exploitation_types",
            "Exploitation types",
            "Exploitation type",
            report.exploitation_types,
            notes=["A referral may name several types, so the shares can add up to more than 100%."],
        ),
        _share_table(
            "age_groups",
            "Adults and children",
            "Age group",
            [*report.age_groups, report.age_in_doubt],
            notes=[
                "A person whose age is in doubt is counted as a child, as safeguarding treats them: the last "
                "row says how many of the children they are, and its share is of the children."
            ],
            row_shares_of={AGE_IN_DOUBT: ("age_groups", "child", "count")},
        ),
        _share_table("genders", "Gender", "Gender", report.genders),
        _share_table("regions", "Region", "Region", report.regions),
        _share_table(
            "organisation_kinds",
            "Referring organisation kind",
            "Organisation kind",
            report.organisation_kinds,
        ),
        Table(
            name="providers",
            title="Care providers",
            columns=[
                Column("label", "Provider"),
                Column("active_placements", "Active placements", "count"),
                Column("beds_in_use", "Beds in use", "count"),
                Column("capacity", "Beds", "number"),
                Column("occupancy", "Occupancy", "share", ("beds_in_use",)),
                Column("pending_offers", "Pending offers", "count"),
                Column("accepted_offers", "Offers accepted", "count"),
                Column("answered_offers", "Offers answered", "count"),
                Column("acceptance_rate", "Acceptance rate", "share", ("accepted_offers", "answered_offers")),
                Column("median_time_to_accept", "Median time to accept", "duration", ("accepted_offers",)),
            ],
            rows=[
                {
                    "key": row.provider_id,
                    "label": row.name,
                    "active_placements": row.active_placements,
                    "beds_in_use": row.beds_in_use,
                    "capacity": row.capacity,
                    "occupancy": row.occupancy,
                    "pending_offers": row.pending_offers,
                    "accepted_offers": row.accepted_offers,
                    "answered_offers": row.answered_offers,
                    "acceptance_rate": row.acceptance_rate,
                    "median_time_to_accept": row.median_time_to_accept,
                }
                for row in report.providers
            ],
            notes=[
                "Answered offers are those accepted, rejected or left to expire; withdrawn offers are not counted.",
                "Beds in use are active accommodation placements; outreach placements take no bed.",
                "Capacity, beds in use and occupancy are today's, whatever the filters; the other "
                "columns count the offers on the filtered referrals. With a provider chosen, only its row "
                "is shown, and it counts its offers whether or not the person was placed with it.",
            ],
        ),
        Table(
            name="timeliness",
            title="Timeliness",
            columns=[
                Column("label", "Measure"),
                Column("count", "Cases assessed or placed", "count"),
                Column("median", "Median, of those assessed or placed", "duration", ("count",)),
                Column("p90", "90th percentile, of those assessed or placed", "duration", ("count",)),
                Column("waiting", "Cases still waiting now", "count"),
                Column("longest_wait", "Longest wait so far", "duration", ("waiting",)),
                Column("within_deadline", "Clocks met", "count"),
                Column("decided", "Clocks decided", "count"),
                Column(
                    "share_within_deadline", "Clocks within deadline", "share", ("within_deadline", "decided")
                ),
            ],
            rows=[
                {
                    "key": row.key,
                    "clock": row.clock,
                    "label": row.label,
                    "count": row.count,
                    "median": row.median,
                    "p90": row.p90,
                    "waiting": row.waiting,
                    "longest_wait": row.longest_wait,
                    "within_deadline": row.within_deadline,
                    "decided": row.decided,
                    "share_within_deadline": row.share_within_deadline,
                }
                for row in report.timeliness
            ],
            notes=[
                "Time to assessment runs from submission to assessment; time to placement from assessment to "
                "the first placement. The median and 90th percentile are of the cases assessed or placed "
                "only: the cases still waiting are beside them, with the longest wait so far.",
                "The clock columns count clocks, not cases: a person placed again after a reallocation has a "
                "placement clock for each placement. A clock is decided once it stops or passes its due "
                "time; it is met if it stopped in time. A clock stopped in time by the case being withdrawn "
                "or exited is left out.",
                _deadlines_note(),
            ],
        ),
        Table(
            name="overdue",
            title="Overdue now",
            columns=[
                Column("reference", "Case reference", links_to="referrals:case"),
                Column("clock_label", "Most overdue clock"),
                Column("overdue_since", "Overdue since", "datetime"),
                Column("overdue_by", "Overdue by", "duration"),
                Column("also_overdue", "Also overdue"),
            ],
            rows=list(overdue_rows(report.overdue)),
            publishable=False,
            notes=[
                "Each case is listed once, under its most overdue clock, with its other overdue clocks "
                "beside it.",
                "A clock is overdue since it was due; a missing person's since they were last seen.",
            ],
        ),
        _share_table(
            "overdue_by_clock",
            "Overdue cases by clock",
            "Clock",
            report.overdue_by_clock,
            shares_of=OVERDUE_CASES,
            notes=[
                "A case with more than one clock overdue is counted under each, so the shares of the cases "
                "overdue can add up to more than 100%."
            ],
        ),
        _share_table(
            "outcomes",
            "Outcomes",
            "Outcome",
            report.outcomes,
            share_label="Share of all referrals, open included",
            notes=[
                "Missing now counts the people missing today; went missing at any time, every referral ever "
                "reported missing, found since or not.",
                "The shares are of all referrals, open cases included: not rates of recovery or of exit.",
            ],
        ),
    ]
    tables_by_name = {table.name: table for table in tables}
    tables_by_name["overdue_by_clock"].columns[1] = Column("count", "Cases overdue", "count")
    _add_lines(tables_by_name)
    if report.overdue_truncated:
        tables_by_name["overdue"].notes.append(
            f"The caseload page lists the {len(report.overdue):,} most overdue of {report.overdue_total:,} "
            "cases; its CSV download, every one."
        )
    return tables_by_name


def _deadlines_note() -> str:
    """The deadlines as they are set (SPEC §5), so that the share within them can be read."""
    assessment = settings.DEADLINE_ASSESSMENT_WORKING_DAYS
    placement = settings.DEADLINE_PLACEMENT_WORKING_DAYS
    emergency = settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS
    return (
        f"Deadlines: an assessment is due {assessment} working day{pluralize(assessment)} after "
        f"submission; a standard placement {placement} working day{pluralize(placement)} after "
        f"assessment; an emergency placement {emergency} hour{pluralize(emergency)} after assessment. "
        "Working days are those of the case's nation (no weekends, nor its bank holidays), counted from "
        f"the clock's start or, for one started before {WORKING_DAY_START:%H:%M} or on a day that is not a "
        f"working day, from the next {WORKING_DAY_START:%H:%M} on a working day."
    )


def _part_months(report: CaseloadReport) -> list[str]:
    """Notes on the first and last months when the period covers only part of them, so that a short
    month is not read as a fall."""
    if not report.monthly:
        return []
    today = timezone.localdate(report.as_at)
    first_day = report.report_filter.date_from
    last_day = min(report.report_filter.date_to or today, today)
    notes = []
    first, last = report.monthly[0].month, report.monthly[-1].month
    if first_day is not None and first_day > first:
        notes.append(f"{first:%B %Y} is counted from {first_day:%-d %B} only.")
    following = (last.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    if last_day < following - datetime.timedelta(days=1) and last_day >= last:
        notes.append(f"{last:%B %Y} is counted to {last_day:%-d %B} only.")
    return notes


def _add_lines(tables: dict[str, Table]) -> None:
    """How the report's counts add up, for secondary suppression: every sum a reader could subtract from."""
    open_cases, outcomes = tables["open_cases"], tables["outcomes"]
    for row in open_cases.rows:
        bands = tuple((open_cases.name, row["key"], key) for key, _, _, _ in AGE_BANDS)
        open_cases.lines.append(Line(((open_cases.name, row["key"], "total"),), bands))
    open_cases.lines.append(Line((OPEN_CASES,), open_cases.cells("total")))
    monthly = tables["monthly"]
    monthly.lines += [
        Line((REFERRALS,), monthly.cells("referrals")),
        Line((ANONYMOUS_NOTIFICATIONS,), monthly.cells("anonymous_notifications")),
    ]
    # Each referral has one of each: nationality, age group, gender, region, referring organisation kind.
    age_groups = tables["age_groups"]
    in_doubt: Cell = (age_groups.name, AGE_IN_DOUBT, "count")
    for name in ("nationalities", "age_groups", "genders", "regions", "organisation_kinds"):
        tables[name].lines.append(
            Line((REFERRALS,), tuple(cell for cell in tables[name].cells("count") if cell != in_doubt))
        )
    # The children whose age is in doubt are some of the children.
    children = next(row["count"] for row in age_groups.rows if row["key"] == "child")
    in_doubt_count = next(row["count"] for row in age_groups.rows if row["key"] == AGE_IN_DOUBT)
    if in_doubt_count <= children:
        not_in_doubt: Cell = (age_groups.name, "child", "age_not_in_doubt")
        age_groups.unpublished[not_in_doubt] = children - in_doubt_count
        age_groups.lines.append(Line(((age_groups.name, "child", "count"),), (in_doubt, not_in_doubt)))
    overdue_by_clock = tables["overdue_by_clock"]
    # Every referral is open or closed with an outcome: the referrals are the open cases and the closed
    # outcomes, with the open cases as the summary has them or as their states add up. Missing is open
    # and an outcome, the same count in the two tables.
    missing = str(ReferralState.MISSING)
    missing_cases: Cell = (open_cases.name, missing, "total")
    missing_now, went_missing = (outcomes.name, missing, "count"), (outcomes.name, WENT_MISSING, "count")
    closed = tuple(cell for cell in outcomes.cells("count") if cell not in (missing_now, went_missing))
    outcomes.lines += [
        Line((REFERRALS,), (OPEN_CASES, *closed)),
        Line((REFERRALS,), open_cases.cells("total") + closed),
        Line((missing_cases,), (missing_now,)),
    ]
    # The people who went missing are those missing now and those found (or whose case closed) since.
    counts = {row["key"]: row["count"] for row in outcomes.rows}
    if counts[WENT_MISSING] >= counts[missing]:
        no_longer: Cell = (outcomes.name, WENT_MISSING, "no_longer_missing")
        outcomes.unpublished[no_longer] = counts[WENT_MISSING] - counts[missing]
        outcomes.lines.append(Line((went_missing,), (missing_now, no_longer)))
    # A missing person's clock runs, overdue, from the moment they are reported until they are found or
    # the case closes: the missing clocks are the missing cases, those reallocated while missing too
    # (checked all the same: a line that does not hold would mislead the suppression).
    missing_clocks = next(row for row in overdue_by_clock.rows if row["key"] == Clock.MISSING)
    if missing_clocks["count"] == next(row["total"] for row in open_cases.rows if row["key"] == missing):
        overdue_by_clock.lines.append(
            Line((missing_cases,), ((overdue_by_clock.name, missing_clocks["key"], "count"),))
        )
    # Each placed or missing person has one active placement: the providers' active placements add up
    # to the placed and the missing, unless a provider filter keeps only some providers' rows or a person
    # reallocated while missing has none (then the sum does not hold, and the line is left out).
    providers = tables["providers"]
    placed_and_missing = tuple(
        (open_cases.name, state, "total") for state in (str(ReferralState.PLACED), missing)
    )
    active = providers.cells("active_placements")
    if sum(row["active_placements"] for row in providers.rows) == sum(
        row["total"] for row in open_cases.rows if row["key"] in (str(ReferralState.PLACED), missing)
    ):
        providers.lines.append(Line(placed_and_missing, active))
    # An accommodation placement holds a bed and an outreach one none: a provider's placements less its
    # beds in use are its people in outreach. Beds in use are today's whatever the filters, so under a
    # date, region or organisation kind filter they also count the beds of referrals it leaves out, and
    # the difference can run either way (a house with beds only: its beds less placements are those).
    for row in providers.rows:
        _add_difference(providers, row, "active_placements", "beds_in_use")
        # An answered offer was accepted or not (rejected, or left to expire).
        _add_difference(providers, row, "answered_offers", "accepted_offers")
    # A decided clock was met or missed.
    for row in tables["timeliness"].rows:
        _add_difference(tables["timeliness"], row, "decided", "within_deadline")
    _add_cases_lines(tables)


def _add_cases_lines(tables: dict[str, Table]) -> None:
    """The timeliness table's cases as the referrals and outcomes give them. A referral never assessed
    is received, declined (only a received one can be) or withdrawn before assessment; one ever placed
    is placed, missing, recovered or exited, or was placed and has been reallocated since. The cases
    waiting to be assessed are the received ones; those waiting to be placed for the first time are
    among the assessed, with those waiting again after a reallocation. The withdrawn before assessment,
    the reallocated and those waiting again are counts of their own that no table shows; a line is left
    out where the figures do not bear it out (it would mislead the suppression)."""
    timeliness, open_cases, outcomes = tables["timeliness"], tables["open_cases"], tables["outcomes"]
    referrals = next(row["count"] for row in tables["summary"].rows if row["key"] == REFERRALS[1])
    states: dict[str, tuple[Cell, int]] = {
        row["key"]: ((outcomes.name, row["key"], "count"), row["count"]) for row in outcomes.rows
    } | {row["key"]: ((open_cases.name, row["key"], "total"), row["total"]) for row in open_cases.rows}

    def cell(row: dict[str, Any], column: str) -> Cell:
        return (timeliness.name, row["key"], column)

    assessment = next(row for row in timeliness.rows if row["clock"] == Clock.ASSESSMENT)
    never = ReferralState.RECEIVED, ReferralState.DECLINED
    before = referrals - assessment["count"] - sum(states[state][1] for state in never)
    withdrawn, withdrawn_count = states[ReferralState.WITHDRAWN]
    if 0 <= before <= withdrawn_count:
        withdrawn_before, withdrawn_after = (
            cell(assessment, f"withdrawn_{when}_assessment") for when in ("before", "after")
        )
        timeliness.unpublished |= {withdrawn_before: before, withdrawn_after: withdrawn_count - before}
        timeliness.lines += [
            Line(
                (REFERRALS,),
                (cell(assessment, "count"), *(states[state][0] for state in never), withdrawn_before),
            ),
            Line((withdrawn,), (withdrawn_before, withdrawn_after)),
        ]
    received, received_count = states[ReferralState.RECEIVED]
    if assessment["waiting"] == received_count:
        timeliness.lines.append(Line((received,), (cell(assessment, "waiting"),)))

    placement = [row for row in timeliness.rows if row["clock"] == Clock.PLACEMENT]
    placed = (ReferralState.PLACED, ReferralState.MISSING, ReferralState.RECOVERED, ReferralState.EXITED)
    reallocated = sum(row["count"] for row in placement) - sum(states[state][1] for state in placed)
    if reallocated >= 0:
        reallocated_cell = (timeliness.name, Clock.PLACEMENT, "placed_and_reallocated")
        timeliness.unpublished[reallocated_cell] = reallocated
        timeliness.lines.append(
            Line(
                tuple(cell(row, "count") for row in placement),
                (*(states[state][0] for state in placed), reallocated_cell),
            )
        )
    assessed, assessed_count = states[ReferralState.ASSESSED]
    waiting_again = assessed_count - sum(row["waiting"] for row in placement)
    if waiting_again >= 0:
        waiting_again_cell = (timeliness.name, Clock.PLACEMENT, "waiting_again_after_reallocation")
        timeliness.unpublished[waiting_again_cell] = waiting_again
        timeliness.lines.append(
            Line((assessed,), (*(cell(row, "waiting") for row in placement), waiting_again_cell))
        )


def _add_difference(table: Table, row: dict[str, Any], minuend: str, subtrahend: str) -> None:
    """The row's two counts less one another, a count of its own that a reader can work out and that is
    suppressed like the published ones, though not published itself."""
    first, second, difference = (
        (table.name, row["key"], key) for key in (minuend, subtrahend, f"{minuend}_less_{subtrahend}")
    )
    value = row[minuend] - row[subtrahend]
    table.unpublished[difference] = abs(value)
    table.lines.append(
        Line((first,), (second, difference)) if value >= 0 else Line((second,), (first, difference))
    )


def _is_small(value: Any) -> bool:
    return isinstance(value, int) and 1 <= value <= 4


def _suppressed(count: int) -> Bounds:
    """What a reader is taken to know of a count shown as suppressed. It could be anything, zero and
    1 to 4 included (where 0 or <5 would give a small count away), but one of 5 or more is taken to be
    known as 5 or more: granting a reader more than they know errs on the safe side."""
    return LARGE if count >= 5 else ANY


def _signed(line: Line) -> list[tuple[int, Cell]]:
    """The line as terms that add up to nothing: its parts, and its totals taken away."""
    return [(1, part) for part in line.parts] + [(-1, total) for total in line.totals]


def _ranges_along(
    terms: list[tuple[int, Cell]], counts: dict[Cell, int], known: dict[Cell, Bounds]
) -> dict[Cell, Bounds]:
    """What a line (as its signed terms) leaves each of its withheld counts to be, given what is known of
    the others: a term is minus the others, so it lies between minus their most and minus their least."""
    least: float = 0
    most: float = 0
    unbounded_below = unbounded_above = 0
    withheld = []
    for sign, cell in terms:
        if cell not in known:
            least += sign * counts[cell]
            most += sign * counts[cell]
            continue
        low, high = known[cell] if sign > 0 else (-known[cell][1], -known[cell][0])
        if low == -math.inf:
            unbounded_below += 1
        else:
            least += low
        if high == math.inf:
            unbounded_above += 1
        else:
            most += high
        withheld.append((sign, cell, low, high))
    ranges = {}
    for sign, cell, low, high in withheld:
        if unbounded_below > (low == -math.inf):
            others_least: float = -math.inf
        else:
            others_least = least - (0 if low == -math.inf else low)
        if unbounded_above > (high == math.inf):
            others_most: float = math.inf
        else:
            others_most = most - (0 if high == math.inf else high)
        ranges[cell] = (-others_most, -others_least) if sign > 0 else (others_least, others_most)
    return ranges


def _worked_out(lines: list[Line], withheld: dict[Cell, Bounds]) -> list[Cell]:
    """The withheld counts that the lines pin down when added to and subtracted from one another.

    Each line is an equation in its withheld counts, the published ones being known. Gauss-Jordan
    elimination leaves each equation with a withheld count of its own, in no other: one left alone in
    its equation is worked out; any other can be traded against the rest of its equation."""
    reduced: dict[Cell, dict[Cell, Fraction]] = {}  # each equation, by the count of its own
    for line in lines:
        row = {cell: Fraction(sign) for sign, cell in _signed(line) if cell in withheld}
        for pivot, other in reduced.items():
            if factor := row.get(pivot):
                for cell, value in other.items():
                    row[cell] = row.get(cell, 0) - factor * value
        row = {cell: factor for cell, factor in row.items() if factor}
        if not row:
            continue  # nothing new: the sum of lines already read
        pivot = next(iter(row))
        row = {cell: factor / row[pivot] for cell, factor in row.items()}
        for other in reduced.values():
            if factor := other.get(pivot):
                for cell, value in row.items():
                    other[cell] = other.get(cell, 0) - factor * value
                    if not other[cell]:
                        del other[cell]
        reduced[pivot] = row
    return [pivot for pivot, row in reduced.items() if len(row) == 1]


@dataclass
class _Reading:
    """What a reader works out of the withheld counts: what they knew of each to start with, the least and
    most each can be, and the line that last narrowed each end (none where the lines solved together pin
    it)."""

    withheld: dict[Cell, Bounds]
    known: dict[Cell, Bounds]
    narrowed_by: dict[tuple[Cell, int], int] = field(default_factory=dict)


class _Reader:
    """A reader of the publication who knows every line its counts add up along and reads them all
    together: what they can work out of the withheld counts, and what else to withhold when too much."""

    def __init__(self, counts: dict[Cell, int], shown: set[Cell], lines: list[Line]) -> None:
        self.counts, self.shown, self.lines = counts, shown, lines
        self.order = {cell: index for index, cell in enumerate(counts)}
        self.terms = [_signed(line) for line in lines]
        self.lines_through: dict[Cell, list[int]] = {cell: [] for cell in counts}
        for index, terms in enumerate(self.terms):
            for _, cell in terms:
                self.lines_through[cell].append(index)

    def read(self, withheld: dict[Cell, Bounds]) -> _Reading:
        """What the reader knows of each withheld count to start with, narrowed by each line in turn from
        what is known of its other counts, again and again until no line narrows any further (interval
        constraint propagation: what one line gives away is carried to every other); then the counts the
        lines pin down when solved together pinned, and narrowed from again."""
        reading = _Reading(withheld, dict(withheld))
        self._narrow(reading, {index for cell in withheld for index in self.lines_through[cell]})
        pinned = [
            cell
            for cell in _worked_out(self.lines, withheld)
            if reading.known[cell][0] != reading.known[cell][1]
        ]
        for cell in pinned:
            reading.known[cell] = (self.counts[cell], self.counts[cell])
        self._narrow(reading, {index for cell in pinned for index in self.lines_through[cell]})
        return reading

    def _narrow(self, reading: _Reading, lines: set[int]) -> None:
        """Each of the lines narrows what it can, and each line through a count narrowed is read again."""
        known = reading.known
        waiting = deque(sorted(lines))
        while waiting:
            index = waiting.popleft()
            lines.discard(index)
            for cell, (low, high) in _ranges_along(self.terms[index], self.counts, known).items():
                if low <= known[cell][0] and high >= known[cell][1]:
                    continue
                if low > known[cell][0]:
                    reading.narrowed_by[cell, 0] = index
                if high < known[cell][1]:
                    reading.narrowed_by[cell, 1] = index
                known[cell] = (max(known[cell][0], low), min(known[cell][1], high))
                for other in self.lines_through[cell]:
                    if other not in lines:
                        waiting.append(other)
                        lines.add(other)

    def learns(self, cell: Cell, reading: _Reading) -> bool:
        """Whether the reader learns too much of a withheld count: a ``<5`` (or a count no table shows of
        1 to 4) anything narrower than 1 to 4; a suppressed count fewer than the four values a ``<5``
        could be. Counts of 0 or 5 or more that no table shows are there only to be read through."""
        low, high = reading.known[cell]
        if reading.withheld[cell] == SMALL:
            return (low, high) != SMALL
        return (cell in self.shown or _is_small(self.counts[cell])) and high - low < 3

    def next_to_withhold(self, cell: Cell, reading: _Reading) -> tuple[Cell, Bounds] | None:
        """What else to withhold, with what a reader is then taken to know of it, for a count the reader
        learns too much of: the cheapest count whose withholding would widen what a line narrowing it
        reads, else (where the lines solved together pin it) the cheapest on any of its lines; None if
        nothing is left to withhold."""
        anywhere = [(index, cell, end) for index in self.lines_through[cell] for end in (0, 1)]
        return self._cheapest(self._reasons(cell, reading), reading) or self._cheapest(
            anywhere, reading, widening=False
        )

    def _reasons(self, cell: Cell, reading: _Reading) -> list[tuple[int, Cell, int]]:
        """Why the reader knows so much of a count, as (line, count, end): the line that narrowed each end
        of it (0 its least, 1 its most), then the lines that narrowed the ends of others that line reads
        it from, and so on."""
        known, withheld = reading.known, reading.withheld
        waiting = deque((cell, end) for end in (0, 1) if known[cell][end] != withheld[cell][end])
        seen, found = set(waiting), []
        while waiting:
            cell, end = waiting.popleft()
            index = reading.narrowed_by.get((cell, end))
            if index is None:
                continue  # pinned by the lines solved together
            found.append((index, cell, end))
            sign = 1 if cell in self.lines[index].parts else -1
            for other_sign, other in self.terms[index]:
                other_end = _read_end(end, sign, other_sign)
                if (
                    other in withheld
                    and known[other][other_end] != withheld[other][other_end]
                    and (other, other_end) not in seen
                ):
                    seen.add((other, other_end))
                    waiting.append((other, other_end))
        return found

    def _cheapest(
        self, reasons: list[tuple[int, Cell, int]], reading: _Reading, *, widening: bool = True
    ) -> tuple[Cell, Bounds] | None:
        """The cheapest count to withhold on the lines of the reasons, with what a reader is then taken to
        know of it: the smallest published count, parts before totals (the finer figures), else a zero,
        else a ``<5`` shown as suppressed instead, a total first (a ``<5`` total over ``<5`` parts gives
        them away). With ``widening``, only one that widens the end of the count the line reads it for."""
        best: tuple[tuple[int, int, int], Cell, Bounds] | None = None
        for index, narrowed, end in reasons:
            sign = 1 if narrowed in self.lines[index].parts else -1
            for other_sign, other in self.terms[index]:
                count = self.counts[other]
                if other not in reading.withheld:
                    rank, prior = ((other_sign < 0, count) if count else (2, 0)), _suppressed(count)
                elif reading.withheld[other] == SMALL and other in self.shown:
                    rank, prior = (3, other_sign > 0), ANY
                else:
                    continue
                now = reading.known.get(other, (count, count))
                read = _read_end(end, sign, other_sign)
                widens = prior[0] < now[0] if read == 0 else prior[1] > now[1]
                key = (*rank, self.order[other])
                if (widens or not widening) and (best is None or key < best[0]):
                    best = (key, other, prior)
        return None if best is None else (best[1], best[2])


def _read_end(end: int, sign: int, other_sign: int) -> int:
    """Which end of another count on a line a count's least (0) or most (1) is read from: its most from
    the least of the others on its side of the sum and the most of those on the other side, its least
    the other way round."""
    return 1 - end if other_sign == sign else end


def withheld_counts(tables: dict[str, Table]) -> dict[Cell, Bounds]:
    """Every count of the publishable tables not to be published, with what a reader is taken to know of
    it: counts of 1 to 4, the counts no table shows, and as many more as it takes for a reader of every
    line together to learn nothing more of any of them."""
    publishable = [table for table in tables.values() if table.publishable]
    counts = {
        (table.name, row["key"], column.key): row[column.key]
        for table in publishable
        for column in table.columns
        if column.kind == "count"
        for row in table.rows
    }
    shown = set(counts)
    for table in publishable:
        counts |= table.unpublished
    withheld: dict[Cell, Bounds] = {
        cell: SMALL if _is_small(count) else ANY
        for cell, count in counts.items()
        if _is_small(count) or cell not in shown
    }
    # A line whose counts do not add up (the report's queries read the database as it changed) tells a
    # reader nothing certain; read, it would push the least and most of its counts apart for ever.
    lines = [
        line
        for table in publishable
        for line in table.lines
        if all(cell in counts for cell in (*line.totals, *line.parts))
        and sum(sign * counts[cell] for sign, cell in _signed(line)) == 0
    ]
    reader = _Reader(counts, shown, lines)
    reading = reader.read(withheld)
    beyond_help: set[Cell] = set()  # nothing is left on its lines to withhold
    while learnt := [
        cell
        for cell in counts
        if cell in withheld and cell not in beyond_help and reader.learns(cell, reading)
    ]:
        companion = reader.next_to_withhold(learnt[0], reading)
        if companion is None:
            beyond_help.add(learnt[0])
        else:
            withheld = {**withheld, companion[0]: companion[1]}
            reading = reader.read(withheld)
    return withheld


PUBLICATION_NOTES = (
    "Counts of 1 to 4 are shown as <5, or as suppressed where even that would give them away.",
    # Suppression is worked out for one set of filters: another set's figures are not known here.
    "Publish one set of filters for a period: figures published for two overlapping sets (two date "
    "ranges, one inside the other, say) can be subtracted one from the other.",
)


def for_publication(tables: dict[str, Table]) -> dict[str, Table]:
    """Every publishable table as it may be published beside the others: counts of 1 to 4 shown as ``<5``,
    the counts that would give them away and the figures resting on either shown as ``suppressed``."""
    withheld = withheld_counts(tables)
    published = {}
    for table in tables.values():
        if not table.publishable:
            continue
        rows = []
        for row in table.rows:
            shares_withheld = table.row_shares_of.get(row["key"], table.shares_of) in withheld
            shown = dict(row)
            for column in table.columns:
                cell = (table.name, row["key"], column.key)
                if withheld.get(cell) == SMALL:
                    shown[column.key] = SUPPRESSED_COUNT
                elif (
                    cell in withheld
                    or any((table.name, row["key"], key) in withheld for key in column.depends_on)
                    # A share of nothing is nothing, whatever the total.
                    or (column.kind == "share" and shares_withheld and row.get(column.key) != 0)
                ):
                    shown[column.key] = SUPPRESSED
            rows.append(shown)
        notes = [*(note for note in table.notes if note not in table.unpublished_notes), *PUBLICATION_NOTES]
        if any(value == SUPPRESSED for row in rows for value in row.values()):
            notes.append(
                "Figures shown as suppressed are withheld so that no count under 5 can be worked out "
                "from the published figures, in this table or the report's others; a suppressed figure "
                "may be any count, zero included."
            )
        published[table.name] = replace(table, rows=rows, notes=notes)
    return published


def csv_text(text: str) -> str:
    """Text as it is written to CSV: behind a quote where a spreadsheet would run it as a formula (a
    provider named ``=HYPERLINK(…)``), so that it is read as the text it is."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_value(value: Any, kind: str) -> str:
    """A cell as it is written to CSV: shares as percentages, durations in hours, text never as a formula
    (a number, negative too, is not text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_text(value)
    if kind == "share":
        return percentage(value)
    if kind == "duration":
        return f"{_hours(value):.2f}"
    if kind == "datetime":
        return local_time(value, CSV_MOMENT)
    if kind == "month":
        return value.strftime("%Y-%m")
    return str(value)


def csv_header(column: Column) -> str:
    suffix = {"share": " (%)", "duration": " (hours)", "datetime": " (UK time)"}.get(column.kind, "")
    return f"{column.label}{suffix}"


def filters_applied(report: CaseloadReport) -> str:
    """The report's filters in words, for a file or the page that must say which figures it holds."""
    applied = report.report_filter
    described = []
    if applied.date_from:
        described.append(f"submitted from {applied.date_from:%-d %B %Y}")
    if applied.date_to:
        described.append(f"submitted to {applied.date_to:%-d %B %Y}")
    if applied.region:
        described.append(f"region {Region(applied.region).label}")
    if applied.provider_id is not None:
        described.append(f"placed with {dict(report.provider_choices)[applied.provider_id]}")
    if applied.organisation_kind:
        described.append(f"referring organisation {OrganisationKind(applied.organisation_kind).label}")
    return "; ".join(described) or "none: all of the UK"


def csv_preamble(report: CaseloadReport, table: Table, *, publication: bool) -> list[list[str]]:
    """What a downloaded table is, as rows above it: the report and table, the filters, when, the notes."""
    title = f"{table.title} (for publication)" if publication else table.title
    return [
        ["Caseload report", title],
        ["Filters", filters_applied(report)],
        ["As at (UK time)", local_time(report.as_at, CSV_MOMENT)],
        *(["Note", note] for note in table.notes),
    ]


def csv_chunks(
    columns: list[Column], rows: Iterable[dict[str, Any]], *, preamble: Iterable[list[str]] = ()
) -> Iterator[str]:
    """The preamble, a blank row, the header and the rows as CSV, in pieces of about CSV_CHUNK_CHARS,
    written as the rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # No preamble cell starts with a name (a provider's follows "placed with"): none can run as a formula.
    if preamble := list(preamble):
        writer.writerows([*preamble, []])
    writer.writerow([csv_header(column) for column in columns])
    for row in rows:
        writer.writerow([csv_value(row.get(column.key), column.kind) for column in columns])
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def page_value(value: Any, kind: str) -> str:
    """A cell as it is shown on the page."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "share":
        return f"{percentage(value)}%"
    if kind == "duration":
        return human_duration(value)
    if kind == "datetime":
        return local_time(value, MOMENT)
    if kind == "month":
        return value.strftime("%b %Y")
    if kind in ("count", "number"):
        return f"{value:,}"
    return str(value)


def percentage(share: float) -> str:
    """A share as a percentage to one decimal; one of something that rounds to 0.0 as ``<0.1``, so that
    it is not read as none."""
    shown = f"{share * 100:.1f}"
    return "<0.1" if share > 0 and shown == "0.0" else shown


def human_duration(value: datetime.timedelta) -> str:
    hours = value.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"
