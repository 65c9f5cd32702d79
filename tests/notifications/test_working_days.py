"""Working days per nation come from the maintained ``holidays`` calendar (SPEC §5)."""

import datetime
import itertools
import sys
import threading

import holidays
import pytest
from django.utils import timezone

from referrals.choices import Nation, Region, nation_of
from referrals.deadlines import add_working_days, due_at, is_working_day, reminder_at
from referrals.models import Clock, Referral
from tests.factories import aware, submitted_referral

D = datetime.date


@pytest.mark.parametrize("nation", list(Nation))
def test_christmas_and_boxing_day_are_not_working_days_in_any_nation(nation):
    assert not is_working_day(D(2025, 12, 25), nation)
    assert not is_working_day(D(2025, 12, 26), nation)
    assert is_working_day(D(2025, 12, 29), nation)


@pytest.mark.parametrize("nation", list(Nation))
def test_boxing_day_on_a_saturday_moves_the_holiday_to_monday(nation):
    # 26 December 2026 is a Saturday: the bank holiday is Monday 28 December.
    assert not is_working_day(D(2026, 12, 28), nation)


def test_easter_monday_is_a_holiday_in_england_and_wales_but_not_scotland():
    easter_monday = D(2026, 4, 6)
    assert not is_working_day(easter_monday, Nation.ENGLAND)
    assert not is_working_day(easter_monday, Nation.WALES)
    assert is_working_day(easter_monday, Nation.SCOTLAND)


def test_st_andrews_day_is_a_holiday_in_scotland_only():
    st_andrews_day = D(2026, 11, 30)  # a Monday
    assert not is_working_day(st_andrews_day, Nation.SCOTLAND)
    assert is_working_day(st_andrews_day, Nation.ENGLAND)
    assert is_working_day(st_andrews_day, Nation.NORTHERN_IRELAND)


def test_the_battle_of_the_boyne_is_a_holiday_in_northern_ireland_only():
    boyne = D(2027, 7, 12)  # a Monday
    assert not is_working_day(boyne, Nation.NORTHERN_IRELAND)
    assert is_working_day(boyne, Nation.ENGLAND)
    assert is_working_day(boyne, Nation.SCOTLAND)


def test_threads_asking_about_a_new_year_at_once_all_see_its_bank_holidays():
    # Years no other test asks about, so that the threads are the first to. A tiny switch interval
    # makes the threads interleave often enough to catch a year seen as known before it is filled in.
    years = range(2050, 2100)
    weekday_holidays = [
        day for day in holidays.country_holidays("GB", subdiv="ENG", years=years) if day.weekday() < 5
    ]
    threads = 8
    barrier = threading.Barrier(threads)
    counted_as_working: list[datetime.date] = []

    def ask() -> None:
        barrier.wait()
        counted_as_working.extend(day for day in weekday_holidays if is_working_day(day, Nation.ENGLAND))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=ask) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert weekday_holidays
    assert counted_as_working == []


def test_weekends_are_not_working_days():
    assert not is_working_day(D(2026, 11, 28), Nation.ENGLAND)
    assert not is_working_day(D(2026, 11, 29), Nation.ENGLAND)


def test_five_working_days_span_the_spring_bank_holiday_weekend():
    # Friday 22 May 2026; Monday 25 May is the spring bank holiday.
    assert add_working_days(aware(2026, 5, 22, 10, 0), 5, Nation.ENGLAND) == aware(2026, 6, 1, 10, 0)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Friday 23:00 is on a working day: due at 23:00 five working days on.
        (aware(2026, 6, 12, 23, 0), aware(2026, 6, 19, 23, 0)),
        # 90 minutes later, Saturday 00:30, counts from Monday 09:00: due the Monday after, not Friday 00:30.
        (aware(2026, 6, 13, 0, 30), aware(2026, 6, 22, 9, 0)),
        # Monday 08:00 counts from 09:00 too, or it would be due before Saturday's.
        (aware(2026, 6, 15, 8, 0), aware(2026, 6, 22, 9, 0)),
        # The spring bank holiday, Monday 25 May: from it, or the weekend before, counting starts on Tuesday.
        (aware(2026, 5, 23, 0, 30), aware(2026, 6, 2, 9, 0)),
        (aware(2026, 5, 25, 14, 0), aware(2026, 6, 2, 9, 0)),
    ],
)
def test_a_start_outside_a_working_day_counts_from_nine_on_the_next(start, due):
    assert add_working_days(start, 5, Nation.ENGLAND) == due


