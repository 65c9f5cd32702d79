"""Which notifications are no longer current, so neither sent again nor delivered late (SPEC §6)."""

import datetime

import pytest

from notifications.models import Event, Notification
from notifications.selectors import why_outdated
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.coming_of_age import tell_of_those_now_18
from referrals.models import Clock, Deadline
from tests.api.cases import bring_to
from tests.factories import referred_as_a_child_turning_18

pytestmark = pytest.mark.django_db


def reasons_outdated(case, event, **fields):
    rows = Notification.objects.filter(referral=case.referral, event=event, **fields)
    return {why_outdated(row) for row in rows}


def test_a_placement_offer_is_current_while_pending_only():
    case = bring_to("offered")
    assert reasons_outdated(case, Event.OFFER_MADE) == {""}
    services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    assert reasons_outdated(case, Event.OFFER_MADE) == {"offer closed"}


def test_a_reminder_is_current_while_its_clock_runs_only():
    case = bring_to("offered")
    offer = case.referral.offers.get()
    sweep_deadlines(now=offer.response_due_at - datetime.timedelta(minutes=1))
    assert reasons_outdated(case, Event.DEADLINE_REMINDER) == {""}
    services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    assert reasons_outdated(case, Event.DEADLINE_REMINDER) == {"clock stopped"}


def test_a_missing_persons_alerts_are_current_while_missing_even_reallocated_and_not_once_found():
    case = bring_to("missing")
    repeat_due = Deadline.objects.get(referral=case.referral, clock=Clock.MISSING).due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    alerts = (Event.PERSON_MISSING, Event.STILL_MISSING)
    assert reasons_outdated(case, Event.STILL_MISSING) == {""}
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")
    assert reasons_outdated(case, Event.PERSON_MISSING) | reasons_outdated(case, Event.STILL_MISSING) == {""}
    services.mark_found(referral_id=case.referral.pk, actor=case.manager)
    assert {reason for event in alerts for reason in reasons_outdated(case, event)} == {"no longer missing"}


def test_a_breach_is_current_while_the_case_is_open_only():
    case = bring_to("placed")
    check_in = Deadline.objects.get(referral=case.referral, clock=Clock.CHECK_IN, stopped_at__isnull=True)
    sweep_deadlines(now=check_in.due_at + datetime.timedelta(seconds=1))
    assert reasons_outdated(case, Event.DEADLINE_BREACHED) == {""}
    services.exit_referral(referral_id=case.referral.pk, actor=case.provider_user, reason="left_support")
    assert reasons_outdated(case, Event.DEADLINE_BREACHED) == {"case closed"}


def test_news_of_a_person_now_18_is_current_while_the_case_is_open_only():
    case = bring_to("placed")
    referred_as_a_child_turning_18(case.referral, days_from_today=0)
    tell_of_those_now_18()
    assert reasons_outdated(case, Event.PERSON_NOW_18) == {""}
    services.recover_referral(referral_id=case.referral.pk, actor=case.manager, outcome="other_support")
    assert reasons_outdated(case, Event.PERSON_NOW_18) == {"case closed"}


def test_a_new_referral_is_current_until_assessed_or_closed():
    assessed, declined = bring_to("received"), bring_to("received")
    assert reasons_outdated(assessed, Event.REFERRAL_RECEIVED) == {""}
    services.assess_referral(
        referral_id=assessed.referral.pk, actor=assessed.manager, risk="low", route="outreach"
    )
    services.decline_referral(referral_id=declined.referral.pk, actor=declined.manager, reason="not_eligible")
    assert reasons_outdated(assessed, Event.REFERRAL_RECEIVED) == {"already assessed"}
    assert reasons_outdated(declined, Event.REFERRAL_RECEIVED) == {"case closed"}


def test_news_of_something_done_stays_current_once_the_case_is_closed():
    case = bring_to("placed")
    services.exit_referral(referral_id=case.referral.pk, actor=case.provider_user, reason="left_support")
    for event in (Event.REFERRAL_ASSESSED, Event.REFERRAL_PLACED, Event.REFERRAL_EXITED):
        assert reasons_outdated(case, event) == {""}, event
