"""Every figure of the caseload report, checked against a caseload built by hand (tests/reports/caseload.py)."""

import datetime

import pytest
from django.utils import timezone

from care_providers.models import OfferState, Placement
from referrals import services
from referrals.models import Clock, Deadline, Referral
from reports.selectors import AGE_BANDS, OverdueCases, ReportFilter, caseload_report, percentile
from reports.tables import report_tables
from reports.views import nationality_statement
from tests.api.cases import bring_to
from tests.factories import aware, responder

from .caseload import DAY, HOUR, NOW, build_caseload, clock, make_referral, offer

pytestmark = pytest.mark.django_db


@pytest.fixture
def caseload():
    return build_caseload()


def shares(rows):
    return {row.key: (row.count, row.share) for row in rows}


def counts(rows):
    return {row.key: row.count for row in rows if row.count}


def test_open_cases_are_counted_per_state_and_banded_by_time_in_that_state(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assert report.referrals == 8
    assert report.open_cases == 5
    by_state = {row.state: (row.total, row.bands) for row in report.open_by_state}
    assert by_state["received"] == (
        2,
        {"under_7_days": 1, "days_7_to_30": 0, "days_30_to_90": 1, "over_90_days": 0},
    )
    assert by_state["assessed"] == (
        1,
        {"under_7_days": 0, "days_7_to_30": 0, "days_30_to_90": 0, "over_90_days": 1},
    )
    assert by_state["placed"] == (
        1,
        {"under_7_days": 0, "days_7_to_30": 0, "days_30_to_90": 0, "over_90_days": 1},
    )
    assert by_state["missing"] == (
        1,
        {"under_7_days": 1, "days_7_to_30": 0, "days_30_to_90": 0, "over_90_days": 0},
    )


def test_each_count_of_days_in_a_state_falls_in_the_one_band_that_names_it():
    user = responder()
    for days in (6.9, 7, 29.9, 30, 89.9, 90):
        make_referral(submitted_by=user, submitted_at=NOW - 100 * DAY, state_changed_at=NOW - days * DAY)
    report = caseload_report(ReportFilter(), now=NOW)
    (received,) = [row for row in report.open_by_state if row.state == "received"]
    labels = {key: label for key, label, _, _ in AGE_BANDS}
    assert {labels[key]: count for key, count in received.bands.items()} == {
        "Under 7 days": 1,  # 6.9
        "7 to 29 days": 2,  # 7 and 29.9
        "30 to 89 days": 2,  # 30 and 89.9
        "90 days or more": 1,  # 90
    }


def test_a_person_reallocated_while_missing_is_counted_missing_not_assessed_until_found(caseload):
    gone = make_referral(
        submitted_by=responder(),
        submitted_at=NOW - 60 * DAY,
        state="assessed",
        assessed_at=NOW - 50 * DAY,
        state_changed_at=NOW - 2 * DAY,  # reallocated two days ago
    )
    missing = clock(gone, Clock.MISSING, started=NOW - 3 * DAY, due=NOW + HOUR)
    report = caseload_report(ReportFilter(), now=NOW)
    by_state = {row.state: (row.total, row.bands) for row in report.open_by_state}
    assert by_state["missing"] == (
        2,
        {"under_7_days": 2, "days_7_to_30": 0, "days_30_to_90": 0, "over_90_days": 0},
    )
    assert by_state["assessed"][0] == 1
    assert report.open_cases == 6
    assert counts(report.outcomes)["missing"] == 2
    assert "counted as missing, not assessed" in " ".join(report_tables(report)["open_cases"].notes)

    missing.stopped_at = NOW - HOUR  # found
    missing.save()
    report = caseload_report(ReportFilter(), now=NOW)
    by_state = {row.state: row.total for row in report.open_by_state}
    assert (by_state["missing"], by_state["assessed"]) == (1, 2)
    assert counts(report.outcomes)["missing"] == 1


def test_a_person_found_after_being_reallocated_while_missing_is_assessed_from_when_they_were_found():
    case = bring_to("placed")
    pk, provider = case.referral.pk, case.provider_user
    services.report_missing(referral_id=pk, actor=provider, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="needs_changed")
    # Last seen 41 days ago and reallocated the day after; found today.
    weeks_ago = timezone.now() - 40 * DAY
    Referral.objects.filter(pk=pk).update(state_changed_at=weeks_ago)
    Deadline.objects.filter(referral_id=pk, clock=Clock.MISSING).update(started_at=weeks_ago - DAY)
    before = caseload_report(ReportFilter())
    assert {row.state: row.bands["days_30_to_90"] for row in before.open_by_state}["missing"] == 1
    services.mark_found(referral_id=pk, actor=case.manager)
    report = caseload_report(ReportFilter())
    (assessed,) = [row for row in report.open_by_state if row.state == "assessed"]
    # Counted missing until found, they have waited for a new placement only since.
    assert (assessed.total, assessed.bands["under_7_days"], assessed.bands["days_30_to_90"]) == (1, 1, 0)


def test_a_missing_person_is_banded_by_the_time_since_they_were_last_seen():
    user = responder()
    for state in ("missing", "assessed"):  # reported missing, or reallocated while missing, yesterday
        gone = make_referral(
            submitted_by=user,
            submitted_at=NOW - 60 * DAY,
            state=state,
            assessed_at=NOW - 50 * DAY,
            state_changed_at=NOW - DAY,
        )
        clock(gone, Clock.MISSING, started=NOW - 40 * DAY, due=NOW + HOUR)  # last seen 40 days ago
    report = caseload_report(ReportFilter(), now=NOW)
    (missing,) = [row for row in report.open_by_state if row.state == "missing"]
    assert (missing.total, missing.bands["days_30_to_90"], missing.bands["under_7_days"]) == (2, 2, 0)


def test_referrals_and_anonymous_notifications_are_counted_per_month_and_kept_apart(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    months = {row.month: (row.referrals, row.anonymous_notifications) for row in report.monthly}
    assert list(months) == [datetime.date(2025, 12, 1)] + [datetime.date(2026, m, 1) for m in range(1, 7)]
    assert months == {
        datetime.date(2025, 12, 1): (1, 0),
        datetime.date(2026, 1, 1): (1, 1),
        datetime.date(2026, 2, 1): (1, 0),
        datetime.date(2026, 3, 1): (1, 0),
        datetime.date(2026, 4, 1): (2, 2),
        datetime.date(2026, 5, 1): (1, 0),
        datetime.date(2026, 6, 1): (1, 0),
    }
    assert report.anonymous_notifications == 3
    # Anonymous notifications are never referrals: not in the total, nationalities or regions.
    assert report.referrals == 8
    assert sum(row.count for row in report.nationalities) == 8
    assert sum(row.count for row in report.regions) == 8


def test_the_trend_runs_to_this_month_through_the_months_of_none_since_the_last_referral(caseload):
    # North West's one referral, C, came in March: April to June had none, and the trend says so.
    report = caseload_report(ReportFilter(region="north_west"), now=NOW)
    assert [(row.month, row.referrals, row.anonymous_notifications) for row in report.monthly] == [
        (datetime.date(2026, 3, 1), 1, 0),
        (datetime.date(2026, 4, 1), 0, 0),
        (datetime.date(2026, 5, 1), 0, 0),
        (datetime.date(2026, 6, 1), 0, 0),
    ]
    # From a first day with no last day, the months of none run to this month all the same.
    since = caseload_report(ReportFilter(region="north_west", date_from=datetime.date(2026, 1, 1)), now=NOW)
    assert [row.month for row in since.monthly] == [datetime.date(2026, month, 1) for month in range(1, 7)]


def test_months_are_local_months_at_the_turn_of_a_month():
    user = responder()
    # 23:30 on 31 March in London (BST) is still March, though it is 22:30 UTC.
    make_referral(submitted_by=user, submitted_at=datetime.datetime(2026, 3, 31, 22, 30, tzinfo=datetime.UTC))
    report = caseload_report(ReportFilter(), now=NOW)
    assert [(row.month, row.referrals) for row in report.monthly][:2] == [
        (datetime.date(2026, 3, 1), 1),
        (datetime.date(2026, 4, 1), 0),
    ]


def test_every_nationality_is_listed_with_its_count_and_share_most_frequent_first(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assert [(row.key, row.label, row.count) for row in report.nationalities] == [
        ("NG", "Nigeria", 3),
        ("RO", "Romania", 2),
        ("VN", "Viet Nam", 2),
        ("CN", "China", 1),
    ]
    assert report.nationalities[0].share == pytest.approx(3 / 8)
    assert report.top5_share == pytest.approx(1.0)
    assert report.top10_share == pytest.approx(1.0)


def test_top_five_and_top_ten_shares_follow_the_national_statistics_wording():
    user = responder()
    # Twelve nationalities: 12 referrals of the first, 11 of the second, … 1 of the twelfth (78 in all).
    codes = ["NG", "VN", "RO", "CN", "SK", "AL", "ER", "SD", "IQ", "PL", "IN", "GB"]
    for rank, code in enumerate(codes):
        for n in range(12 - rank):
            make_referral(submitted_by=user, submitted_at=aware(2026, 1, 1 + n, 9, 0), nationality=code)
    report = caseload_report(ReportFilter(), now=NOW)
    assert [row.key for row in report.top5] == ["NG", "VN", "RO", "CN", "SK"]
    assert report.top5_share == pytest.approx((12 + 11 + 10 + 9 + 8) / 78)
    assert report.top10_share == pytest.approx(sum(range(3, 13)) / 78)
    assert len(report.nationalities) == 12


def tied_nationalities():
    """ER and GB 3 each; AL, CN, LK and VN 2 each (3rd to 6th); nine with 1 each (7th to 15th): 23."""
    user = responder()
    counts = {"ER": 3, "GB": 3, "AL": 2, "CN": 2, "LK": 2, "VN": 2}
    counts |= dict.fromkeys(["IN", "IQ", "IR", "NG", "PK", "RO", "SD", "SO", "SY"], 1)
    for code, count in counts.items():
        for n in range(count):
            make_referral(submitted_by=user, submitted_at=aware(2026, 6, 1 + n, 9, 0), nationality=code)


def test_a_tie_across_the_last_place_of_the_top_five_or_ten_is_noted_with_the_shares_kept():
    tied_nationalities()
    report = caseload_report(ReportFilter(), now=NOW)
    assert [row.key for row in report.top5] == ["ER", "GB", "AL", "CN", "LK"]
    assert report.top5_share == pytest.approx(12 / 23) and report.top10_share == pytest.approx(18 / 23)
    five, ten = report.nationality_ties
    assert (five.top, five.place, five.count, five.tied, five.listed) == (5, 3, 2, 4, 3)
    assert (ten.top, ten.place, ten.count, ten.tied, ten.listed) == (10, 7, 1, 9, 4)
    assert five.note == (
        "Albania, China, Sri Lanka and Viet Nam share 3rd place with 2 referrals each. Only three of them "
        "fit in the top five: Albania, China and Sri Lanka, chosen because their country codes come first "
        "alphabetically, not because they have more referrals; the top five's share counts those three only."
    )
    assert ten.note == (
        "India; Iraq; Iran, Islamic Republic of; Nigeria; Pakistan; Romania; Sudan; Somalia; and Syrian Arab "
        "Republic share 7th place with 1 referral each. Only four of them fit in the top ten: India; Iraq; "
        "Iran, Islamic Republic of; and Nigeria, chosen because their country codes come first "
        "alphabetically, not because they have more referrals; the top ten's share counts those four only."
    )
    assert report_tables(report)["nationalities"].notes[1:] == [five.note, ten.note]


def test_a_tie_across_the_fifth_place_is_said_where_the_statement_names_the_top_five():
    user = responder()
    for code, count in {"GB": 3, "ER": 3, "SO": 3, "VN": 3, "AL": 2, "SD": 2, "CN": 1}.items():
        for n in range(count):
            make_referral(submitted_by=user, submitted_at=aware(2026, 6, 1 + n, 9, 0), nationality=code)
    report = caseload_report(ReportFilter(), now=NOW)
    assert nationality_statement(report) == (
        "The top five were Eritrea, United Kingdom, Somalia, Viet Nam and Albania (Albania tied for 5th "
        "with Sudan, 2 referrals each); the top ten accounted for 100.0% of referrals."
    )
    (five,) = report.nationality_ties
    assert five.note == (
        "Albania and Sudan share 5th place with 2 referrals each. Only one of them fits in the top five: "
        "Albania, chosen because its country code comes first alphabetically, not because it has more "
        "referrals; the top five's share counts Albania only."
    )


def test_a_tie_across_the_tenth_place_is_said_with_the_top_tens_share():
    tied_nationalities()
    statement = nationality_statement(caseload_report(ReportFilter(), now=NOW))
    assert statement.endswith(
        "the top ten accounted for 78.3% of referrals, counting four of the nine nationalities tied for 7th."
    )


def test_no_tie_is_noted_where_the_top_five_and_ten_end_between_two_counts(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assert report.nationality_ties == []
    assert report_tables(report)["nationalities"].notes == [
        "A person with two nationalities is counted once, under the first one given."
    ]


def test_exploitation_types_adults_and_children_gender_region_and_referrer_kind(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assert counts(report.exploitation_types) == {
        "sexual": 3,
        "labour": 3,
        "criminal": 2,
        "other": 1,
        "domestic_servitude": 1,
    }
    assert shares(report.exploitation_types)["organ_harvesting"] == (0, 0.0)
    assert counts(report.age_groups) == {"adult": 6, "child": 2}
    assert shares(report.age_groups)["child"] == (2, pytest.approx(0.25))
    assert (report.age_in_doubt.count, report.age_in_doubt.share) == (0, 0.0)
    assert counts(report.genders) == {"female": 4, "male": 3, "other": 1}
    assert counts(report.regions) == {"london": 4, "north_west": 1, "wales": 2, "scotland": 1}
    assert counts(report.organisation_kinds) == {"police": 5, "ngo": 3}
    assert [row.key for row in report.organisation_kinds] == [
        "police",
        "border_force",
        "local_authority",
        "government_agency",
        "ngo",
    ]


def test_per_provider_placements_capacity_occupancy_offers_and_acceptance(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    x, y = report.providers
    assert (x.name, y.name) == ("Provider X", "Provider Y")
    assert (x.active_placements, x.beds_in_use, x.capacity) == (1, 1, 4)
    assert x.occupancy == pytest.approx(0.25)
    assert x.pending_offers == 1
    assert (x.accepted_offers, x.answered_offers) == (2, 3)
    assert x.acceptance_rate == pytest.approx(2 / 3)
    assert x.median_time_to_accept == 8 * HOUR  # accepted in 4 and 12 hours
    # Y: an outreach placement takes no bed, and a revoked offer is not an answer.
    assert (y.active_placements, y.beds_in_use, y.capacity, y.occupancy) == (1, 0, 0, None)
    assert (y.pending_offers, y.accepted_offers, y.answered_offers, y.acceptance_rate) == (0, 1, 1, 1.0)
    assert "withdrawn offers are not counted" in " ".join(report_tables(report)["providers"].notes)
    assert y.median_time_to_accept == 20 * HOUR


def test_medians_and_90th_percentiles_of_time_to_assessment_and_to_placement(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assessment, emergency, standard = report.timeliness
    # Assessed after 10, 20, 30, 40 and 100 hours.
    assert assessment.count == 5
    assert assessment.median == 30 * HOUR
    assert assessment.p90 == 76 * HOUR  # 40 + 0.6 × (100 − 40)
    # Emergencies placed 5 (D) and 25 (H) hours after assessment; E, not one, 15 hours after.
    assert (emergency.count, emergency.median, emergency.p90) == (2, 15 * HOUR, 23 * HOUR)  # 5 + 0.9 × 20
    assert (standard.count, standard.median, standard.p90) == (1, 15 * HOUR, 15 * HOUR)


def test_beside_the_medians_are_the_cases_still_waiting_and_the_longest_wait_so_far(caseload):
    assessment, emergency, standard = caseload_report(ReportFilter(), now=NOW).timeliness
    # A and B await assessment, B since 1 May; C awaits its first placement since 1 March, 18:00 (GMT).
    c_assessed = aware(2026, 3, 1, 18, 0).astimezone(datetime.UTC)
    assert (assessment.waiting, assessment.longest_wait) == (2, NOW - aware(2026, 5, 1, 9, 0))
    assert (standard.waiting, standard.longest_wait) == (1, NOW - c_assessed)
    assert (emergency.waiting, emergency.longest_wait) == (0, None)
    # Placed before and waiting again after a reallocation: not waiting for a first placement.
    make_referral(submitted_by=responder(), submitted_at=NOW - 90 * DAY, state="assessed",
                  assessed_at=NOW - 80 * DAY, first_placed_at=NOW - 70 * DAY)  # fmt: skip
    standard = caseload_report(ReportFilter(), now=NOW).timeliness[2]
    assert (standard.waiting, standard.longest_wait) == (1, NOW - c_assessed)


def test_time_to_placement_runs_to_the_first_placement_whatever_came_after():
    assessed = aware(2026, 3, 2, 9, 0)
    make_referral(
        submitted_by=responder(),
        submitted_at=assessed - HOUR,
        state="placed",
        assessed_at=assessed,
        first_placed_at=assessed + 24 * HOUR,
        placed_at=assessed + 61 * 24 * HOUR,  # placed again after a reallocation
    )
    _assessment, _emergency, placement = caseload_report(ReportFilter(), now=NOW).timeliness
    assert (placement.count, placement.median) == (1, 24 * HOUR)


def test_share_within_deadline_counts_clocks_met_among_those_decided(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assessment, emergency, standard = report.timeliness
    # Met: C, D, E, G. Missed: H (late), F (declined late), B (open past due). A is open, not yet due.
    assert (assessment.within_deadline, assessment.decided) == (4, 7)
    assert assessment.share_within_deadline == pytest.approx(4 / 7)
    # Emergencies, met: D; missed: H (late). The others, met: E; missed: C (open past due).
    assert (emergency.within_deadline, emergency.decided, emergency.share_within_deadline) == (1, 2, 0.5)
    assert (standard.within_deadline, standard.decided, standard.share_within_deadline) == (1, 2, 0.5)


def test_overdue_cases_are_listed_most_overdue_first_by_reference_only(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    cases = caseload.cases
    assert report.overdue_total == 4
    assert [(row.reference, row.clock) for row in report.overdue] == [
        (cases["C"].reference, "placement"),
        (cases["B"].reference, "assessment"),
        (cases["D"].reference, "check_in"),
        (cases["H"].reference, "missing"),
    ]
    assert report.overdue[0].overdue_by == NOW - aware(2026, 3, 6, 18, 0).astimezone(datetime.UTC)
    assert counts(report.overdue_by_clock) == {"assessment": 1, "placement": 1, "check_in": 1, "missing": 1}


def test_a_case_with_two_clocks_overdue_is_listed_once_under_the_most_overdue_naming_the_other(caseload):
    placed = caseload.cases["D"]  # its check-in is overdue since 1 June
    clock(placed, Clock.RECOVERY_REVIEW, started=aware(2026, 2, 2, 9, 0), due=aware(2026, 3, 3, 9, 0))
    report = caseload_report(ReportFilter(), now=NOW)
    cases = caseload.cases
    assert report.overdue_total == 4
    assert [(row.reference, row.clock, row.also_overdue) for row in report.overdue] == [
        (placed.reference, "recovery_review", ["check_in"]),
        (cases["C"].reference, "placement", []),
        (cases["B"].reference, "assessment", []),
        (cases["H"].reference, "missing", []),
    ]
    assert report.overdue[0].overdue_since == report.overdue[0].due_at == aware(2026, 3, 3, 9, 0)
    # Each clock still counts under its kind; the shares are of the cases overdue.
    assert shares(report.overdue_by_clock)["check_in"] == shares(report.overdue_by_clock)["recovery_review"]
    assert shares(report.overdue_by_clock)["check_in"] == (1, 0.25)


def test_every_overdue_case_is_read_for_the_csv_in_the_order_of_the_report_list(caseload):
    for report_filter in (ReportFilter(), ReportFilter(region="london")):
        report = caseload_report(report_filter, now=NOW)
        assert list(OverdueCases(report_filter, now=NOW)) == report.overdue
        assert not report.overdue_truncated
    # A case reported missing at the moment another clock fell due comes first, as in the list.
    gone = make_referral(submitted_by=responder(), submitted_at=NOW - 900 * HOUR, state="missing")
    clock(gone, Clock.MISSING, started=aware(2026, 5, 8, 9, 0), due=NOW + HOUR)  # when B's was due
    report = caseload_report(ReportFilter(), now=NOW)
    listed = [row.reference for row in report.overdue]
    assert listed[1:3] == [gone.reference, caseload.cases["B"].reference]
    assert [row.reference for row in OverdueCases(ReportFilter(), now=NOW)] == listed
    assert report.overdue[1].referral_id == gone.pk


def test_outcomes_count_recovered_exited_missing_declined_and_withdrawn(caseload):
    report = caseload_report(ReportFilter(), now=NOW)
    assert [(row.label, row.count) for row in report.outcomes] == [
        ("Recovered", 1),
        ("Exited", 0),
        ("Missing now", 1),
        ("Went missing at any time", 1),
        ("Declined", 1),
        ("Withdrawn", 1),
    ]


def test_everyone_ever_reported_missing_is_counted_once_found_or_not(caseload):
    # E, recovered, went missing twice in its placement and was found each time; D once, and was found.
    recovered, placed = caseload.cases["E"], caseload.cases["D"]
    for person, start in ((recovered, aware(2026, 2, 10, 9, 0)), (recovered, aware(2026, 3, 1, 9, 0)),
                          (placed, aware(2026, 3, 1, 9, 0))):  # fmt: skip
        clock(person, Clock.MISSING, started=start, due=start + DAY, stopped=start + 2 * HOUR)
    outcomes = {row.key: (row.label, row.count) for row in caseload_report(ReportFilter(), now=NOW).outcomes}
    assert outcomes["missing"] == ("Missing now", 1)  # H
    assert outcomes["went_missing"] == ("Went missing at any time", 3)  # H, E and D
    london = caseload_report(ReportFilter(region="london"), now=NOW).outcomes
    assert {row.key: row.count for row in london}["went_missing"] == 2  # E and D


def test_a_region_filter_narrows_referrals_and_anonymous_notifications_alike(caseload):
    report = caseload_report(ReportFilter(region="london"), now=NOW)
    assert report.referrals == 4  # A, B, D, E
    assert report.anonymous_notifications == 2
    assert counts(report.regions) == {"london": 4}
    assert [row.reference for row in report.overdue] == [
        caseload.cases["B"].reference,
        caseload.cases["D"].reference,
    ]
    x = report.providers[0]
    assert (x.active_placements, x.pending_offers, x.accepted_offers, x.answered_offers) == (1, 0, 2, 2)


def test_a_date_range_covers_whole_local_days_of_submission(caseload):
    report = caseload_report(
        ReportFilter(date_from=datetime.date(2026, 2, 1), date_to=datetime.date(2026, 3, 1)), now=NOW
    )
    assert report.referrals == 2  # D (1 February) and C (1 March)
    assert [row.month for row in report.monthly] == [datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)]
    assert report.anonymous_notifications == 0


def test_a_provider_filter_keeps_the_cases_placed_with_it_now_or_before_and_its_own_row(caseload):
    report = caseload_report(ReportFilter(provider_id=caseload.x.pk), now=NOW)
    # D (placed) and E (placement ended); not C, which X rejected once and holds a pending offer for.
    assert report.referrals == 2
    assert report.open_cases == 1  # D, the one active placement in X's own row
    assert [row.name for row in report.providers] == ["Provider X"]
    assert report.providers[0].active_placements == 1
    assert report.anonymous_notifications == 0
    assert any("placed with the provider" in note for note in report.notes)
    # Y was offered G (revoked) and placed H.
    assert caseload_report(ReportFilter(provider_id=caseload.y.pk), now=NOW).referrals == 1


def test_a_case_moved_to_another_provider_counts_for_both_and_an_offer_alone_for_neither(caseload):
    x, y, boss = caseload.x, caseload.y, caseload.boss
    moved = make_referral(submitted_by=caseload.police, submitted_at=NOW - 100 * HOUR, state="placed")
    first = offer(moved, x, OfferState.ACCEPTED, offered=NOW - 90 * HOUR, responded=NOW - 89 * HOUR, by=boss)
    Placement.objects.create(
        referral=moved, provider=x, offer=first, started_at=NOW - 89 * HOUR, ended_at=NOW - 10 * HOUR
    )
    second = offer(moved, y, OfferState.ACCEPTED, offered=NOW - 11 * HOUR, responded=NOW - 10 * HOUR, by=boss)
    Placement.objects.create(referral=moved, provider=y, offer=second, started_at=NOW - 10 * HOUR)
    refused = make_referral(submitted_by=caseload.police, submitted_at=NOW - 50 * HOUR, state="assessed")
    offer(refused, y, OfferState.REJECTED, offered=NOW - 40 * HOUR, responded=NOW - 39 * HOUR, by=boss)

    def placed_with(provider):
        return caseload_report(ReportFilter(provider_id=provider.pk), now=NOW).referrals

    assert (placed_with(x), placed_with(y)) == (3, 2)  # D, E and moved; H and moved


def test_the_children_whose_age_is_in_doubt_are_counted_among_the_children(caseload):
    make_referral(submitted_by=caseload.police, submitted_at=NOW - DAY, is_child=True, age_in_doubt=True)
    report = caseload_report(ReportFilter(), now=NOW)
    assert counts(report.age_groups) == {"adult": 6, "child": 3}
    assert (report.age_in_doubt.label, report.age_in_doubt.count) == ("Of the children: age in doubt", 1)
    assert report.age_in_doubt.share == pytest.approx(1 / 3)  # of the 3 children, not the 9 referrals


def test_a_referring_organisation_kind_filter(caseload):
    report = caseload_report(ReportFilter(organisation_kind="ngo"), now=NOW)
    assert report.referrals == 3  # C, E, H
    assert counts(report.organisation_kinds) == {"ngo": 3}
    assert report.anonymous_notifications == 1


def test_an_empty_caseload_gives_zeros_and_no_shares():
    report = caseload_report(ReportFilter(), now=NOW)
    assert report.referrals == 0
    assert report.monthly == []
    assert report.nationalities == []
    assert report.top5_share is None and report.top10_share is None
    assert all(row.share is None for row in report.genders)
    assert all(row.median is None and row.share_within_deadline is None for row in report.timeliness)
    assert report.overdue == [] and report.overdue_total == 0


def test_percentile_interpolates_between_ranks_like_percentile_cont():
    hours = [datetime.timedelta(hours=h) for h in (100, 10, 40, 20, 30)]
    assert percentile(hours, 0.5) == datetime.timedelta(hours=30)
    assert percentile(hours, 0.9) == datetime.timedelta(hours=76)
    assert percentile([datetime.timedelta(hours=3)], 0.9) == datetime.timedelta(hours=3)
    assert percentile([], 0.5) is None


def test_the_python_percentiles_used_without_postgresql_agree_with_the_database(caseload, monkeypatch):
    in_database = caseload_report(ReportFilter(), now=NOW)
    monkeypatch.setattr("reports.selectors._percentiles_in_database", lambda: False)
    in_python = caseload_report(ReportFilter(), now=NOW)
    assert in_python.timeliness == in_database.timeliness
    assert in_python.providers == in_database.providers


def test_beds_in_use_and_occupancy_are_todays_whatever_the_filter(caseload):
    report = caseload_report(ReportFilter(region="wales"), now=NOW)
    x = report.providers[0]
    assert x.active_placements == 0  # its placed person is not in Wales
    assert (x.beds_in_use, x.capacity, x.occupancy) == (1, 4, pytest.approx(0.25))


def test_a_missing_person_is_overdue_from_the_moment_they_are_reported(caseload):
    gone = make_referral(submitted_by=responder(), submitted_at=NOW - 900 * HOUR, state="missing")
    clock(gone, Clock.MISSING, started=NOW - 3 * HOUR, due=NOW + 21 * HOUR)
    report = caseload_report(ReportFilter(), now=NOW)
    (listed,) = [row for row in report.overdue if row.reference == gone.reference]
    assert (listed.clock, listed.overdue_by) == ("missing", 3 * HOUR)
    # Overdue since they were last seen; the clock itself is due at the next escalation.
    assert (listed.overdue_since, listed.due_at) == (NOW - 3 * HOUR, NOW + 21 * HOUR)
    assert {row.key: row.count for row in report.overdue_by_clock}["missing"] == 2  # and case H


def test_a_clock_stopped_in_time_by_a_withdrawal_is_neither_met_nor_missed():
    at = aware(2026, 3, 2, 9, 0)
    by = responder()

    def case(**fields):
        return make_referral(submitted_by=by, submitted_at=at, **fields)

    assessed = case(state="assessed", assessed_at=at + 24 * HOUR)
    clock(assessed, Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=at + 24 * HOUR)
    withdrawn_at = at + HOUR
    withdrawn_early = case(state="withdrawn", closed_at=withdrawn_at)
    clock(withdrawn_early, Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=withdrawn_at)
    withdrawn_at = at + 6 * DAY
    withdrawn_late = case(state="withdrawn", closed_at=withdrawn_at)
    clock(withdrawn_late, Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=withdrawn_at)
    # Assessed in time, then withdrawn while waiting for a placement.
    assessed_at, withdrawn_at = at + 2 * HOUR, at + 2 * DAY
    withdrawn_waiting = case(state="withdrawn", assessed_at=assessed_at, closed_at=withdrawn_at)
    clock(withdrawn_waiting, Clock.ASSESSMENT, started=at, due=at + 5 * DAY, stopped=assessed_at)
    clock(withdrawn_waiting, Clock.PLACEMENT, started=assessed_at, due=at + 5 * DAY, stopped=withdrawn_at)

    assessment, _emergency, placement = caseload_report(ReportFilter(), now=NOW).timeliness
    assert (assessment.within_deadline, assessment.decided) == (2, 3)
    assert (placement.within_deadline, placement.decided, placement.share_within_deadline) == (0, 0, None)
