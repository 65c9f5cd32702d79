"""The clocks of SPEC §5: when each is due, and starting and stopping them on a case."""

from __future__ import annotations

import datetime
import threading
from typing import cast

import holidays
from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.services import reminders_done

from .choices import Nation, nation_of
from .models import Clock, Deadline, Referral

# A next check-in chosen by date falls due at this local time of that day.
CHECK_IN_TIME = datetime.time(17, 0)
# The local time a working day starts: a working-day clock started before it, or on a day that is not
# a working day, counts from it.
WORKING_DAY_START = datetime.time(9, 0)
# A clock of one working day is reminded at one of these local times: in the afternoon of the working
# day before its due day, or at the start of its due day.
REMINDER_TIMES = (datetime.time(16, 0), WORKING_DAY_START)

# holidays.UK subdivisions for each nation's bank holidays.
_SUBDIVISION = {
    Nation.ENGLAND: "ENG",
    Nation.WALES: "WLS",
    Nation.SCOTLAND: "SCT",
    Nation.NORTHERN_IRELAND: "NIR",
}


_bank_holidays: dict[tuple[Nation, int], frozenset[datetime.date]] = {}
_bank_holidays_lock = threading.Lock()


def bank_holidays(nation: Nation, year: int) -> frozenset[datetime.date]:
    """The nation's bank holidays in ``year``, worked out once per process.

    A holidays calendar fills in a year when first asked about it and is not thread-safe: another
    thread (gunicorn's, the worker pool's) could see the year as filled before its holidays were added
    and count a bank holiday as a working day. A year's set is stored only once complete, so a reader
    without the lock sees all of it or none of it; the lock only keeps two threads from building one.
    """
    key = (nation, year)
    if (dates := _bank_holidays.get(key)) is not None:
        return dates
    with _bank_holidays_lock:
        if (dates := _bank_holidays.get(key)) is None:
            calendar = holidays.country_holidays("GB", subdiv=_SUBDIVISION[nation], years=year)
            dates = _bank_holidays[key] = frozenset(calendar)
    return dates


def is_working_day(day: datetime.date, nation: Nation) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(nation, day.year)


def add_working_days(start: datetime.datetime, days: int, nation: Nation) -> datetime.datetime:
    """``days`` working days after ``start``, at its local time of day (before it, if negative).

    Counting forward, a start on a day that is not a working day counts from ``WORKING_DAY_START`` on
    the next working day: kept at its own time, a referral received at 00:30 on Saturday would be due
    at 00:30 on Friday, with four working days to act, earlier than one received at 23:00 on Friday. A
    start before ``WORKING_DAY_START`` on a working day counts from it too, or one at 08:00 on Monday
    would be due before Saturday's. So a later start is never due earlier.
    """
    local = timezone.localtime(start)
    day, time = local.date(), local.time().replace(tzinfo=None)
    if days > 0 and (not is_working_day(day, nation) or time < WORKING_DAY_START):
        while not is_working_day(day, nation):
            day += datetime.timedelta(days=1)
        time = WORKING_DAY_START
    step = datetime.timedelta(days=1 if days >= 0 else -1)
    remaining = abs(days)
    while remaining > 0:
        day += step
        if is_working_day(day, nation):
            remaining -= 1
    return timezone.make_aware(datetime.datetime.combine(day, time), timezone.get_current_timezone())


def add_calendar_days(start: datetime.datetime, days: int) -> datetime.datetime:
    """The same local time of day, ``days`` days later, across a change of the clocks."""
    local = timezone.localtime(start)
    naive = datetime.datetime.combine(
        local.date() + datetime.timedelta(days=days), local.time().replace(tzinfo=None)
    )
    return timezone.make_aware(naive, timezone.get_current_timezone())


def check_in_due_on(day: datetime.date) -> datetime.datetime:
    """When a next check-in chosen by its day (a progress note's, or one chosen on marking the person
    found) falls due: CHECK_IN_TIME that day, local time."""
    return timezone.make_aware(datetime.datetime.combine(day, CHECK_IN_TIME))


