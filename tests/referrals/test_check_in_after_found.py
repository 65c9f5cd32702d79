"""The check-in of a person found after going missing: never later than the one set before, nor than the
usual interval from then, unless a day is chosen on marking them found."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from referrals import services
from referrals.choices import ReferralState
from referrals.deadlines import CHECK_IN_TIME, add_calendar_days
from referrals.exceptions import HarbourError
from referrals.models import Clock, Deadline, Referral
from tests.api.cases import Case, bring_to

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def at_check_in_time(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, CHECK_IN_TIME))


def placed_with_check_in_on(day: datetime.date) -> Case:
    """Placed, with a progress note that set the next check-in for ``day``, then reported missing."""
    case = bring_to("placed")
    services.record_progress(
        referral_id=case.referral.pk, actor=case.provider_user, note="Settling in", next_check_in=day
    )
    services.report_missing(
        referral_id=case.referral.pk, actor=case.provider_user, last_seen_at=timezone.now()
    )
    return case


def running_check_in(referral: Referral) -> Deadline:
    return referral.deadlines.get(clock=Clock.CHECK_IN, stopped_at__isnull=True)


def found_input(referral: Referral) -> dict:
    return referral.transitions.get(transition="found").input


def test_a_person_found_before_the_check_in_set_for_them_keeps_it():
    chosen = timezone.localdate() + 2 * DAY
    case = placed_with_check_in_on(chosen)
    services.mark_found(referral_id=case.referral.pk, actor=case.provider_user)
    assert running_check_in(case.referral).due_at == at_check_in_time(chosen)
    assert found_input(case.referral) == {
        "note": "",
        "next_check_in": None,
        "check_in_due": at_check_in_time(chosen).isoformat(),
    }


def test_a_person_found_after_their_check_in_fell_due_is_checked_in_the_usual_interval_from_then():
    case = placed_with_check_in_on(timezone.localdate() + 2 * DAY)
    # They were missing past it.
    case.referral.deadlines.filter(clock=Clock.CHECK_IN).update(due_at=timezone.now() - DAY)
    before = timezone.now()
    services.mark_found(referral_id=case.referral.pk, actor=case.manager)
    due = running_check_in(case.referral).due_at
    days = settings.DEADLINE_CHECK_IN_DAYS
    # Calendar days at the same local time: 6 days 23 hours across the spring clock change.
    assert add_calendar_days(before, days) <= due <= add_calendar_days(timezone.now(), days)
    assert found_input(case.referral)["check_in_due"] == due.isoformat()


def test_a_check_in_set_further_off_than_the_usual_interval_comes_forward_to_it_on_return(monkeypatch):
    case = placed_with_check_in_on(timezone.localdate() + 60 * DAY)
    found_at = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: found_at)
    services.mark_found(referral_id=case.referral.pk, actor=case.provider_user)
    due = add_calendar_days(found_at, settings.DEADLINE_CHECK_IN_DAYS)
    assert running_check_in(case.referral).due_at == due
    assert found_input(case.referral)["check_in_due"] == due.isoformat()


def test_a_next_check_in_chosen_on_marking_them_found_wins_sooner_or_later():
    for chosen in (timezone.localdate() + DAY, timezone.localdate() + 20 * DAY):
        case = placed_with_check_in_on(timezone.localdate() + 3 * DAY)
        services.mark_found(referral_id=case.referral.pk, actor=case.provider_user, next_check_in=chosen)
        assert running_check_in(case.referral).due_at == at_check_in_time(chosen)
        given = found_input(case.referral)
        assert (given["next_check_in"], given["check_in_due"]) == (
            chosen.isoformat(),
            at_check_in_time(chosen).isoformat(),
        )


def test_no_check_in_can_be_chosen_for_a_person_reallocated_while_missing():
    case = bring_to("missing")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="other")
    with pytest.raises(HarbourError) as refused:
        services.mark_found(
            referral_id=case.referral.pk, actor=case.manager, next_check_in=timezone.localdate() + DAY
        )
    assert refused.value.field == "next_check_in"
    assert case.referral.still_missing()
    services.mark_found(referral_id=case.referral.pk, actor=case.manager)
    assert case.refresh().state == ReferralState.ASSESSED
    assert "check_in_due" not in found_input(case.referral)
    assert not case.referral.deadlines.filter(clock=Clock.CHECK_IN, stopped_at__isnull=True).exists()


@pytest.mark.parametrize("days_ahead", [-1, 91], ids=["past", "months away"])
def test_marking_them_found_refuses_a_next_check_in_past_or_months_away_whoever_calls_it(days_ahead):
    """An admin action or a task calls the service without the web form or the API input: a check-in
    already past would breach at once, and escalate the person just back."""
    case = placed_with_check_in_on(timezone.localdate() + 2 * DAY)
    day = timezone.localdate() + days_ahead * DAY
    with pytest.raises(HarbourError) as refused:
        services.mark_found(referral_id=case.referral.pk, actor=case.manager, next_check_in=day)
    assert refused.value.field == "next_check_in"
    assert refused.value.message.startswith("Choose a next check-in from")
    assert case.refresh().state == ReferralState.MISSING
    assert not case.referral.transitions.filter(transition="found").exists()
