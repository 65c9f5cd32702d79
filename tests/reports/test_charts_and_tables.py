"""The SVG charts and the publication rules of the tables, on their own."""

import dataclasses
import datetime
import random
import re

import pytest

from reports.charts import Bar, bar_chart, trend_chart
from reports.tables import (
    ANONYMOUS_NOTIFICATIONS,
    OPEN_CASES,
    REFERRALS,
    Column,
    Line,
    Table,
    csv_chunks,
    csv_value,
    for_publication,
    page_value,
    report_tables,
)
from reports.views import _share_bars

from .disclosure import given_away, random_caseload


def table_csv(table: Table) -> str:
    return "".join(csv_chunks(table.columns, table.rows))


def test_a_bar_chart_is_named_described_and_labelled_with_its_values():
    svg = bar_chart(
        chart_id="chart-test",
        title="Gender",
        description="Female: 4, male: 3.",
        bars=[Bar("Female", 4, "4 (57.1%)"), Bar("Male <script>", 3, "3 (42.9%)")],
        axis_label="Referrals",
    )
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-test-title chart-test-desc"' in svg
    assert '<title id="chart-test-title">Gender</title>' in svg
    assert '<desc id="chart-test-desc">Female: 4, male: 3.</desc>' in svg
    # Each bar carries its name and its value as text, not only a length and a colour.
    assert ">Female</text>" in svg and ">4 (57.1%)</text>" in svg
    assert ">3 (42.9%)</text>" in svg
    assert "Male &lt;script&gt;" in svg and "<script" not in svg
    assert ">Referrals</text>" in svg
    assert "style=" not in svg


def test_a_value_with_no_room_after_its_bar_is_written_inside_the_bar():
    svg = bar_chart(
        chart_id="c",
        title="Shares",
        description="Two.",
        bars=[Bar("All", 1000, "1,000 (100.0%)"), Bar("None", 0, "0 (0.0%)")],
        axis_label="Referrals",
    )
    assert (
        'text-anchor="end" fill="#ffffff" y="39" font-size="13" font-weight="bold">1,000 (100.0%)</text>'
        in svg
    )
    assert 'fill="#1a1a1a" y="81" font-size="13" font-weight="bold">0 (0.0%)</text>' in svg