def working_days_of(clock: Clock, referral: Referral) -> int | None:
    """How many working days the clock runs for, or None for a clock that counts calendar time."""
    if clock == Clock.ASSESSMENT:
        return settings.DEADLINE_ASSESSMENT_WORKING_DAYS
    if clock == Clock.PLACEMENT and not referral.emergency:
        return settings.DEADLINE_PLACEMENT_WORKING_DAYS
    return None


def due_at(clock: Clock, referral: Referral, start: datetime.datetime) -> datetime.datetime:
    if (working_days := working_days_of(clock, referral)) is not None:
        return add_working_days(start, working_days, nation_of(referral.region))
    if clock == Clock.PLACEMENT:  # an emergency: a place to stay today
        return start + datetime.timedelta(hours=settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS)
    if clock == Clock.OFFER_RESPONSE:
        return start + datetime.timedelta(minutes=settings.DEADLINE_OFFER_RESPONSE_MINUTES)
    if clock == Clock.CHECK_IN:
        return add_calendar_days(start, settings.DEADLINE_CHECK_IN_DAYS)
    if clock == Clock.RECOVERY_REVIEW:
        return add_calendar_days(start, settings.DEADLINE_RECOVERY_REVIEW_DAYS)
    if clock == Clock.MISSING:
        # The transition itself escalates at once; the sweep escalates again when this is due and
        # then moves it on by MISSING_REPEAT_HOURS each time.
        return start + datetime.timedelta(hours=settings.MISSING_REPEAT_HOURS)
    raise ValueError(f"Unknown clock {clock!r}")


def check_in_after_found(referral: Referral) -> tuple[datetime.datetime, bool]:
    """When the check-in of a person found after going missing falls due unless a day is chosen then,
    and whether it is the one due before they went missing (stopped then, ``services.report_missing``).

    Coming back from missing is when the person is most at risk: never later than the check-in set
    before, nor later than the usual interval from now. So the check-in set before stands while it is
    still ahead and the sooner of the two; once passed (it fell due while they were missing), or further
    off, the usual interval runs from now."""
    now = timezone.now()
    usual = due_at(Clock.CHECK_IN, referral, now)
    before = (
        referral.deadlines.filter(clock=Clock.CHECK_IN)
        .order_by("-started_at", "-pk")
        .values_list("due_at", flat=True)
        .first()
    )
    if before is not None and now < before < usual:
        return before, True
    return usual, False


def reminder_at(
    start: datetime.datetime, due: datetime.datetime, *, working_days: int | None, nation: Nation
) -> datetime.datetime:
    """When DEADLINE_REMINDER_FRACTION of the clock's span has passed.

    A clock that counts working days is reminded in whole working days, at its due time of day, so
    never on a weekend or a bank holiday nor at night for a clock due by day: as many working days
    before the due time as come nearest the share of the span left, at least one and never back to its
    start (with 5 working days, one). A clock of one working day has no day between: it is reminded in
    the afternoon of the working day before its due day, or else at the start of its due day
    (``REMINDER_TIMES``), whichever first falls after its start and before it is due: one does, as the
    clock counts from the start of a working day (``add_working_days``).
    """
    share_left = 1 - settings.DEADLINE_REMINDER_FRACTION
    if working_days is not None and working_days > 1:
        days_before = min(max(round(working_days * share_left), 1), working_days - 1)
        return add_working_days(due, -days_before, nation)
    if working_days == 1:
        days = (timezone.localtime(add_working_days(due, -1, nation)).date(), timezone.localtime(due).date())
        for day, time in zip(days, REMINDER_TIMES, strict=True):
            reminder = timezone.make_aware(datetime.datetime.combine(day, time))
            if start < reminder < due:
                return reminder
    return due - (due - start) * share_left