def half_hours(first: datetime.datetime, weeks: int) -> list[datetime.datetime]:
    """Every half hour from ``first`` on, stepped in UTC so that no hour is skipped or seen once only
    on the nights the clocks change."""
    first = first.astimezone(datetime.UTC)
    return [first + datetime.timedelta(minutes=30 * n) for n in range(weeks * 7 * 48)]


# Three weeks over the start of British Summer Time (29 March 2026) and Easter (bank holidays on Good
# Friday 3 April and, but for Scotland, Easter Monday 6 April), and three over its end (25 October).
HALF_HOURS_OVER_THE_CHANGES_OF_THE_CLOCKS = pytest.mark.parametrize(
    "starts",
    [
        pytest.param(half_hours(aware(2026, 3, 23, 0, 0), 3), id="spring"),
        pytest.param(half_hours(aware(2026, 10, 19, 0, 0), 3), id="autumn"),
    ],
)


@HALF_HOURS_OVER_THE_CHANGES_OF_THE_CLOCKS
@pytest.mark.parametrize("working_days", [1, 5])
@pytest.mark.parametrize("nation", [Nation.ENGLAND, Nation.SCOTLAND])
def test_a_later_start_is_never_due_earlier(nation, working_days, starts):
    dues = [add_working_days(start, working_days, nation) for start in starts]
    due_earlier = [
        (earlier_start, later_start)
        for (earlier_start, earlier_due), (later_start, later_due) in itertools.pairwise(zip(starts, dues))
        if later_due < earlier_due
    ]
    assert due_earlier == []


@HALF_HOURS_OVER_THE_CHANGES_OF_THE_CLOCKS
@pytest.mark.parametrize("working_days", [1, 5])
@pytest.mark.parametrize("nation", [Nation.ENGLAND, Nation.SCOTLAND])
def test_a_start_in_a_working_day_keeps_its_time_and_one_outside_is_due_with_the_next_nine_oclock(
    nation, working_days, starts
):
    due_of_next_nine_oclock = None
    for start in reversed(starts):
        local = timezone.localtime(start)
        due = timezone.localtime(add_working_days(start, working_days, nation))
        if is_working_day(local.date(), nation) and local.time() >= datetime.time(9, 0):
            # As many working days after the start's day as the clock runs, up to the due day.
            days_after = range(1, (due.date() - local.date()).days + 1)
            days = [local.date() + datetime.timedelta(days=n) for n in days_after]
            assert sum(is_working_day(day, nation) for day in days) == working_days
            assert is_working_day(due.date(), nation) and due.time() == local.time()
            if local.time() == datetime.time(9, 0):
                due_of_next_nine_oclock = due
        elif due_of_next_nine_oclock is not None:  # not the nights after the last nine o'clock
            assert due == due_of_next_nine_oclock


def test_five_working_days_over_easter_differ_between_england_and_scotland():
    start = aware(2026, 4, 2, 9, 30)  # Thursday before Good Friday
    assert add_working_days(start, 5, Nation.ENGLAND) == aware(2026, 4, 13, 9, 30)
    assert add_working_days(start, 5, Nation.SCOTLAND) == aware(2026, 4, 10, 9, 30)


def test_the_assessment_clock_counts_working_days_of_the_case_nation(settings):
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = 5
    start = aware(2026, 4, 2, 9, 30)
    in_glasgow = Referral(region=Region.SCOTLAND, emergency=False)
    in_leeds = Referral(region=Region.YORKSHIRE, emergency=False)
    assert due_at(Clock.ASSESSMENT, in_glasgow, start) == aware(2026, 4, 10, 9, 30)
    assert due_at(Clock.ASSESSMENT, in_leeds, start) == aware(2026, 4, 13, 9, 30)


def test_an_emergency_placement_is_due_in_calendar_hours(settings):
    settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS = 24
    start = aware(2026, 12, 24, 15, 0)
    referral = Referral(region=Region.LONDON, emergency=True)
    assert due_at(Clock.PLACEMENT, referral, start) == aware(2026, 12, 25, 15, 0)


def test_the_missing_clock_is_next_due_one_repeat_after_the_report(settings):
    # The report itself escalates at once; the clock is for the repeats.
    settings.MISSING_REPEAT_HOURS = 24
    start = aware(2026, 12, 24, 15, 0)
    assert due_at(Clock.MISSING, Referral(region=Region.LONDON), start) == aware(2026, 12, 25, 15, 0)


