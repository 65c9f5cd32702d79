"""The SVG charts and the publication rules of the tables, on their own."""

import datetime
import re

from reports.charts import Bar, bar_chart, trend_chart
from reports.tables import Column, Table, for_publication, table_csv


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
    assert "Jan 2026: 5 referrals, 1 anonymous notifications" in svg
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
            {"label": "zero", "count": 0, "share": 0.0, "capacity": 3},
            {"label": "one", "count": 1, "share": 0.01, "capacity": 2},
            {"label": "four", "count": 4, "share": 0.04, "capacity": 1},
            {"label": "five", "count": 5, "share": 0.05, "capacity": 4},
        ],
    )
    published = for_publication(table)
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
