"""The clocks of SPEC §5: when each is due, and starting and stopping them on a case."""

from __future__ import annotations

import datetime
from functools import cache

import holidays
from django.conf import settings
from django.utils import timezone

from .choices import Nation, nation_of
from .models import Clock, Deadline, Referral

# holidays.UK subdivisions for each nation's bank holidays.
# A next check-in chosen by date falls due at this local time of that day.
CHECK_IN_TIME = datetime.time(17, 0)

_SUBDIVISION = {
    Nation.ENGLAND: "ENG",
    Nation.WALES: "WLS",
    Nation.SCOTLAND: "SCT",
    Nation.NORTHERN_IRELAND: "NIR",
}


@cache
def bank_holidays(nation: Nation) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv=_SUBDIVISION[nation])


def is_working_day(day: datetime.date, nation: Nation) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(nation)


def add_working_days(start: datetime.datetime, days: int, nation: Nation) -> datetime.datetime:
    """The same local time of day, ``days`` working days after ``start`` in that nation."""
    local = timezone.localtime(start)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += datetime.timedelta(days=1)
        if is_working_day(day, nation):
            remaining -= 1
    naive = datetime.datetime.combine(day, local.time().replace(tzinfo=None))
    return timezone.make_aware(naive, timezone.get_current_timezone())


def due_at(clock: Clock, referral: Referral, start: datetime.datetime) -> datetime.datetime:
    nation = nation_of(referral.region)
    if clock == Clock.ASSESSMENT:
        return add_working_days(start, settings.DEADLINE_ASSESSMENT_WORKING_DAYS, nation)
    if clock == Clock.PLACEMENT:
        if referral.emergency:
            return start + datetime.timedelta(hours=settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS)
        return add_working_days(start, settings.DEADLINE_PLACEMENT_WORKING_DAYS, nation)
    if clock == Clock.OFFER_RESPONSE:
        return start + datetime.timedelta(minutes=settings.DEADLINE_OFFER_RESPONSE_MINUTES)
    if clock == Clock.CHECK_IN:
        return start + datetime.timedelta(days=settings.DEADLINE_CHECK_IN_DAYS)
    if clock == Clock.RECOVERY_REVIEW:
        return start + datetime.timedelta(days=settings.DEADLINE_RECOVERY_REVIEW_DAYS)
    if clock == Clock.MISSING:
        # The transition itself escalates at once; the sweep escalates again when this is due and
        # then moves it on by MISSING_REPEAT_HOURS each time.
        return start + datetime.timedelta(hours=settings.MISSING_REPEAT_HOURS)
    raise ValueError(f"Unknown clock {clock!r}")


def start_clock(
    referral: Referral,
    clock: Clock,
    *,
    start: datetime.datetime | None = None,
    due: datetime.datetime | None = None,
    offer_id: int | None = None,
    new_case: bool = False,
) -> Deadline:
    """(Re)start a clock: any open clock of the same kind on the case is stopped first.

    ``new_case`` says the referral was created in this transaction, so it has no clock to stop.
    """
    start = start or timezone.now()
    due = due or due_at(clock, referral, start)
    if not new_case:
        stop_clocks(referral, clock)
    remind = None
    if clock != Clock.MISSING:
        remind = start + (due - start) * settings.DEADLINE_REMINDER_FRACTION
    return Deadline.objects.create(
        referral=referral, clock=clock, started_at=start, due_at=due, remind_at=remind, offer_id=offer_id
    )


def stop_clocks(referral: Referral, *clocks: Clock) -> int:
    """Stop the named open clocks (all of them if none are named)."""
    open_clocks = Deadline.objects.filter(referral=referral, stopped_at__isnull=True)
    if clocks:
        open_clocks = open_clocks.filter(clock__in=clocks)
    return open_clocks.update(stopped_at=timezone.now())


def open_deadlines(referral: Referral) -> list[Deadline]:
    return list(referral.deadlines.filter(stopped_at__isnull=True).order_by("due_at"))
