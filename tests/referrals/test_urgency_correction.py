"""A correction of whether the person needs a place to stay today re-times the running placement clock
(SPEC §5): an emergency is due within the emergency hours of the correction at the latest, and a case no
longer one is due as if it had started so; the sweep reminds and escalates it again at its new times."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import Event, InboxItem, Notification
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.choices import Nation
from referrals.deadlines import add_working_days
from referrals.models import Clock, Deadline, Referral
from referrals.wording import correction_in_words
from tests.api.cases import Case, bring_to

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)
HOUR = datetime.timedelta(hours=1)


def placement_clock(referral: Referral) -> Deadline:
    return Deadline.objects.get(referral=referral, clock=Clock.PLACEMENT, stopped_at__isnull=True)


def correct(case: Case, **fields) -> Referral:
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", **fields
    )
    return case.refresh()


def correction_input(referral: Referral) -> dict:
    return referral.transitions.filter(transition="correct").order_by("-pk").first().input


def started_ago(referral: Referral, days: int) -> Deadline:
    """The placement clock as if the case had been assessed ``days`` ago, its due time and reminder
    moved back with it."""
    clock = placement_clock(referral)
    Deadline.objects.filter(pk=clock.pk).update(
        started_at=clock.started_at - days * DAY,
        due_at=clock.due_at - days * DAY,
        remind_at=clock.remind_at - days * DAY,
    )
    return placement_clock(referral)


def breaches(referral: Referral) -> int:
    return Notification.objects.filter(event=Event.DEADLINE_BREACHED, reference=referral.reference).count()


def reminders(referral: Referral) -> int:
    return Notification.objects.filter(event=Event.DEADLINE_REMINDER, reference=referral.reference).count()


def test_a_case_corrected_to_an_emergency_is_due_within_the_emergency_hours_of_the_correction():
    case = bring_to("assessed")
    before = placement_clock(case.referral)
    corrected_at = timezone.now()
    referral = correct(case, emergency=True)
    clock = placement_clock(referral)
    emergency_hours = datetime.timedelta(hours=settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS)
    assert clock.pk == before.pk and clock.started_at == before.started_at
    assert corrected_at + emergency_hours <= clock.due_at <= timezone.now() + emergency_hours
    # Reminded within the day it now has, not at a share of the working days it had.
    assert timezone.now() < clock.remind_at < clock.due_at < before.remind_at
    assert correction_input(referral)["placement_due"] == clock.due_at.isoformat()


def test_a_case_corrected_to_an_emergency_keeps_a_due_time_sooner_than_the_emergency_hours():
    case = bring_to("assessed")
    now = timezone.now()
    # Most of its working days gone: due in three hours.
    Deadline.objects.filter(referral=case.referral).update(due_at=now + 3 * HOUR, remind_at=now + HOUR)
    before = placement_clock(case.referral)
    referral = correct(case, emergency=True)
    clock = placement_clock(referral)
    assert (clock.due_at, clock.remind_at, clock.reminded_at) == (before.due_at, before.remind_at, None)
    # The history and the managers still learn when the placement is due.
    assert correction_input(referral)["placement_due"] == before.due_at.isoformat()


def test_a_reminded_clock_made_an_emergency_is_reminded_again_of_its_new_due_time():
    case = bring_to("assessed")
    clock = started_ago(case.referral, 5)
    sweep_deadlines(now=clock.remind_at + SECOND)
    assert reminders(case.referral) == 1 and placement_clock(case.referral).reminded_at is not None
    referral = correct(case, emergency=True)
    clock = placement_clock(referral)
    assert clock.reminded_at is None
    # The reminder of the old due time is read: it no longer says when the placement is due.
    assert not InboxItem.objects.filter(event=Event.DEADLINE_REMINDER, read_at__isnull=True).exists()
    sweep_deadlines(now=clock.remind_at + SECOND)
    assert reminders(referral) == 2
    assert Notification.objects.filter(event=Event.DEADLINE_REMINDER, due_at=clock.due_at).count() == 1


def test_an_overdue_emergency_no_longer_one_is_due_from_its_start_and_is_reminded_and_escalated_again():
    case = bring_to("assessed", emergency=True)
    clock = started_ago(case.referral, 2)
    sweep_deadlines()
    assert breaches(case.referral) == 1
    escalated = placement_clock(case.referral)
    assert escalated.breached_at is not None and escalated.reminded_at is not None

    referral = correct(case, emergency=False)
    clock = placement_clock(referral)
    assert clock.pk == escalated.pk
    assert clock.due_at == add_working_days(
        clock.started_at, settings.DEADLINE_PLACEMENT_WORKING_DAYS, Nation.ENGLAND
    )
    assert clock.due_at > timezone.now() and clock.breached_at is None and clock.reminded_at is None
    assert clock.remind_at == add_working_days(clock.due_at, -1, Nation.ENGLAND)
    assert correction_input(referral)["placement_due"] == clock.due_at.isoformat()
    # No longer overdue: the sweep leaves it until its reminder, then until its due time.
    sweep_deadlines()
    assert (breaches(referral), reminders(referral)) == (1, 0)
    sweep_deadlines(now=clock.remind_at + SECOND)
    assert (breaches(referral), reminders(referral)) == (1, 1)
    sweep_deadlines(now=clock.due_at + SECOND)
    assert breaches(referral) == 2


def test_an_emergency_no_longer_one_and_still_overdue_is_escalated_once():
    escalated_before = bring_to("assessed", emergency=True)
    started_ago(escalated_before.referral, 10)
    sweep_deadlines()
    not_yet_swept = bring_to("assessed", emergency=True)
    started_ago(not_yet_swept.referral, 10)

    for case in (escalated_before, not_yet_swept):
        referral = correct(case, emergency=False)
        clock = placement_clock(referral)
        assert clock.due_at < timezone.now()
        assert correction_input(referral)["placement_due"] == clock.due_at.isoformat()
    assert placement_clock(escalated_before.referral).breached_at is not None
    assert placement_clock(not_yet_swept.referral).breached_at is None
    sweep_deadlines()
    assert (breaches(escalated_before.referral), breaches(not_yet_swept.referral)) == (1, 1)


def test_a_person_no_longer_needing_a_place_is_no_longer_an_emergency_and_the_clock_follows():
    case = bring_to("assessed", emergency=True)
    referral = correct(case, needs_accommodation=False, emergency=False)
    clock = placement_clock(referral)
    assert clock.due_at == add_working_days(
        clock.started_at, settings.DEADLINE_PLACEMENT_WORKING_DAYS, Nation.ENGLAND
    )
    assert correction_in_words(correction_input(referral), timezone.now()) == (
        "Details corrected (new information): needs accommodation, emergency. No longer an emergency: "
        f"the placement is due {timezone.localtime(clock.due_at):%-d %B %Y %H:%M}"
    )


def test_a_case_already_overdue_made_an_emergency_says_the_placement_was_due_and_is_overdue():
    case = bring_to("assessed")
    Deadline.objects.filter(referral=case.referral).update(due_at=timezone.now() - 3 * HOUR)
    referral = correct(case, emergency=True)
    corrected = referral.transitions.filter(transition="correct").get()
    due = timezone.localtime(placement_clock(referral).due_at)
    assert correction_in_words(corrected.input, corrected.at) == (
        f"Details corrected (new information): emergency. Now an emergency: the placement was due "
        f"{due:%-d %B %Y %H:%M} and is overdue"
    )


def test_an_emergency_correction_that_leaves_the_due_time_says_which_way_it_went():
    case = bring_to("placed")
    referral = correct(case, emergency=True)
    assert correction_input(referral)["emergency"] is True
    assert correction_in_words(correction_input(referral), timezone.now()) == (
        "Details corrected (new information): emergency. Now an emergency"
    )


@pytest.mark.parametrize(
    ("fields", "changes"),
    [
        ({}, {"family_name": "Hailemariam", "needs_medical": True}),
        ({}, {"needs_accommodation": False}),
        ({"emergency": True}, {"region": "wales"}),
    ],
)
def test_a_correction_that_leaves_the_urgency_as_it_was_leaves_the_placement_clock(fields, changes):
    case = bring_to("assessed", **fields)
    before = placement_clock(case.referral)
    referral = correct(case, **changes)
    clock = placement_clock(referral)
    assert (clock.pk, clock.due_at, clock.remind_at) == (before.pk, before.due_at, before.remind_at)
    assert "placement_due" not in correction_input(referral)


def test_an_emergency_corrected_before_the_assessment_starts_the_placement_clock_it_says():
    case = bring_to("received")
    assessment = Deadline.objects.get(referral=case.referral, clock=Clock.ASSESSMENT)
    correct(case, emergency=True)
    assert Deadline.objects.get(referral=case.referral, clock=Clock.ASSESSMENT).due_at == assessment.due_at
    assert "placement_due" not in correction_input(case.referral)
    services.assess_referral(
        referral_id=case.referral.pk, actor=case.manager, risk="high", route="accommodation"
    )
    clock = placement_clock(case.referral)
    hours = datetime.timedelta(hours=settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS)
    assert clock.due_at == clock.started_at + hours
