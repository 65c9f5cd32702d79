"""The manager's caseload page and its CSV downloads (SPEC §8). Thin: the selectors compute, the tables
shape, the charts draw."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from audit.services import record_export

from .charts import Bar, bar_chart, trend_chart
from .forms import ReportFilterForm
from .permissions import may_view_reports
from .selectors import (
    CaseloadReport,
    OverdueCases,
    TopTie,
    caseload_report,
    in_a_list,
    in_words,
    ordinal,
    provider_choices,
)
from .tables import (
    PUBLICATION_NOTES,
    Column,
    Table,
    csv_chunks,
    csv_preamble,
    filters_applied,
    for_publication,
    overdue_rows,
    page_value,
    report_tables,
)

if TYPE_CHECKING:
    from accounts.models import User

NATIONALITIES_CHARTED = 10
# Excel on Windows reads a CSV file as UTF-8 only when it starts with a byte-order mark.
CSV_BYTE_ORDER_MARK = "\ufeff"
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass
class Cell:
    text: str
    href: str = ""
    # The column's heading, beside the value where a phone lays a wide table's rows out as blocks.
    label: str = ""


@dataclass
class Section:
    table: Table
    chart: SafeString | None
    cells: list[list[Cell]]


def _cell(row: dict[str, Any], column: Column) -> Cell:
    href = reverse(column.links_to, args=[row["key"]]) if column.links_to else ""
    return Cell(page_value(row.get(column.key), column.kind), href, column.label)


def _share_bars(table: Table, *, limit: int | None = None) -> list[Bar]:
    rows = table.rows[:limit] if limit else table.rows
    return [
        Bar(
            label=str(row["label"]),
            value=row["count"],
            display=f"{row['count']:,}"
            + (f" ({page_value(row['share'], 'share')})" if row.get("share") is not None else ""),
        )
        for row in rows
    ]


def _chart(table: Table, report: CaseloadReport) -> SafeString | None:
    chart_id = f"chart-{table.name.replace('_', '-')}"
    if table.name == "monthly":
        return trend_chart(
            chart_id=chart_id,
            title="Referrals and anonymous notifications per month",
            description=(
                f"{report.referrals:,} referral{pluralize(report.referrals)} and "
                f"{report.anonymous_notifications:,} anonymous notification"
                f"{pluralize(report.anonymous_notifications)} over {len(report.monthly)} "
                f"month{pluralize(len(report.monthly))}. The numbers are in the table beside the chart."
            ),
            months=[row.month for row in report.monthly],
            columns=[row.referrals for row in report.monthly],
            column_name="Referrals",
            line=[row.anonymous_notifications for row in report.monthly],
            line_name="Anonymous notifications",
        )
    if table.name == "open_cases":
        bars = [Bar(row.label, row.total, f"{row.total:,}") for row in report.open_by_state]
        return bar_chart(
            chart_id=chart_id,
            title="Open cases by state",
            description=", ".join(f"{bar.label}: {bar.display}" for bar in bars) + ".",
            bars=bars,
            axis_label="Open cases",
        )
    if table.name == "providers":
        bars = [
            Bar(str(row["label"]), (row["occupancy"] or 0) * 100, page_value(row["occupancy"], "share"))
            for row in table.rows
        ]
        return bar_chart(
            chart_id=chart_id,
            title="Bed occupancy by provider",
            description="Share of each provider's beds in use. "
            + ", ".join(f"{b.label}: {b.display}" for b in bars),
            bars=bars,
            axis_label="Beds in use (%)",
        )
    if table.name == "timeliness":
        bars = [
            Bar(
                str(row["label"]),
                (row["share_within_deadline"] or 0) * 100,
                page_value(row["share_within_deadline"], "share"),
            )
            for row in table.rows
        ]
        return bar_chart(
            chart_id=chart_id,
            title="Share of clocks met within the deadline",
            description=", ".join(f"{bar.label}: {bar.display}" for bar in bars) + ".",
            bars=bars,
            axis_label="Within deadline (%)",
        )
    if table.name in {
        "nationalities",
        "exploitation_types",
        "age_groups",
        "genders",
        "regions",
        "organisation_kinds",
        "overdue_by_clock",
        "outcomes",
    }:
        limit = NATIONALITIES_CHARTED if table.name == "nationalities" else None
        bars = _share_bars(table, limit=limit)
        title = table.title if limit is None else f"Top {limit} nationalities"
        return bar_chart(
            chart_id=chart_id,
            title=title,
            description=", ".join(f"{bar.label}: {bar.display}" for bar in bars) + "."
            if bars
            else "No referrals.",
            bars=bars,
            axis_label="Cases overdue" if table.name == "overdue_by_clock" else "Referrals",
        )
    return None


def nationality_statement(report: CaseloadReport) -> str:
    """The national statistics' wording: "the top five were …; the top ten accounted for X% of referrals",
    saying there which of the top's last places are shared with nationalities left out of it."""
    if not report.nationalities:
        return "No referrals match these filters."
    names = [row.label for row in report.top5]
    top10 = page_value(report.top10_share, "share")
    ties = {tie.top: tie for tie in report.nationality_ties}
    if len(names) == 1:
        leaders = f"The top nationality was {names[0]}"
    else:
        leaders = f"The top {NUMBER_WORDS[len(names)]} were {in_a_list(names)}"
    if five := ties.get(5):
        leaders += f" ({_tied_with_the_left_out(five)})"
    ten = ties.get(10)
    counting = (
        f", counting {in_words(ten.listed)} of the {in_words(ten.tied)} nationalities tied for "
        f"{ordinal(ten.place)}"
        if ten
        else ""
    )
    return f"{leaders}; the top ten accounted for {top10} of referrals{counting}."