@pytest.mark.parametrize(
    ("start", "due", "remind"),
    [
        # Monday to Monday: the reminder comes on Friday, not at 00:24 on Sunday.
        (aware(2026, 12, 7, 10, 0), aware(2026, 12, 14, 10, 0), aware(2026, 12, 11, 10, 0)),
        # Over Christmas: due Monday 4 January, reminded on the last working day of the year.
        (aware(2026, 12, 23, 10, 0), aware(2027, 1, 4, 10, 0), aware(2026, 12, 31, 10, 0)),
    ],
)
def test_a_five_working_day_clock_is_reminded_one_working_day_before_due(settings, start, due, remind):
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = 5
    settings.DEADLINE_REMINDER_FRACTION = 0.8
    assert due_at(Clock.ASSESSMENT, Referral(region=Region.LONDON), start) == due
    assert reminder_at(start, due, working_days=5, nation=Nation.ENGLAND) == remind


# Thursday 31 December 2026 to Wednesday 6 January 2027, over New Year's Day and a weekend, by day and
# by night (a night start counts from the next working day's start, so it too is reminded by day).
A_WEEK_OF_STARTS = [
    aware(2026, 12, 31, hour, minute) + datetime.timedelta(days=n)
    for n in range(7)
    for hour, minute in [(10, 0), (0, 30)]
]


@pytest.mark.parametrize("working_days", [1, 2, 3, 4, 5, 7, 10])
@pytest.mark.parametrize("start", A_WEEK_OF_STARTS, ids=lambda start: start.strftime("%a %d %b %H:%M"))
def test_a_working_day_clock_is_reminded_by_day_on_a_working_day_before_due(settings, working_days, start):
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = working_days
    settings.DEADLINE_REMINDER_FRACTION = 0.8
    due = due_at(Clock.ASSESSMENT, Referral(region=Region.LONDON), start)
    remind = reminder_at(start, due, working_days=working_days, nation=Nation.ENGLAND)
    local = timezone.localtime(remind)
    assert is_working_day(local.date(), Nation.ENGLAND)
    assert datetime.time(9, 0) <= local.time() < datetime.time(17, 0)
    assert start < remind < due
    if working_days > 1:  # a whole working day before due, where the span has one after its start
        assert add_working_days(remind, 1, Nation.ENGLAND) <= due


@pytest.mark.parametrize(
    ("start", "remind"),
    [
        (aware(2027, 1, 4, 8, 0), aware(2027, 1, 4, 16, 0)),  # Monday morning: that afternoon
        (aware(2027, 1, 4, 16, 30), aware(2027, 1, 5, 9, 0)),  # Monday after 16:00: Tuesday morning
        # Saturday, by day or by night: counted from Monday 09:00 and due Tuesday 09:00, so Monday afternoon.
        (aware(2027, 1, 2, 10, 0), aware(2027, 1, 4, 16, 0)),
        (aware(2027, 1, 2, 7, 0), aware(2027, 1, 4, 16, 0)),
    ],
)
def test_a_one_working_day_clock_is_reminded_by_day_where_the_span_allows(settings, start, remind):
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = 1
    settings.DEADLINE_REMINDER_FRACTION = 0.8
    due = due_at(Clock.ASSESSMENT, Referral(region=Region.LONDON), start)
    assert reminder_at(start, due, working_days=1, nation=Nation.ENGLAND) == remind


def test_a_calendar_clock_reminds_when_its_share_of_the_span_has_passed(settings):
    settings.DEADLINE_REMINDER_FRACTION = 0.8
    start = aware(2026, 12, 24, 15, 0)
    due = aware(2026, 12, 25, 15, 0)
    assert reminder_at(start, due, working_days=None, nation=Nation.ENGLAND) == aware(2026, 12, 25, 10, 12)


@pytest.mark.django_db
def test_a_submitted_referral_gets_its_reminder_in_working_days():
    referral = submitted_referral()
    clock = referral.deadlines.get()
    assert is_working_day(timezone.localtime(clock.remind_at).date(), nation_of(referral.region))
    assert add_working_days(clock.remind_at, 1, nation_of(referral.region)) == clock.due_at


def test_a_calendar_day_clock_keeps_its_local_time_over_the_change_of_the_clocks(settings):
    settings.DEADLINE_CHECK_IN_DAYS = 7
    start = aware(2026, 10, 22, 10, 0)  # British Summer Time ends on Sunday 25 October
    referral = Referral(region=Region.LONDON)
    assert due_at(Clock.CHECK_IN, referral, start) == aware(2026, 10, 29, 10, 0)