def test_the_trend_names_as_many_months_as_fit_under_its_columns():
    def named_months(count: int) -> list[str]:
        months = [datetime.date(2020 + index // 12, index % 12 + 1, 1) for index in range(count)]
        svg = trend_chart(
            chart_id="t",
            title="Per month",
            description="Months.",
            months=months,
            columns=[0] * count,
            column_name="Referrals",
            line=[0] * count,
            line_name="Anonymous notifications",
        )
        texts = re.findall(r'font-size="11" text-anchor="middle" fill="#1a1a1a">([^<]+)</text>', svg)
        return [text for text in texts if text != "0"]  # not the columns' values

    assert named_months(4) == ["Jan 2020", "Feb 2020", "Mar 2020", "Apr 2020"]
    assert named_months(13) == ["Jan 2020", "Apr 2020", "Jul 2020", "Oct 2020", "Jan 2021"]
    assert named_months(60) == ["2020", "2021", "2022", "2023", "2024"]


def test_the_values_over_the_trend_columns_never_run_together():
    def values_over_columns(columns: list[int]) -> list[tuple[float, str]]:
        months = [datetime.date(2025 + index // 12, index % 12 + 1, 1) for index in range(len(columns))]
        svg = trend_chart(
            chart_id="t",
            title="Per month",
            description="Months.",
            months=months,
            columns=columns,
            column_name="Referrals",
            line=[0] * len(columns),
            line_name="Anonymous notifications",
        )
        values = re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="11" [^>]*>([\d,]+)</text>', svg)
        return [(float(x), text) for x, text in values]

    # A year and the month begun: thirteen columns of three figures, 7 px each at 11 px as the browser draws
    # them, are 21 px wide, in 21.5 px apart: "255252252" over the columns. The table beside has them.
    assert values_over_columns([255, 252, 252, 240, 266, 243, 276, 265, 244, 204, 267, 236, 0]) == []
    # Half a year: each value stands apart from the next, with at least a space between them.
    shown = values_over_columns([255, 252, 252, 240, 266, 1243])
    assert [text for _x, text in shown] == ["255", "252", "252", "240", "266", "1,243"]
    widest = 4 * 7 + 3.5  # "1,243"
    assert all(right - left >= widest + 3.5 for (left, _), (right, _) in zip(shown, shown[1:], strict=False))


def test_an_empty_bar_chart_says_so():
    svg = bar_chart(
        chart_id="c", title="Nothing", description="No referrals.", bars=[], axis_label="Referrals"
    )
    assert ">No data</text>" in svg


def test_the_trend_tells_its_series_apart_by_shape_and_name_as_well_as_colour():
    months = [datetime.date(2026, m, 1) for m in range(1, 4)]
    svg = trend_chart(
        chart_id="trend",
        title="Per month",
        description="Three months.",
        months=months,
        columns=[5, 0, 7],
        column_name="Referrals",
        line=[1, 2, 0],
        line_name="Anonymous notifications",
    )
    assert "Referrals (columns)" in svg
    assert "Anonymous notifications (dashed line)" in svg
    assert 'stroke-dasharray="5 3"' in svg
    assert "<polyline" in svg
    assert "Jan 2026: 5 referrals, 1 anonymous notification</title>" in svg
    assert "Feb 2026: 0 referrals, 2 anonymous notifications</title>" in svg
    assert len(re.findall(r">7</text>", svg)) == 1


def test_publication_suppresses_small_counts_and_what_rests_on_them():
    table = Table(
        name="t",
        title="T",
        columns=[
            Column("label", "Label"),
            Column("count", "Count", "count"),
            Column("share", "Share", "share", ("count",)),
            Column("capacity", "Beds", "number"),
        ],
        rows=[
            {"key": "zero", "label": "zero", "count": 0, "share": 0.0, "capacity": 3},
            {"key": "one", "label": "one", "count": 1, "share": 0.01, "capacity": 2},
            {"key": "four", "label": "four", "count": 4, "share": 0.04, "capacity": 1},
            {"key": "five", "label": "five", "count": 5, "share": 0.05, "capacity": 4},
        ],
    )
    # Counts that add up to nothing published: only the small ones go.
    (published,) = for_publication({"t": table}).values()
    assert [(row["count"], row["share"], row["capacity"]) for row in published.rows] == [
        (0, 0.0, 3),
        ("<5", "suppressed", 2),
        ("<5", "suppressed", 1),
        (5, 0.05, 4),
    ]
    assert table_csv(published).splitlines() == [
        "Label,Count,Share (%),Beds",
        "zero,0,0.0,3",
        "one,<5,suppressed,2",
        "four,<5,suppressed,1",
        "five,5,5.0,4",
    ]
    # The table itself is untouched.
    assert table.rows[1]["count"] == 1


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_text_that_a_spreadsheet_would_run_as_a_formula_is_quoted(start):
    assert csv_value(f"{start}1+1", "text") == f"'{start}1+1"


def test_csv_numbers_negative_ones_too_are_written_as_numbers_not_quoted_text():
    assert [csv_value(-3, "number"), csv_value(-0.25, "share"), csv_value("Wales", "text")] == [
        "-3",
        "-25.0",
        "Wales",
    ]


def test_a_share_of_some_that_rounds_to_nothing_reads_under_a_tenth_of_a_percent_not_zero():
    # 1 nationality of 2,500 referrals is 0.04%: "0.0%" would read as none.
    assert (page_value(1 / 2500, "share"), csv_value(1 / 2500, "share")) == ("<0.1%", "<0.1")
    assert (page_value(0.0, "share"), csv_value(0.0, "share")) == ("0.0%", "0.0")
    assert (page_value(1 / 2000, "share"), csv_value(1 / 2000, "share")) == ("0.1%", "0.1")
    table = breakdown("nationalities", {"NG": 2499, "ER": 1})
    assert [bar.display for bar in _share_bars(table)] == ["2,499 (100.0%)", "1 (<0.1%)"]


def test_a_csv_date_and_time_is_one_a_spreadsheet_reads_in_uk_time_and_its_header_says_so():
    column = Column("overdue_since", "Overdue since", "datetime")
    summer = datetime.datetime(2026, 6, 10, 11, 0, 0, 123456, tzinfo=datetime.UTC)
    winter = datetime.datetime(2026, 1, 10, 11, 0, tzinfo=datetime.UTC)
    assert table_csv(Table("t", "T", [column], [{"overdue_since": summer}, {"overdue_since": winter}])).split(
        "\r\n"
    ) == ["Overdue since (UK time)", "2026-06-10 12:00", "2026-01-10 11:00", ""]


# ------------------------------------------------------------------------------ secondary suppression


def summary(referrals):
    return Table(
        name="summary",
        title="Summary",
        columns=[Column("label", "Measure"), Column("count", "Count", "count")],
        rows=[{"key": "referrals", "label": "Referrals", "count": referrals}],
    )


def breakdown(name, counts):
    """A table whose counts add up to the summary's referrals, with each one's share of them."""
    total = sum(counts.values())
    table = Table(
        name=name,
        title=name.title(),
        columns=[
            Column("label", "Label"),
            Column("count", "Referrals", "count"),
            Column("share", "Share", "share", ("count",)),
        ],
        rows=[{"key": key, "label": key, "count": n, "share": n / total} for key, n in counts.items()],
        shares_of=REFERRALS,
    )
    table.lines.append(Line((REFERRALS,), table.cells("count")))
    return table


def published_csv(*tables):
    published = for_publication({table.name: table for table in tables})
    return {name: table_csv(table).splitlines()[1:] for name, table in published.items()}


def test_a_share_of_another_count_than_the_tables_is_withheld_with_that_count():
    # 43 referrals: 3 adults, so the 40 children are withheld too, or 43 − 40 would give the adults away.
    # The 10 children whose age is in doubt are published, but their share of the children is not:
    # 10 / 0.25 would give the 40 away.
    age_groups = breakdown("age_groups", {"adult": 3, "child": 40})
    age_groups.rows.append({"key": "in_doubt", "label": "in_doubt", "count": 10, "share": 10 / 40})
    age_groups.row_shares_of = {"in_doubt": ("age_groups", "child", "count")}
    assert published_csv(summary(43), age_groups)["age_groups"] == [
        "adult,<5,suppressed",
        "child,suppressed,suppressed",
        "in_doubt,10,suppressed",
    ]


def test_a_lone_small_count_takes_the_next_smallest_with_it_so_the_total_cannot_give_it_away():
    # A region of 347 referrals: with 347 published, 347 − 69 − 274 − 0 would give Other away as 4.
    genders = breakdown("genders", {"Female": 69, "Male": 274, "Other": 4, "Unknown": 0})
    published = published_csv(summary(347), genders)
    assert published["summary"] == ["Referrals,347"]
    assert published["genders"] == [
        "Female,suppressed,suppressed",
        "Male,274,79.0",
        "Other,<5,suppressed",
        "Unknown,0,0.0",
    ]
    # 347 − 274 − 0 = 73 is Female and Other together; Female is 5 or more, so Other is anything up to 4.
    notes = for_publication({"summary": summary(347), "genders": genders})["genders"].notes
    assert "Counts of 1 to 4 are shown as <5, or as suppressed where even that would give them away." in notes
    assert any("Publish one set of filters for a period" in note for note in notes)
    assert any(note.startswith("Figures shown as suppressed are withheld") for note in notes)


def test_small_counts_that_add_up_to_too_little_are_not_left_to_give_each_other_away():
    # 1 and 1 out of a published 92 with 90 published: both are 1.
    published = published_csv(summary(92), breakdown("genders", {"Female": 90, "Male": 1, "Other": 1}))
    assert published["genders"] == [
        "Female,suppressed,suppressed",
        "Male,<5,suppressed",
        "Other,<5,suppressed",
    ]
    # 2 and 3 out of 5, nothing else: either could be anything from 1 to 4.
    published = published_csv(summary(5), breakdown("genders", {"Female": 2, "Male": 3, "Other": 0}))
    assert published["genders"] == ["Female,<5,suppressed", "Male,<5,suppressed", "Other,0,0.0"]


def test_a_companion_that_would_still_narrow_a_small_count_down_is_passed_over_for_the_next():
    # Suppressed, the 5 beside it is still 5 or more: 66 − 60 = 6 would leave the small count at 1. The
    # 60 goes instead: 66 − 5 = 61 is the two together, the small count anything from 1 to 4.
    published = published_csv(summary(66), breakdown("genders", {"Female": 60, "Male": 5, "Other": 1}))
    assert published["genders"] == [
        "Female,suppressed,suppressed",
        "Male,5,7.6",
        "Other,<5,suppressed",
    ]


def test_a_total_that_would_give_its_small_parts_away_is_suppressed_and_every_line_and_share_on_it():
    genders = breakdown("genders", {"Female": 4, "Male": 4, "Other": 0})
    regions = breakdown("regions", {"London": 8, "Wales": 0})
    published = published_csv(summary(8), genders, regions)
    assert published["summary"] == ["Referrals,suppressed"]
    assert published["genders"] == ["Female,<5,suppressed", "Male,<5,suppressed", "Other,0,0.0"]
    # London alone would give the total back, and its share the total with it.
    assert published["regions"] == ["London,suppressed,suppressed", "Wales,0,0.0"]


def test_a_count_suppressed_in_one_table_is_suppressed_wherever_it_or_its_parts_appear():
    bands = [Column("new", "New", "count"), Column("old", "Old", "count")]
    open_cases = Table(
        name="open_cases",
        title="Open cases",
        columns=[Column("label", "State"), Column("total", "Open", "count"), *bands],
        rows=[
            {"key": "received", "label": "Received", "total": 2, "new": 2, "old": 0},
            {"key": "missing", "label": "Missing", "total": 18, "new": 11, "old": 7},
        ],
    )
    for row in open_cases.rows:
        parts = tuple(("open_cases", row["key"], band.key) for band in bands)
        open_cases.lines.append(Line((("open_cases", row["key"], "total"),), parts))
    open_cases.lines.append(Line((OPEN_CASES,), open_cases.cells("total")))
    outcomes = Table(
        name="outcomes",
        title="Outcomes",
        columns=[Column("label", "Outcome"), Column("count", "Referrals", "count")],
        rows=[
            {"key": "missing", "label": "Missing", "count": 18},
            {"key": "exited", "label": "Exited", "count": 3},
        ],
        lines=[Line((("open_cases", "missing", "total"),), (("outcomes", "missing", "count"),))],
    )
    open_total = Table(
        name="summary",
        title="Summary",
        columns=[Column("label", "Measure"), Column("count", "Count", "count")],
        rows=[{"key": "open", "label": "Open cases", "count": 20}],
    )
    published = published_csv(open_total, open_cases, outcomes)
    assert published["summary"] == ["Open cases,20"]
    # 20 − 18 would give the 2 received away; the 18 missing would come back as 11 + 7, and from the
    # outcomes, where the same people are counted.
    assert published["open_cases"] == ["Received,<5,<5,0", "Missing,suppressed,11,suppressed"]
    assert published["outcomes"] == ["Missing,suppressed", "Exited,<5"]


# ------------------------------------------------------------------------ every line read together


def test_small_months_under_a_small_total_are_not_left_to_be_one_each():
    # Four anonymous notifications, one in each of four months: four months of at least 1 under a total
    # of at most 4 are 1 each, and a zero suppressed beside them would be 0. The total goes instead.
    summary_table = Table(
        name="summary",
        title="Summary",
        columns=[Column("label", "Measure"), Column("count", "Count", "count")],
        rows=[{"key": "anonymous_notifications", "label": "Anonymous notifications", "count": 4}],
    )
    months = {"2026-01": 1, "2026-02": 0, "2026-03": 1, "2026-04": 0, "2026-05": 1, "2026-06": 1}
    monthly = Table(
        name="monthly",
        title="Monthly",
        columns=[Column("label", "Month"), Column("anonymous_notifications", "Anonymous", "count")],
        rows=[{"key": key, "label": key, "anonymous_notifications": n} for key, n in months.items()],
    )
    monthly.lines.append(Line((ANONYMOUS_NOTIFICATIONS,), monthly.cells("anonymous_notifications")))
    published = published_csv(summary_table, monthly)
    assert published["summary"] == ["Anonymous notifications,suppressed"]
    assert published["monthly"] == [
        "2026-01,<5",
        "2026-02,0",
        "2026-03,<5",
        "2026-04,0",
        "2026-05,<5",
        "2026-06,<5",
    ]
    assert given_away({"summary": summary_table, "monthly": monthly}) == []


def test_what_one_line_tells_of_a_suppressed_total_is_carried_to_every_other_line_on_it():
    # Ten referrals, one a month; 4 adults and 6 children; 1 open, 7 recovered, 1 declined, 1 withdrawn.
    # Ten months of at least 1 put the referrals at 10 at least, Adult <5 and Child 6 at 10 at most:
    # 10, and the adults 4. Shown, 10 − 7 would leave the open, declined and withdrawn 1 each.
    summary_table = Table(
        name="summary",
        title="Summary",
        columns=[Column("label", "Measure"), Column("count", "Count", "count")],
        rows=[
            {"key": "referrals", "label": "Referrals", "count": 10},
            {"key": "open", "label": "Open cases", "count": 1},
        ],
    )
    monthly = breakdown("monthly", {f"2026-{month:02d}": 1 for month in range(1, 11)})
    age_groups = breakdown("age_groups", {"Adult": 4, "Child": 6})
    outcomes = breakdown("outcomes", {"Recovered": 7, "Declined": 1, "Withdrawn": 1, "Exited": 0})
    outcomes.lines = [Line((REFERRALS,), (OPEN_CASES, *outcomes.cells("count")))]
    tables = {table.name: table for table in (summary_table, monthly, age_groups, outcomes)}
    published = published_csv(*tables.values())
    assert published["summary"] == ["Referrals,suppressed", "Open cases,<5"]
    assert published["age_groups"] == ["Adult,<5,suppressed", "Child,suppressed,suppressed"]
    assert published["outcomes"] == [
        "Recovered,suppressed,suppressed",
        "Declined,<5,suppressed",
        "Withdrawn,<5,suppressed",
        "Exited,0,0.0",
    ]
    assert given_away(tables) == []


def test_no_random_caseload_leaves_a_reader_of_every_line_to_narrow_a_withheld_count():
    # Small caseloads, where suppression has the most to do, each checked by a reader who knows nothing
    # of how the counts were chosen: no <5 narrower than 1 to 4, no suppressed count left fewer than four
    # values to be.
    for seed in range(200):
        tables = report_tables(random_caseload(random.Random(seed)))
        assert given_away(tables) == [], f"seed {seed}"


@pytest.mark.parametrize("breakdown", ["regions", "age_groups", "genders", "nationalities"])
def test_publication_ends_when_a_breakdown_does_not_add_up_to_its_total(breakdown):
    # Read as if it did, such a line pushed the least and most of its counts apart for ever (seeds 19,
    # 26, 33 and 42 among these never finished). The report reads one snapshot, so this is a guard.
    for seed in range(60):
        report = random_caseload(random.Random(seed))
        rows = list(getattr(report, breakdown))
        if rows:
            largest = max(range(len(rows)), key=lambda index: rows[index].count)
            rows[largest] = dataclasses.replace(rows[largest], count=rows[largest].count + 1)
        for_publication(report_tables(dataclasses.replace(report, **{breakdown: rows})))
