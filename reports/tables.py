"""The report as tables: the same rows for the page, the CSV download and its "for publication" variant.

For publication, counts of 1 to 4 are shown as ``<5``; a share, rate or time that rests on a suppressed
count is suppressed with it, so it cannot be used to work the count back out.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils import timezone

from .selectors import AGE_BANDS, CaseloadReport, OverdueClock

SUPPRESSED_COUNT = "<5"
SUPPRESSED = "suppressed"
CSV_CHUNK_CHARS = 64 * 1024


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


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    publishable: bool = True
    notes: list[str] = field(default_factory=list)


def _hours(value: datetime.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def _share_table(name: str, title: str, key_label: str, rows: list[Any], **kwargs: Any) -> Table:
    return Table(
        name=name,
        title=title,
        columns=[
            Column("label", key_label),
            Column("count", "Referrals", "count"),
            Column("share", "Share", "share", ("count",)),
        ],
        rows=[{"key": row.key, "label": row.label, "count": row.count, "share": row.share} for row in rows],
        **kwargs,
    )


def overdue_rows(clocks: Iterable[OverdueClock]) -> Iterator[dict[str, Any]]:
    """The rows of the overdue table, keyed by referral, for the report's list or for every clock."""
    for row in clocks:
        yield {
            "key": row.referral_id,
            "reference": row.reference,
            "clock": row.clock,
            "clock_label": row.clock_label,
            "overdue_since": row.overdue_since,
            "overdue_by": row.overdue_by,
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
                {"key": "overdue", "label": "Clocks overdue now", "count": report.overdue_total},
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
                    "month": row.month,
                    "referrals": row.referrals,
                    "anonymous_notifications": row.anonymous_notifications,
                }
                for row in report.monthly
            ],
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
        ),
        _share_table(
            "exploitation_types",
            "Exploitation types",
            "Exploitation type",
            report.exploitation_types,
            notes=["A referral may name several types, so the shares can add up to more than 100%."],
        ),
        _share_table("age_groups", "Adults and children", "Age group", report.age_groups),
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
                "Answered offers are those accepted, rejected or left to expire; revoked offers are not counted.",
                "Beds in use are active accommodation placements; outreach placements take no bed.",
                "Capacity, beds in use and occupancy are today's, whatever the filters; the other "
                "columns count the filtered referrals.",
            ],
        ),
        Table(
            name="timeliness",
            title="Timeliness",
            columns=[
                Column("label", "Measure"),
                Column("count", "Cases", "count"),
                Column("median", "Median", "duration", ("count",)),
                Column("p90", "90th percentile", "duration", ("count",)),
                Column("within_deadline", "Clocks met", "count"),
                Column("decided", "Clocks decided", "count"),
                Column("share_within_deadline", "Within deadline", "share", ("within_deadline", "decided")),
            ],
            rows=[
                {
                    "key": row.clock,
                    "label": row.label,
                    "count": row.count,
                    "median": row.median,
                    "p90": row.p90,
                    "within_deadline": row.within_deadline,
                    "decided": row.decided,
                    "share_within_deadline": row.share_within_deadline,
                }
                for row in report.timeliness
            ],
            notes=[
                "Time to assessment runs from submission to assessment; time to placement from assessment to "
                "placement.",
                "A clock is decided once it stops or passes its due time; it is met if it stopped in time.",
            ],
        ),
        Table(
            name="overdue",
            title="Overdue now",
            columns=[
                Column("reference", "Case reference", links_to="referrals:case"),
                Column("clock_label", "Clock"),
                Column("overdue_since", "Overdue since", "datetime"),
                Column("overdue_by", "Overdue by", "duration"),
            ],
            rows=list(overdue_rows(report.overdue)),
            publishable=False,
            notes=[
                "A clock is overdue since it was due; a missing person's since they were reported missing."
            ],
        ),
        _share_table("overdue_by_clock", "Overdue clocks by kind", "Clock", report.overdue_by_clock),
        _share_table("outcomes", "Outcomes", "Outcome", report.outcomes),
    ]
    tables_by_name = {table.name: table for table in tables}
    tables_by_name["overdue_by_clock"].columns[1] = Column("count", "Clocks overdue", "count")
    if report.overdue_truncated:
        tables_by_name["overdue"].notes.append(
            f"The {len(report.overdue):,} most overdue of {report.overdue_total:,} are listed here; "
            "the CSV download lists every one."
        )
    return tables_by_name


def _is_small(value: Any) -> bool:
    return isinstance(value, int) and 1 <= value <= 4


def for_publication(table: Table) -> Table:
    """The table with counts of 1 to 4 shown as ``<5`` and the figures resting on them suppressed."""
    if not table.publishable:
        raise ValueError(f"The {table.title.lower()} table names cases and is not for publication.")
    count_keys = {column.key for column in table.columns if column.kind == "count"}
    rows = []
    for row in table.rows:
        small = {key for key in count_keys if _is_small(row.get(key))}
        published = dict(row)
        for column in table.columns:
            if column.key in small:
                published[column.key] = SUPPRESSED_COUNT
            elif any(key in small for key in column.depends_on):
                published[column.key] = SUPPRESSED
        rows.append(published)
    return replace(table, rows=rows, notes=[*table.notes, "Counts of 1 to 4 are shown as <5."])


def csv_value(value: Any, kind: str) -> str:
    """A cell as it is written to CSV: shares as percentages, durations in hours."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind == "share":
        return f"{value * 100:.1f}"
    if kind == "duration":
        return f"{_hours(value):.2f}"
    if kind == "datetime":
        return timezone.localtime(value).isoformat()
    if kind == "month":
        return value.strftime("%Y-%m")
    return str(value)


def csv_header(column: Column) -> str:
    suffix = {"share": " (%)", "duration": " (hours)"}.get(column.kind, "")
    return f"{column.label}{suffix}"


def csv_chunks(columns: list[Column], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header and the rows as CSV, in pieces of about CSV_CHUNK_CHARS, written as the rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_header(column) for column in columns])
    for row in rows:
        writer.writerow([csv_value(row.get(column.key), column.kind) for column in columns])
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def table_csv(table: Table) -> str:
    return "".join(csv_chunks(table.columns, table.rows))


def page_value(value: Any, kind: str) -> str:
    """A cell as it is shown on the page."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "duration":
        return human_duration(value)
    if kind == "datetime":
        return timezone.localtime(value).strftime("%d %b %Y %H:%M")
    if kind == "month":
        return value.strftime("%b %Y")
    if kind in ("count", "number"):
        return f"{value:,}"
    return str(value)


def human_duration(value: datetime.timedelta) -> str:
    hours = value.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"
