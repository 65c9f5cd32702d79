"""The caseload page, its CSV downloads and the API: managers only, same filters, same figures, bounded queries."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from audit.models import AuditAction, AuditEvent
from referrals.choices import Region
from referrals.models import Clock
from reports.selectors import OVERDUE_LIST_LIMIT, ReportFilter, caseload_report
from reports.tables import for_publication, report_tables
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, aware, manager, provider_user, responder

from .caseload import (
    DAY,
    NOW,
    anonymous_notification,
    build_caseload,
    clock,
    make_referral,
    more_referrals,
    offer,
)
from .disclosure import given_away

pytestmark = pytest.mark.django_db

PAGE = reverse("reports:caseload")
CSV = reverse("reports:caseload_csv")
API = "/api/v1/reports/caseload/"
OVERDUE = "/api/v1/reports/overdue/"
# The session, the user, the report (10 queries on PostgreSQL, 11 on SQLite), the export's audit row,
# and for the overdue CSV the two reads that stream every overdue clock.
MAX_QUERIES = 16


@pytest.fixture
def caseload():
    return build_caseload()


@pytest.fixture
def web(client, caseload):
    client.force_login(caseload.boss)
    return client


@pytest.fixture
def api(caseload):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(caseload.boss).key}")
    return client


def read_csv_file(response):
    """Every row of a CSV download: what it is, a blank row, then the table."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = response.getvalue().decode()
    assert body.startswith("\ufeff")
    assert "\n" not in body.replace("\r\n", "")  # CRLF line ends only
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def read_csv(response):
    """The table of a CSV download, its header first."""
    rows = read_csv_file(response)
    return rows[rows.index([]) + 1 :]