def _tied_with_the_left_out(tie: TopTie) -> str:
    """ "Albania tied for 5th with Sudan, 4 referrals each": the places of a top shared with others."""
    left_out = tie.left_out_names
    others = in_a_list(left_out) if len(left_out) <= 3 else f"{in_words(len(left_out))} others"
    referrals = "referral" if tie.count == 1 else "referrals"
    return f"{in_a_list(tie.listed_names)} tied for {ordinal(tie.place)} with {others}, {tie.count} {referrals} each"


def _forbid_unless_manager(request: HttpRequest) -> None:
    if not may_view_reports(request.user):
        raise PermissionDenied("Caseload reports are for managers.")


@require_GET
@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    _forbid_unless_manager(request)
    form = ReportFilterForm(request.GET)
    context: dict[str, object] = {"form": form}
    if not form.is_valid():
        form.set_providers(provider_choices())
        return render(request, "reports/caseload.html", context, status=400)
    report = caseload_report(form.report_filter())
    if not form.check_provider(report.provider_choices):
        return render(request, "reports/caseload.html", context, status=400)
    sections = []
    for table in report_tables(report).values():
        cells = [[_cell(row, column) for column in table.columns] for row in table.rows]
        sections.append(Section(table=table, chart=_chart(table, report), cells=cells))
    context |= {
        "report": report,
        "filters_applied": filters_applied(report),
        "sections": sections,
        "nationality_statement": nationality_statement(report),
        "top5_share": page_value(report.top5_share, "share"),
        "publication_notes": PUBLICATION_NOTES,
    }
    return render(request, "reports/caseload.html", context)


@require_GET
@login_required
def caseload_csv(request: HttpRequest) -> HttpResponseBase:
    """One table as CSV, chosen by ``table``; ``publication=1`` gives the small-number-suppressed variant."""
    _forbid_unless_manager(request)
    form = ReportFilterForm(request.GET)
    report = caseload_report(form.report_filter()) if form.is_valid() else None
    if report is None or not form.check_provider(report.provider_choices):
        # An ErrorList iterates as its messages, str, not as the errors the stubs say.
        errors = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in form.errors.items())  # type: ignore[arg-type]
        return HttpResponseBadRequest(f"Invalid filter. {errors}", content_type="text/plain; charset=utf-8")
    name = request.GET.get("table", "")
    publication = request.GET.get("publication") in {"1", "true", "yes"}
    tables = report_tables(report)
    if name not in tables:
        return HttpResponseBadRequest(
            f"Choose a table: {', '.join(tables)}.", content_type="text/plain; charset=utf-8"
        )
    table = tables[name]
    if publication and not table.publishable:
        return HttpResponseBadRequest(
            f"The {table.title.lower()} table names cases and is not for publication.",
            content_type="text/plain; charset=utf-8",
        )
    if publication:
        # Worked out with every other table, whose totals could otherwise give a suppressed count away.
        table = for_publication(tables)[name]
    rows: Iterable[dict[str, Any]] = table.rows
    if name == "overdue":
        # The page lists the most overdue; the download carries every one, read as it is written.
        rows = overdue_rows(OverdueCases(form.report_filter(), now=report.as_at))
    stamp = timezone.localtime(report.as_at).strftime("%Y%m%d-%H%M")
    variant = "-publication" if publication else ""
    preamble = csv_preamble(report, table, publication=publication)
    response = StreamingHttpResponse(
        chain([CSV_BYTE_ORDER_MARK], csv_chunks(table.columns, rows, preamble=preamble)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="caseload-{name}{variant}-{stamp}.csv"'
    filters = {field: str(value) for field, value in form.cleaned_data.items() if value not in (None, "")}
    # login_required: the user is signed in.
    record_export(
        actor=cast("User", request.user),
        what=f"caseload CSV: {name}{variant}",
        request=request,
        changes=filters,
    )
    return response