def retime_placement_clock(referral: Referral) -> Deadline | None:
    """Re-time the case's open placement clock to a corrected ``emergency`` (whether the person needs a
    place to stay today), in the caller's transaction: the running clock, moved or not, or None if none
    runs.

    Now an emergency, it is due by the earlier of its due time and ``DEADLINE_PLACEMENT_EMERGENCY_HOURS``
    from now, and reminded within that span. No longer one, it is due as if it had started so, from its
    own start (with the bank holidays of the region the case is in now). Not yet due after that, it is
    reminded and escalated again at its new times; still past due, it keeps the escalation it had (or
    the next sweep sends it), so that managers are not told twice of one missed deadline. The reminders
    sent of its old due time are read: a new one comes for the new.
    """
    clock = referral.deadlines.filter(clock=Clock.PLACEMENT, stopped_at__isnull=True).first()
    if clock is None:
        return None
    now = timezone.now()
    if referral.emergency:
        start, due = now, min(clock.due_at, due_at(Clock.PLACEMENT, referral, now))
    else:
        start = clock.started_at
        due = due_at(Clock.PLACEMENT, referral, start)
    if due == clock.due_at:
        return clock
    clock.due_at = due
    clock.remind_at = reminder_at(
        start,
        due,
        working_days=working_days_of(Clock.PLACEMENT, referral),
        nation=nation_of(referral.region),
    )
    if due > now:
        clock.reminded_at = clock.breached_at = None
    clock.save(update_fields=["due_at", "remind_at", "reminded_at", "breached_at"])
    reminders_done(referral_id=referral.pk, clocks=(Clock.PLACEMENT,))
    return clock


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
    # A due time given by the caller (a chosen check-in day) is calendar time.
    working_days = working_days_of(clock, referral) if due is None else None
    due = due or due_at(clock, referral, start)
    if not new_case:
        stop_clocks(referral, clock)
    remind = None
    if clock != Clock.MISSING:
        remind = reminder_at(start, due, working_days=working_days, nation=nation_of(referral.region))
    return Deadline.objects.create(
        referral=referral, clock=clock, started_at=start, due_at=due, remind_at=remind, offer_id=offer_id
    )


def stop_clocks(referral: Referral, *clocks: Clock) -> int:
    """Stop the named open clocks (all of them if none are named), and mark their reminders read. A
    paused clock of those named stops for good: it will not run on (its placement ended, or the case closed)."""
    open_clocks = Deadline.objects.filter(Q(stopped_at__isnull=True) | Q(paused=True), referral=referral)
    if clocks:
        open_clocks = open_clocks.filter(clock__in=clocks)
    stopped = open_clocks.update(stopped_at=Coalesce("stopped_at", timezone.now()), paused=False)
    # Only when a clock stopped: a clock stopped before had its reminders marked read then, and a
    # transition that stops nothing (a clock restarted where none ran) costs no query more.
    if stopped:
        reminders_done(referral_id=referral.pk, clocks=clocks)
    return stopped


def pause_clock(referral: Referral, clock: Clock) -> None:
    """Pause the case's open clock of that kind while nobody can meet it (the recovery review while the
    person is missing): stopped, so neither reminded, escalated nor overdue, until ``resume_clock`` runs
    it on with the time it had left. The reminder of a deadline still ahead is read, and goes again once
    it runs on: its due time will have moved, as ``retime_placement_clock`` does for a moved deadline."""
    now = timezone.now()
    paused = Deadline.objects.filter(referral=referral, clock=clock, stopped_at__isnull=True).update(
        stopped_at=now,
        paused=True,
        reminded_at=Case(
            When(due_at__gt=now, then=Value(None, output_field=DateTimeField())), default=F("reminded_at")
        ),
    )
    if paused:
        reminders_done(referral_id=referral.pk, clocks=(clock,))


def resume_clock(referral: Referral, clock: Clock) -> Deadline | None:
    """Run the case's paused clock of that kind on (``pause_clock``): due, and reminded, as much later as
    it was paused, so that a statutory deadline loses none of its time; None if none is paused."""
    paused = Deadline.objects.filter(referral=referral, clock=clock, paused=True).first()
    if paused is None:
        return None
    held = timezone.now() - cast(datetime.datetime, paused.stopped_at)  # a paused clock is stopped
    paused.due_at += held
    if paused.remind_at is not None:
        paused.remind_at += held
    paused.stopped_at, paused.paused = None, False
    paused.save(update_fields=["due_at", "remind_at", "stopped_at", "paused"])
    return paused