# ------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize("make_user", [responder, provider_user], ids=["first responder", "care provider"])
def test_first_responders_and_providers_get_403_on_page_csv_and_api(client, make_user):
    user = make_user()
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    assert client.get(CSV, {"table": "nationalities"}).status_code == 403
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
    assert api.get(API).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in_and_the_api_answers_401(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.get(CSV, {"table": "summary"}).status_code == 302
    assert APIClient().get(API).status_code == 401


# --------------------------------------------------------------------------------------------- page


def test_the_page_shows_every_breakdown_with_a_chart_and_its_table(web, caseload):
    response = web.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for title in (
        "Open cases by state and time in that state",
        "Referrals and anonymous notifications per month",
        "Nationalities",
        "Exploitation types",
        "Adults and children",
        "Gender",
        "Region",
        "Referring organisation kind",
        "Care providers",
        "Timeliness",
        "Overdue now",
        "Outcomes",
    ):
        assert f">{title}</h2>" in html
    assert html.count("<svg") >= 10
    assert html.count("<table") == len(response.context["sections"])
    # Every chart names its title and description for assistive technology.
    for chart_id in re.findall(r'aria-labelledby="(chart-[a-z-]+)-title', html):
        assert f'<title id="{chart_id}-title">' in html
        assert f'<desc id="{chart_id}-desc">' in html
    assert "The top four were Nigeria, Romania, Viet Nam and China" in html
    assert "the top ten accounted for 100.0% of referrals" in html


def test_the_page_uses_no_script_no_inline_style_and_no_external_asset(web, caseload):
    html = web.get(PAGE).content.decode()
    # The report, not the frame every page shares (with its session warning's script).
    section = html[html.index('<div class="caseload-report">') : html.index("</main>")]
    assert "<script" not in section
    assert "style=" not in section
    assert not re.search(r'(src|href)="(https?:)?//', section)


def test_the_page_shows_case_references_but_no_personal_details(web, caseload):
    html = web.get(PAGE).content.decode()
    assert caseload.cases["C"].reference in html
    for secret in ("Secretname", "Hiddenfamily", "07700 900999", "Confidential account", "1990-01-01"):
        assert secret not in html


def test_an_empty_caseload_renders_cleanly(client):
    client.force_login(manager())
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "No referrals match these filters." in response.content.decode()


def test_a_filter_that_matches_nothing_renders_cleanly(web):
    response = web.get(PAGE, {"date_from": "2001-01-01", "date_to": "2001-01-31"})
    assert response.status_code == 200
    assert response.context["report"].referrals == 0
    assert "Nothing matches these filters." in response.content.decode()


def test_a_bad_filter_is_reported_on_the_form_not_a_500(web):
    response = web.get(PAGE, {"date_from": "2026-05-01", "date_to": "2026-04-01", "region": "atlantis"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html
    assert "The last day must not be before the first day." in html
    assert "report" not in response.context


# ---------------------------------------------------------------------------------------------- CSV


def test_every_table_downloads_as_csv(web, caseload):
    names = [section.table.name for section in web.get(PAGE).context["sections"]]
    for name in names:
        rows = read_csv(web.get(CSV, {"table": name}))
        assert rows[0]
    nationalities = read_csv(web.get(CSV, {"table": "nationalities"}))
    assert nationalities[0] == ["Code", "Nationality", "Referrals", "Share (%)"]
    assert nationalities[1:] == [
        ["NG", "Nigeria", "3", "37.5"],
        ["RO", "Romania", "2", "25.0"],
        ["VN", "Viet Nam", "2", "25.0"],
        ["CN", "China", "1", "12.5"],
    ]


def test_a_csv_download_starts_with_a_byte_order_mark_so_excel_reads_it_as_utf8(web, caseload):
    caseload.cases["A"].nationality = "TR"
    caseload.cases["A"].save(update_fields=["nationality"])
    body = web.get(CSV, {"table": "nationalities"}).getvalue()
    assert body.startswith(b"\xef\xbb\xbf")
    assert "Türkiye" in body.decode("utf-8-sig")


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_to_csv_as_text(web, caseload):
    evil = '=HYPERLINK("https://evil.example/","x")'
    CareProviderFactory(name=evil)
    for params in ({"table": "providers"}, {"table": "providers", "publication": "1"}):
        labels = [row[0] for row in read_csv(web.get(CSV, params))]
        assert "'" + evil in labels and evil not in labels, params


def test_a_csv_download_says_above_its_table_what_it_holds_whose_filters_when_and_its_notes(web, caseload):
    caseload.x.name = "=HYPERLINK(1)"
    caseload.x.save(update_fields=["name"])
    params = {"table": "outcomes", "region": "london", "provider": caseload.x.pk, "publication": "1"}
    rows = read_csv_file(web.get(CSV, params))
    blank = rows.index([])
    preamble = rows[:blank]
    assert preamble[0] == ["Caseload report", "Outcomes (for publication)"]
    assert preamble[1] == ["Filters", "region London; placed with =HYPERLINK(1)"]  # not first: text
    assert preamble[2][0] == "As at (UK time)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", preamble[2][1])
    notes = [row[1] for row in preamble[3:]]
    assert all(row[0] == "Note" for row in preamble[3:])
    assert notes[:2] == report_tables(caseload_report(ReportFilter()))["outcomes"].notes
    assert "Counts of 1 to 4 are shown as <5, or as suppressed where even that would give them away." in notes
    assert any(note.startswith("Publish one set of filters for a period") for note in notes)
    assert rows[blank + 1] == ["Outcome", "Referrals", "Share of all referrals, open included (%)"]
    unfiltered = read_csv_file(web.get(CSV, {"table": "summary"}))
    assert unfiltered[:2] == [["Caseload report", "Summary"], ["Filters", "none: all of the UK"]]
    dated = read_csv_file(
        web.get(CSV, {"table": "summary", "date_from": "2026-01-01", "organisation_kind": "ngo"})
    )
    assert dated[1] == ["Filters", "submitted from 1 January 2026; referring organisation NGO"]


def test_the_page_says_what_the_csv_for_publication_must_be_read_with(web, caseload):
    html = web.get(PAGE).content.decode()
    assert "Publish one set of filters for a period" in html
    assert "Counts of 1 to 4 are shown as &lt;5" in html


def test_a_csv_download_is_audited_as_an_export_with_its_filters(web, caseload):
    web.get(CSV, {"table": "nationalities", "region": "london", "publication": "1"})
    export = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (export.actor, export.what) == (caseload.boss, "caseload CSV: nationalities-publication")
    assert export.changes == {"region": "london"}


def test_an_unknown_table_is_a_400(web):
    response = web.get(CSV, {"table": "secrets"})
    assert response.status_code == 400
    assert "Choose a table" in response.content.decode()


def test_the_publication_csv_shows_counts_of_one_to_four_as_under_five(web, caseload):
    more_referrals(6, by=caseload.police, start=aware(2026, 5, 10, 9, 0))  # six more in May
    rows = read_csv(web.get(CSV, {"table": "nationalities", "publication": "1"}))
    assert rows[1:] == [
        ["NG", "Nigeria", "<5", "suppressed"],
        ["RO", "Romania", "<5", "suppressed"],
        ["VN", "Viet Nam", "<5", "suppressed"],
        ["AL", "Albania", "<5", "suppressed"],
        ["CN", "China", "<5", "suppressed"],
        ["ER", "Eritrea", "<5", "suppressed"],
        ["GB", "United Kingdom", "<5", "suppressed"],
        ["IQ", "Iraq", "<5", "suppressed"],
        ["PL", "Poland", "<5", "suppressed"],
        ["SD", "Sudan", "<5", "suppressed"],
    ]
    monthly = read_csv(web.get(CSV, {"table": "monthly", "publication": "1"}))
    assert ["2026-04", "<5", "<5"] in monthly
    # May (B and six more) is 7 of the 14 referrals: shown, it would leave the six other months 7
    # between them, each 1 or 2.
    assert ["2026-05", "suppressed", "0"] in monthly
    # Zero is not a small number: it stays 0.
    regions = read_csv(web.get(CSV, {"table": "regions", "publication": "1"}))
    assert ["North East", "0", "0.0"] in regions
    assert ["London", "6", "42.9"] in regions  # 4 + 2 of the six


def test_a_publication_csv_never_leaves_a_small_count_to_be_worked_out_from_the_published_total(web):
    # A region of 347 referrals: 69 women, 274 men and 4 of another gender.
    user = responder()
    for gender, count in (("female", 69), ("male", 274), ("other", 4)):
        for n in range(count):
            make_referral(submitted_by=user, submitted_at=aware(2026, 1, 1 + n % 28, 9, 0), gender=gender,
                          region="north_east")  # fmt: skip
    params = {"publication": "1", "region": "north_east"}
    summary = read_csv(web.get(CSV, {"table": "summary", **params}))
    assert ["Referrals", "347"] in summary
    genders = read_csv(web.get(CSV, {"table": "genders", **params}))
    assert genders[1:] == [
        ["Female", "suppressed", "suppressed"],  # 347 − 274 − 0 leaves 73 for Female and Other together
        ["Male", "274", "79.0"],
        ["Other", "<5", "suppressed"],
        ["Unknown", "0", "0.0"],
    ]


def test_every_sum_the_publication_relies_on_adds_up_in_the_report(caseload):
    more_referrals(6, by=caseload.police, start=aware(2026, 5, 10, 9, 0))
    tables = report_tables(caseload_report(ReportFilter(), now=NOW))
    value = {
        (table.name, row["key"], column.key): row[column.key]
        for table in tables.values()
        for row in table.rows
        for column in table.columns
    }
    for table in tables.values():
        value |= table.unpublished
    # Provider X's one placement holds a bed, Y's is outreach.
    assert {
        cell: count for cell, count in tables["providers"].unpublished.items() if "beds_in_use" in cell[2]
    } == {
        ("providers", caseload.x.pk, "active_placements_less_beds_in_use"): 0,
        ("providers", caseload.y.pk, "active_placements_less_beds_in_use"): 1,
    }
    lines = [line for table in tables.values() for line in table.lines]
    # Bands of each open state, open states, months, the five breakdowns and the children whose age is in
    # doubt among the children, open cases and outcomes (as the summary has them and by state, missing
    # in both, and those who went missing: missing now and since found), missing clocks and missing
    # cases, the providers' active placements; each provider's, which are its beds in use and its people
    # in outreach, and its offers accepted and not; each timeliness row's clocks, met and missed; the
    # cases assessed (with the withdrawn before and after assessment) and placed; and the cases waiting.
    assert len(lines) == 4 + 1 + 2 + 5 + 1 + 4 + 1 + 1 + 2 + 2 + len(tables["timeliness"].rows) + 3 + 2
    # G was withdrawn after its assessment; no case has been placed and reallocated since, nor waits again.
    assert {
        cell[1:]: count
        for cell, count in tables["timeliness"].unpublished.items()
        if "decided" not in cell[2]
    } == {
        (Clock.ASSESSMENT, "withdrawn_before_assessment"): 0,
        (Clock.ASSESSMENT, "withdrawn_after_assessment"): 1,
        (Clock.PLACEMENT, "placed_and_reallocated"): 0,
        (Clock.PLACEMENT, "waiting_again_after_reallocation"): 0,
    }
    for line in lines:
        assert sum(value[total] for total in line.totals) == sum(value[part] for part in line.parts), line


def test_a_small_count_of_active_placements_cannot_be_worked_back_from_the_placed_and_missing():
    small = CareProviderFactory(name="Small House", beds_women=9)
    large = CareProviderFactory(name="Large House", beds_women=9)
    for provider, people in ((small, 2), (large, 6)):
        for _ in range(people):
            bring_to("placed", provider=provider)
    published = for_publication(report_tables(caseload_report(ReportFilter())))
    providers = {row["label"]: row["active_placements"] for row in published["providers"].rows}
    placed = {row["key"]: row["total"] for row in published["open_cases"].rows}["placed"]
    assert providers["Small House"] == "<5"
    # Placed (8) less Large House (6) would give Small House's 2: one of them is withheld too.
    assert providers["Large House"] == "suppressed" or placed == "suppressed"


def test_a_few_missed_clocks_or_refused_offers_cannot_be_worked_out_by_subtraction():
    # 12 assessments decided, 2 of them late; 12 offers answered to one provider, 9 accepted.
    user, boss = responder(), manager()
    provider = CareProviderFactory(name="Snowdrop")
    start = NOW - 60 * DAY
    for n in range(12):
        at = start + n * DAY
        referral = make_referral(submitted_by=user, submitted_at=at, state="assessed", assessed_at=at + DAY)
        late = n < 2
        clock(
            referral, Clock.ASSESSMENT, started=at, due=at + (DAY / 2 if late else 5 * DAY), stopped=at + DAY
        )
        offer(
            referral,
            provider,
            "accepted" if n < 9 else "rejected",
            offered=at + DAY,
            responded=at + DAY,
            by=boss,
        )
    published = for_publication(report_tables(caseload_report(ReportFilter(), now=NOW)))
    assessment = next(row for row in published["timeliness"].rows if row["clock"] == Clock.ASSESSMENT)
    assert (assessment["decided"], assessment["within_deadline"]) != (12, 10)
    assert "suppressed" in (assessment["decided"], assessment["within_deadline"])
    snowdrop = next(row for row in published["providers"].rows if row["label"] == "Snowdrop")
    assert "suppressed" in (snowdrop["answered_offers"], snowdrop["accepted_offers"])
    assert snowdrop["acceptance_rate"] == "suppressed"


@pytest.fixture
def web_alone(client):
    """A manager signed in, with no caseload but the test's own."""
    client.force_login(manager())
    return client


def published(web, table):
    """A publication CSV as the first column's label to the rest of its row."""
    header, *rows = read_csv(web.get(CSV, {"table": table, "publication": "1"}))
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def test_a_small_outcome_cannot_be_worked_out_from_the_referrals_less_the_open_cases_and_other_outcomes(
    web_alone,
):
    # The review's figures: 65 referrals, 24 open (2 received, 10 assessed, 12 placed), 24 recovered,
    # 9 exited, 5 declined and 3 withdrawn; 65 − 24 − 24 − 9 − 5 gave the withdrawn away.
    user = responder()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    states = {"received": 2, "assessed": 10, "placed": 12, "recovered": 24, "exited": 9, "declined": 5,
              "withdrawn": 3}  # fmt: skip
    for state, count in states.items():
        for _ in range(count):
            make_referral(submitted_by=user, submitted_at=yesterday, state=state, state_changed_at=yesterday)
    summary = published(web_alone, "summary")
    assert (summary["Referrals"]["Count"], summary["Open cases"]["Count"]) == ("65", "24")
    outcomes = {label: row["Referrals"] for label, row in published(web_alone, "outcomes").items()}
    # 65 − 24 − 24 = 17 is the exited, declined and withdrawn together: with two of them 5 or more,
    # the withdrawn are anything from 1 to 4.
    assert outcomes == {
        "Recovered": "24",
        "Exited": "suppressed",
        "Missing now": "0",
        "Went missing at any time": "0",
        "Declined": "suppressed",
        "Withdrawn": "<5",
    }


def test_a_small_count_of_active_placements_cannot_be_worked_back_through_the_open_states_either(web_alone):
    # 30 open cases: 10 received and 10 assessed, so 10 placed or missing, with Large House (6 placed,
    # 1 missing) and Small House (2 placed, 1 missing). Open cases less received and assessed less
    # Large House's 7 would give Small House's 3, though each sum on its own withholds two counts.
    user = responder()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    for state in ("received", "assessed"):
        for _ in range(10):
            make_referral(submitted_by=user, submitted_at=yesterday, state=state, state_changed_at=yesterday)
    large = CareProviderFactory(name="Large House", beds_women=9)
    small = CareProviderFactory(name="Small House", beds_women=9)
    for provider, placed in ((large, 6), (small, 2)):
        for _ in range(placed):
            bring_to("placed", provider=provider)
        bring_to("missing", provider=provider)
    assert published(web_alone, "summary")["Open cases"]["Count"] == "30"
    open_cases = published(web_alone, "open_cases")
    assert (open_cases["Received"]["Open cases"], open_cases["Assessed"]["Open cases"]) == ("10", "10")
    providers = published(web_alone, "providers")
    assert providers["Small House"]["Active placements"] == "<5"
    # Large House's placements go too: its 7 beds in use say it has 7 or more.
    assert providers["Large House"]["Active placements"] == "suppressed"
    assert given_away(report_tables(caseload_report(ReportFilter()))) == []


def test_a_few_months_of_one_anonymous_notification_each_under_a_small_total_are_not_given_away(web_alone):
    # One anonymous notification in each of four months, and six referrals: shown as <5 under a total
    # of <5, with 0 in the months between, the four months would be 1 each.
    user = responder()
    now = timezone.now()
    for months_ago in (1, 3, 5, 7):
        anonymous_notification(by=user, at=now - datetime.timedelta(days=30 * months_ago))
    for _ in range(6):
        make_referral(submitted_by=user, submitted_at=now - datetime.timedelta(days=2))
    summary = published(web_alone, "summary")
    months = [row["Anonymous notifications"] for row in published(web_alone, "monthly").values()]
    assert sorted(set(months)) == ["0", "<5"] and months.count("<5") == 4
    # The total is suppressed instead: the four months are 4 to 16 together, each anything from 1 to 4.
    assert summary["Anonymous notifications (not referrals)"]["Count"] == "suppressed"
    assert given_away(report_tables(caseload_report(ReportFilter()))) == []


def test_the_trend_chart_says_one_referral_and_one_anonymous_notification_in_the_singular(web_alone):
    user = responder()
    today = timezone.localdate()
    make_referral(submitted_by=user, submitted_at=timezone.now())
    anonymous_notification(by=user, at=timezone.now())
    html = web_alone.get(PAGE, {"date_from": today.replace(day=1), "date_to": today}).content.decode()
    assert "1 referral and 1 anonymous notification over 1 month." in html


def test_no_count_is_narrowed_by_what_other_tables_tell_of_a_suppressed_total(web_alone):
    # Ten referrals in Wales: the age groups put them at 10 at most (Adult <5, Child 6), the outcomes
    # at 10 at least (Recovered 7, three more of <5): each of them would be known.
    kinds = ["local_authority"] * 5 + ["government_agency"] * 2 + ["ngo"] * 2 + ["police"]
    users = {kind: responder(organisation__kind=kind) for kind in set(kinds)}
    nationalities = ["VN", "VN", "VN", "AL", "ER", "IQ", "NG", "SD", "YE", "unknown"]
    people = [("recovered", "male", True)] * 6 + [("recovered", "male", False)]
    people += [("received", "female", False), ("declined", "female", False), ("withdrawn", "female", False)]
    now = timezone.now()
    for n, ((state, gender, child), kind, nationality) in enumerate(zip(people, kinds, nationalities)):
        at = now - datetime.timedelta(days=2 + 31 * (n % 6))
        make_referral(submitted_by=users[kind], submitted_at=at, state_changed_at=at, state=state,
                      gender=gender, is_child=child, nationality=nationality, region="wales")  # fmt: skip
    tables = report_tables(caseload_report(ReportFilter(region="wales")))
    assert given_away(tables) == []


def test_the_cases_assessed_cannot_give_away_the_few_never_assessed(web_alone):
    # 27 referrals assessed and 3 declined: the referrals less the cases timed to assessment are the
    # received, the declined and the withdrawn before assessment.
    user = responder()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    for state, count in (("assessed", 27), ("declined", 3)):
        for _ in range(count):
            make_referral(submitted_by=user, submitted_at=yesterday - DAY, state=state, state_changed_at=yesterday,
                          assessed_at=yesterday if state == "assessed" else None)  # fmt: skip
    assert published(web_alone, "summary")["Referrals"]["Count"] == "30"
    assert published(web_alone, "outcomes")["Declined"]["Referrals"] == "<5"
    # Shown, 30 − 27 would give the 3 declined away (none received or withdrawn).
    assert (
        published(web_alone, "timeliness")["Time to assessment"]["Cases assessed or placed"] == "suppressed"
    )
    assert given_away(report_tables(caseload_report(ReportFilter()))) == []


def test_the_cases_waiting_for_assessment_are_withheld_with_the_received_cases_they_are(web_alone):
    # 7 received and 3 assessed: 10 open less 7 received would give the 3 assessed away, so the 7 are
    # suppressed; the 7 waiting for assessment, the same cases, would give them back.
    user = responder()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    for state, count in (("received", 7), ("assessed", 3)):
        for _ in range(count):
            assessed_at = yesterday if state == "assessed" else None
            make_referral(submitted_by=user, submitted_at=yesterday - DAY, state=state,
                          state_changed_at=yesterday, assessed_at=assessed_at)  # fmt: skip
    assert published(web_alone, "open_cases")["Received"]["Open cases"] == "suppressed"
    timeliness = published(web_alone, "timeliness")
    assert timeliness["Time to assessment"]["Cases still waiting now"] == "suppressed"
    assert timeliness["Time to assessment"]["Longest wait so far (hours)"] == "suppressed"
    assert timeliness["Time to placement: standard"]["Cases still waiting now"] == "<5"
    assert given_away(report_tables(caseload_report(ReportFilter()))) == []


def test_a_small_count_of_outreach_placements_cannot_be_worked_out_from_placements_less_beds(web_alone):
    # Medaille Trust: 6 people in its beds and 2 in its outreach support; 8 less 6 gave the 2 away.
    medaille = CareProviderFactory(name="Medaille Trust", beds_women=9)
    for route, people in (("accommodation", 6), ("outreach", 2)):
        for _ in range(people):
            bring_to("placed", provider=medaille, route=route)
    row = published(web_alone, "providers")["Medaille Trust"]
    # Beds of 5 or more would leave at most 3 in outreach: the placements go too.
    assert (row["Active placements"], row["Beds in use"], row["Occupancy (%)"]) == ("suppressed",) * 3


def test_a_filter_cannot_give_away_the_few_in_a_providers_beds_it_leaves_out(web_alone):
    # A house with beds only: 8 people from London and 2 from the North East in its beds. Filtered to
    # London, 10 beds in use (today's, whatever the filter) less 8 London placements are the other 2.
    house = CareProviderFactory(name="Women's House", beds_women=12, services=["accommodation"])
    for region, people in (("london", 8), ("north_east", 2)):
        for _ in range(people):
            bring_to("placed", provider=house, region=region)
    header, *rows = read_csv(
        web_alone.get(CSV, {"table": "providers", "publication": "1", "region": "london"})
    )
    row = dict(zip(header, rows[0], strict=True))
    # Placements of 5 or more leave the other 2 anywhere from 1 to 4: they go, today's beds stay.
    assert (row["Active placements"], row["Beds in use"]) == ("suppressed", "10")


def test_the_overdue_list_names_cases_and_is_not_offered_for_publication(web, caseload):
    assert web.get(CSV, {"table": "overdue", "publication": "1"}).status_code == 400
    rows = read_csv(web.get(CSV, {"table": "overdue"}))
    assert rows[0] == [
        "Case reference",
        "Most overdue clock",
        "Overdue since (UK time)",
        "Overdue by (hours)",
        "Also overdue",
    ]
    assert all(row[0].startswith("HBR-") for row in rows[1:])


def test_the_overdue_csv_lists_every_case_past_due_while_page_and_json_say_they_list_the_most_overdue(
    web, api, caseload
):
    total = api.get(API).json()["overdue_total"] + OVERDUE_LIST_LIMIT + 5
    more_referrals(OVERDUE_LIST_LIMIT + 5, by=caseload.police, start=aware(2024, 1, 1, 9, 0))
    rows = read_csv(web.get(CSV, {"table": "overdue"}))[1:]
    assert len(rows) == len({(row[0], row[1]) for row in rows}) == total
    since = [datetime.datetime.fromisoformat(row[2]) for row in rows]
    assert since == sorted(since)  # most overdue first
    data = api.get(API).json()
    assert (len(data["overdue"]), data["overdue_total"], data["overdue_truncated"]) == (
        OVERDUE_LIST_LIMIT,
        total,
        True,
    )
    assert [row[0] for row in rows[:OVERDUE_LIST_LIMIT]] == [row["reference"] for row in data["overdue"]]
    html = web.get(PAGE).content.decode()
    assert f"The caseload page lists the {OVERDUE_LIST_LIMIT} most overdue of {total} cases" in html
    assert "its CSV download, every one." in html


def test_the_overdue_api_pages_through_every_overdue_case_in_the_csvs_order(web, api, caseload):
    more_referrals(OVERDUE_LIST_LIMIT + 5, by=caseload.police, start=aware(2024, 1, 1, 9, 0))
    every = [(row[0], row[1]) for row in read_csv(web.get(CSV, {"table": "overdue"}))[1:]]
    listed, page, pages = [], OVERDUE, 0
    while page:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(page, {"page_size": 30} if pages == 0 else None)
        assert response.status_code == 200, response.json()
        assert len(queries) <= 3  # the token, the count and the page: none per row
        body = response.json()
        assert body["count"] == len(every)
        listed += [(row["reference"], Clock(row["clock"]).label) for row in body["results"]]
        page, pages = body["next"], pages + 1
    assert listed == every
    assert pages == -(-len(every) // 30)


def test_the_overdue_api_takes_the_reports_filters_and_refuses_bad_ones(api, caseload):
    london = api.get(OVERDUE, {"region": "london"}).json()
    assert 0 < london["count"] == api.get(API, {"region": "london"}).json()["overdue_total"]
    assert london["count"] < api.get(OVERDUE).json()["count"]
    assert api.get(OVERDUE, {"date_from": "yesterday"}).json() == {"date_from": ["Enter a valid date."]}
    response = api.get(OVERDUE, {"provider": 999999})
    assert response.status_code == 400
    assert response.json() == {
        "provider": ["No care provider has the id 999999: GET /api/v1/providers/ lists them."]
    }
    for url in (API, OVERDUE):
        refused = api.get(url, {"region": "Wales", "organisation_kind": "POLICE"}).json()
        assert refused["region"] == [f'"Wales" is not one of: {", ".join(Region.values)}.']
        assert "police, border_force" in refused["organisation_kind"][0]
        assert "Select a valid choice" not in str(refused)


def test_the_overdue_api_is_for_managers_only(caseload):
    client = APIClient()
    client.force_authenticate(responder())
    assert client.get(OVERDUE).status_code == 403


def test_a_short_overdue_list_is_whole_and_each_reference_links_to_its_case(web, api, caseload):
    data = api.get(API).json()
    assert data["overdue_total"] >= 4  # B, C, D, H (and A once its clock has passed)
    assert (len(data["overdue"]), data["overdue_truncated"]) == (data["overdue_total"], False)
    case = caseload.cases["C"]
    assert data["overdue"][0]["referral"] == case.pk
    html = web.get(PAGE).content.decode()
    link = reverse("referrals:case", args=[case.pk])
    assert f'<th scope="row"><a href="{link}">{case.reference}</a></th>' in html
    assert "most overdue of" not in html
    assert web.get(link).status_code == 200


def test_a_case_with_two_clocks_overdue_counts_once_under_its_most_overdue_on_page_csv_and_api(
    web, api, caseload
):
    cases = api.get(API).json()["overdue_total"]  # B, C, D and H (and A once its clock has passed)
    placed = caseload.cases["D"]  # its check-in is overdue since 1 June; its recovery review since 3 March
    clock(placed, Clock.RECOVERY_REVIEW, started=aware(2026, 2, 2, 9, 0), due=aware(2026, 3, 3, 9, 0))
    summary = {row[0]: row[1] for row in read_csv(web.get(CSV, {"table": "summary"}))}
    data = api.get(API).json()
    assert int(summary["Cases overdue now"]) == data["overdue_total"] == cases
    page = web.get(PAGE)
    assert page.context["report"].overdue_total == cases and "Cases overdue now" in page.content.decode()
    listed = [row for row in read_csv(web.get(CSV, {"table": "overdue"}))[1:] if row[0] == placed.reference]
    assert listed == [[placed.reference, "Recovery review", "2026-03-03 09:00", listed[0][3], "Check-in"]]
    (case,) = [row for row in data["overdue"] if row["reference"] == placed.reference]
    assert (case["clock"], case["overdue_since"], case["also_overdue"]) == (
        "recovery_review",
        "2026-03-03T09:00:00Z",
        ["check_in"],
    )
    assert [row["reference"] for row in data["overdue"]][0] == placed.reference  # the most overdue case

    # The two answers are read moments apart: the hours overdue may have moved on by a hundredth.
    def without_hours(rows):
        return [{key: value for key, value in row.items() if key != "overdue_hours"} for row in rows]

    assert without_hours(api.get(OVERDUE).json()["results"]) == without_hours(data["overdue"])
    by_clock = {row[0]: row[1:] for row in read_csv(web.get(CSV, {"table": "overdue_by_clock"}))[1:]}
    assert by_clock["Check-in"] == by_clock["Recovery review"] == ["1", f"{100 / cases:.1f}"]


def test_a_missing_person_is_overdue_since_reported_missing_and_the_json_keeps_the_clocks_due_time(
    web, api, caseload
):
    missing = caseload.cases["H"].reference  # reported missing 10 June 12:00, next escalation 11 June 12:00
    rows = read_csv(web.get(CSV, {"table": "overdue"}))
    assert [row[:3] for row in rows if row[0] == missing] == [[missing, "Missing", "2026-06-10 12:00"]]
    (listed,) = [row for row in api.get(API).json()["overdue"] if row["reference"] == missing]
    assert listed["overdue_since"] == "2026-06-10T12:00:00+01:00"
    assert listed["due_at"] == "2026-06-11T12:00:00+01:00"
    checked = caseload.cases["B"].reference  # its assessment was due 8 May and is overdue since then
    (listed,) = [row for row in api.get(API).json()["overdue"] if row["reference"] == checked]
    assert listed["overdue_since"] == listed["due_at"] == "2026-05-08T09:00:00+01:00"


# ---------------------------------------------------------------------------------------------- API


def test_the_api_returns_the_report_with_nationalities_shares_and_extraction_time(api, caseload):
    response = api.get(API)
    assert response.status_code == 200
    data = response.json()
    assert data["as_at"]
    assert data["referrals"] == 8
    assert data["anonymous_notifications"] == 3
    assert data["nationalities"] == [
        {"nationality": "NG", "name": "Nigeria", "count": 3, "share": 0.375},
        {"nationality": "RO", "name": "Romania", "count": 2, "share": 0.25},
        {"nationality": "VN", "name": "Viet Nam", "count": 2, "share": 0.25},
        {"nationality": "CN", "name": "China", "count": 1, "share": 0.125},
    ]
    assert data["top5_share"] == 1.0
    assert data["top10_share"] == 1.0
    provider_x = data["providers"][0]
    assert provider_x["occupancy"] == 0.25
    assert provider_x["acceptance_rate"] == 0.6667
    assert provider_x["median_time_to_accept_hours"] == 8.0
    assessment = data["timeliness"][0]
    assert (assessment["median_hours"], assessment["p90_hours"]) == (30.0, 76.0)
    assert [row["reference"] for row in data["overdue"]][0] == caseload.cases["C"].reference
    assert "given_name" not in response.content.decode()
    assert "Secretname" not in response.content.decode()


def test_timeliness_shows_who_still_waits_and_emergencies_apart_alike_on_page_csv_and_api(web, api, caseload):
    header, *rows = read_csv(web.get(CSV, {"table": "timeliness"}))
    assert header == [
        "Measure",
        "Cases assessed or placed",
        "Median, of those assessed or placed (hours)",
        "90th percentile, of those assessed or placed (hours)",
        "Cases still waiting now",
        "Longest wait so far (hours)",
        "Clocks met",
        "Clocks decided",
        "Clocks within deadline (%)",
    ]
    csv_rows = {row[0]: row[1:] for row in rows}
    data = {row["label"]: row for row in api.get(API).json()["timeliness"]}
    assert (
        list(csv_rows)
        == list(data)
        == [
            "Time to assessment",
            "Time to placement: emergency",
            "Time to placement: standard",
        ]
    )
    for label, row in data.items():
        assert [int(csv_rows[label][0]), int(csv_rows[label][3])] == [row["count"], row["waiting"]], label
        assert float(csv_rows[label][4] or 0) == pytest.approx(row["longest_wait_hours"] or 0, abs=0.01), (
            label
        )
    # C awaits its first placement: not an emergency. D and H were emergencies, both placed.
    assert (
        data["Time to placement: standard"]["waiting"],
        data["Time to placement: emergency"]["waiting"],
    ) == (1, 0)
    assert (
        data["Time to placement: emergency"]["count"],
        data["Time to placement: emergency"]["decided"],
    ) == (2, 2)
    html = web.get(PAGE).content.decode()
    assert "Cases still waiting now" in html and "Time to placement: emergency" in html


def test_the_timeliness_table_says_what_each_deadline_is_as_configured(web, caseload, settings):
    settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS = 12
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = 3
    (note,) = [note for note in report_tables(caseload_report(ReportFilter()))["timeliness"].notes
               if note.startswith("Deadlines:")]  # fmt: skip
    assert note == (
        "Deadlines: an assessment is due 3 working days after submission; a standard placement 5 working "
        "days after assessment; an emergency placement 12 hours after assessment. Working days are those "
        "of the case's nation (no weekends, nor its bank holidays), counted from the clock's start or, for "
        "one started before 09:00 or on a day that is not a working day, from the next 09:00 on a working "
        "day."
    )
    assert "an emergency placement 12 hours after assessment" in web.get(PAGE).content.decode()


def test_outcomes_say_who_is_missing_now_and_who_ever_went_missing_and_what_the_shares_are_of(
    web, api, caseload
):
    header, *rows = read_csv(web.get(CSV, {"table": "outcomes"}))
    assert header == ["Outcome", "Referrals", "Share of all referrals, open included (%)"]
    assert [row[:2] for row in rows] == [
        ["Recovered", "1"],
        ["Exited", "0"],
        ["Missing now", "1"],
        ["Went missing at any time", "1"],
        ["Declined", "1"],
        ["Withdrawn", "1"],
    ]
    assert {row["key"]: row["label"] for row in api.get(API).json()["outcomes"]}["went_missing"] == (
        "Went missing at any time"
    )
    assert "Share of all referrals, open included" in web.get(PAGE).content.decode()


def test_the_age_groups_and_nationalities_say_how_age_in_doubt_and_two_nationalities_are_counted(
    web, api, caseload
):
    make_referral(submitted_by=caseload.police, submitted_at=NOW - DAY, is_child=True, age_in_doubt=True,
                  nationality="NG", second_nationality="GB")  # fmt: skip
    rows = read_csv_file(web.get(CSV, {"table": "age_groups"}))
    assert ["Note", "A person whose age is in doubt is counted as a child, as safeguarding treats them: the "
            "last row says how many of the children they are, and its share is of the children."] in rows  # fmt: skip
    assert [row[:2] for row in rows[rows.index([]) + 2 :]] == [
        ["Adult", "6"],
        ["Child", "3"],
        ["Of the children: age in doubt", "1"],
    ]
    assert api.get(API).json()["age_in_doubt"]["count"] == 1
    nationalities = read_csv_file(web.get(CSV, {"table": "nationalities"}))
    assert [
        "Note",
        "A person with two nationalities is counted once, under the first one given.",
    ] in nationalities
    table = nationalities[nationalities.index([]) + 1 :]
    assert ["NG", "Nigeria", "4", "44.4"] in table and "GB" not in [row[0] for row in table]
    html = web.get(PAGE).content.decode()
    assert "A person whose age is in doubt is counted as a child" in html
    assert "counted once, under the first one given" in html


def test_the_few_children_whose_age_is_not_in_doubt_cannot_be_worked_out_from_those_whose_age_is(web_alone):
    # 7 children, 6 of whose age is in doubt: 7 less 6 would give away the 1 whose age is not.
    user = responder()
    for in_doubt in [True] * 6 + [False]:
        make_referral(
            submitted_by=user, submitted_at=timezone.now() - DAY, is_child=True, age_in_doubt=in_doubt
        )
    ages = published(web_alone, "age_groups")
    assert "suppressed" in (ages["Child"]["Referrals"], ages["Of the children: age in doubt"]["Referrals"])
    assert given_away(report_tables(caseload_report(ReportFilter()))) == []


def test_a_bad_filter_on_the_api_is_a_400_with_field_errors(api):
    response = api.get(API, {"region": "atlantis", "date_from": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()) == {"region", "date_from"}
    response = api.get(API, {"provider": 987654})
    assert response.status_code == 400
    assert set(response.json()) == {"provider"}


@pytest.mark.parametrize("day", ["9999-12-31", "1066-10-14"])
def test_a_day_far_outside_any_caseload_is_a_field_error_on_page_csv_and_api(web, api, day):
    for response in (
        web.get(PAGE, {"date_to": day}),
        web.get(CSV, {"date_to": day}),
        api.get(API, {"date_to": day}),
    ):
        assert response.status_code == 400
        assert "Choose a day from 1 January 2000" in response.content.decode()


def test_filters_apply_alike_to_page_csv_and_api(web, api, caseload):
    other = CareProviderFactory()
    for params, expected in (
        ({"region": "london"}, 4),
        ({"organisation_kind": "ngo"}, 3),
        ({"provider": caseload.x.pk}, 2),  # placed with X: D and E, not C (only offered)
        ({"provider": other.pk}, 0),
        ({"date_from": "2026-02-01", "date_to": "2026-03-01"}, 2),
    ):
        page = web.get(PAGE, params).context["report"]
        summary = {row[0]: row[1] for row in read_csv(web.get(CSV, {"table": "summary", **params}))}
        data = api.get(API, params).json()
        assert page.referrals == int(summary["Referrals"]) == data["referrals"] == expected, params
        assert page.anonymous_notifications == data["anonymous_notifications"], params


def date_box(html: str, name: str) -> str:
    """The value the date box of ``name`` shows; "" for none."""
    [tag] = re.findall(rf'<input type="date" name="{name}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', tag)
    return value[1] if value else ""


def test_a_day_written_dd_mm_yyyy_in_the_address_shows_in_the_date_box_as_read_and_above_the_figures(
    web, api, caseload
):
    """A link a colleague sent may give 01/02/2026: a date box shows only yyyy-mm-dd, so it showed
    nothing while the figures were filtered, and "Apply filters" then dropped the day unseen."""
    written = {"date_from": "01/02/2026", "date_to": "1/3/2026"}
    response = web.get(PAGE, written)
    assert response.status_code == 200
    html = response.content.decode()
    assert date_box(html, "date_from") == "2026-02-01" and date_box(html, "date_to") == "2026-03-01"
    said = "Filters: submitted from 1 February 2026; submitted to 1 March 2026."
    assert said in html and html.index(said) < html.index('id="summary-title"')  # above the figures
    iso = {"date_from": "2026-02-01", "date_to": "2026-03-01"}
    assert response.context["report"].referrals == web.get(PAGE, iso).context["report"].referrals == 2
    preamble = read_csv_file(web.get(CSV, {"table": "summary", **written}))
    assert preamble[1] == ["Filters", said.removeprefix("Filters: ").removesuffix(".")]
    # The API reads the days alike and gives them back as it always does, yyyy-mm-dd.
    data = api.get(API, written).json()
    assert data["filters"]["date_from"] == "2026-02-01" and data["filters"]["date_to"] == "2026-03-01"
    assert data["referrals"] == 2 and data == api.get(API, iso).json() | {"as_at": data["as_at"]}


def test_the_page_says_above_the_figures_that_no_filter_is_applied(web, caseload):
    html = web.get(PAGE).content.decode()
    assert "Filters: none: all of the UK." in html
    assert date_box(html, "date_from") == "" and date_box(html, "date_to") == ""


def test_a_day_the_form_cannot_read_is_refused_in_the_error_summary_and_left_as_written(web, api):
    response = web.get(PAGE, {"date_from": "31/02/2026"})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<a href="#id_date_from">Enter a valid date.</a>' in html
    assert date_box(html, "date_from") == "31/02/2026"
    assert "Filters:" not in html
    assert api.get(API, {"date_from": "31/02/2026"}).json() == {"date_from": ["Enter a valid date."]}


def test_the_provider_filter_says_it_keeps_the_cases_placed_with_the_provider(web, caseload):
    html = web.get(PAGE).content.decode()
    assert '<label for="id_provider">Placed with</label>' in html
    assert "Cases placed with this provider, now or before." in html
    html = web.get(PAGE, {"provider": caseload.x.pk}).content.decode()
    assert "a case only offered to it is not" in html


def test_the_schema_documents_the_report(api):
    api.force_authenticate(manager())
    schema = api.get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    body = schema.json()
    operation = body["paths"]["/api/v1/reports/caseload/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "date_from",
        "date_to",
        "region",
        "provider",
        "organisation_kind",
    }
    for path in ("/api/v1/reports/caseload/", "/api/v1/reports/overdue/"):
        (provider,) = [p for p in body["paths"][path]["get"]["parameters"] if p["name"] == "provider"]
        assert provider["schema"] == {"type": "integer", "minimum": 1}  # provider=0 is a 400
    report = body["components"]["schemas"]["CaseloadReport"]["properties"]
    assert {"as_at", "nationalities", "top5_share", "top10_share"} <= set(report)
    overdue = body["components"]["schemas"]["ReportOverdueCase"]["properties"]
    assert "last seen" in overdue["overdue_since"]["description"]
    assert "next escalation" in overdue["due_at"]["description"]


# ------------------------------------------------------------------------------------------ queries


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200
        if response.streaming:
            response.getvalue()  # a CSV is read from the database as it is sent
    return len(captured)


def test_the_whole_report_needs_at_most_16_queries_whatever_the_caseload_size(
    web, api, caseload, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_QUERIES):
        web.get(PAGE)
    with django_assert_max_num_queries(MAX_QUERIES):
        api.get(API)
    urls = (PAGE, API, f"{CSV}?table=summary", f"{CSV}?table=overdue")
    small = [queries_for(web if url != API else api, url) for url in urls]
    # Sixty more overdue clocks, and more than the page lists, for a CSV that has them all.
    more_referrals(OVERDUE_LIST_LIMIT + 60, by=caseload.police, start=aware(2024, 1, 1, 9, 0))
    CareProviderFactory.create_batch(3)
    larger = [queries_for(web if url != API else api, url) for url in urls]
    assert small == larger
    assert max(larger) <= MAX_QUERIES


def test_part_months_at_either_end_of_the_trend_are_noted(caseload):
    report = caseload_report(ReportFilter(date_from=datetime.date(2026, 4, 10)), now=NOW)
    notes = report_tables(report)["monthly"].notes
    assert notes == ["April 2026 is counted from 10 April only.", "June 2026 is counted to 15 June only."]
    whole = caseload_report(
        ReportFilter(date_from=datetime.date(2026, 4, 1), date_to=datetime.date(2026, 5, 31)), now=NOW
    )
    assert report_tables(whole)["monthly"].notes == []


def test_a_period_running_past_today_stops_at_this_month_and_notes_it_as_part(caseload):
    year = caseload_report(
        ReportFilter(date_from=datetime.date(2026, 4, 1), date_to=datetime.date(2027, 3, 31)), now=NOW
    )
    assert [month.month for month in year.monthly] == [datetime.date(2026, m, 1) for m in (4, 5, 6)]
    assert report_tables(year)["monthly"].notes == ["June 2026 is counted to 15 June only."]


def test_the_note_on_missing_people_says_their_time_counts_from_when_they_were_last_seen_on_page_and_csv(
    web, caseload
):
    page = web.get(PAGE).text
    preamble = read_csv_file(web.get(CSV, {"table": "open_cases"}))
    csv_notes = [row[1] for row in preamble[: preamble.index([])] if row[0] == "Note"]
    for notes in (page, " ".join(csv_notes)):
        assert "for the time since they were last seen." in notes
        assert "since the reallocation" not in notes


def test_a_tie_across_the_top_ten_is_noted_on_page_csv_and_api_but_not_in_the_publication_csv(
    web, api, caseload
):
    # Today's referrals, apart from the caseload's: nine nationalities with 1 each from 6th place.
    user, now = responder(), timezone.now()
    counts = {"ER": 3, "GB": 3, "AL": 2, "LK": 2, "VN": 2}
    counts |= dict.fromkeys(["IN", "IQ", "IR", "NG", "PK", "RO", "SD", "SO", "SY"], 1)
    for code, count in counts.items():
        for _ in range(count):
            make_referral(submitted_by=user, submitted_at=now, nationality=code)
    filters = {"date_from": timezone.localdate(now).isoformat()}
    note = (
        "India; Iraq; Iran, Islamic Republic of; Nigeria; Pakistan; Romania; Sudan; Somalia; and Syrian Arab "
        "Republic share 6th place with 1 referral each. Only five of them fit in the top ten: India; Iraq; "
        "Iran, Islamic Republic of; Nigeria; and Pakistan, chosen because their country codes come first "
        "alphabetically, not because they have more referrals; the top ten's share counts those five only."
    )
    page = web.get(PAGE, filters).text
    assert note.replace("'", "&#x27;") in page
    assert "counting five of the nine nationalities tied for 6th." in page
    plain = read_csv_file(web.get(CSV, {**filters, "table": "nationalities"}))
    assert ["Note", note] in plain
    published = read_csv_file(web.get(CSV, {**filters, "table": "nationalities", "publication": "1"}))
    assert not any("place" in row[1] for row in published[: published.index([])])
    body = api.get(API, filters).json()
    assert body["nationality_ties"] == [
        {"top": 10, "place": 6, "count": 1, "tied": 9, "listed": 5, "note": note}
    ]
    assert body["top10_share"] == pytest.approx(17 / 21, abs=1e-3)
