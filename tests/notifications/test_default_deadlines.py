"""The default lengths of the clocks a case's transitions start (SPEC §5), with the settings untouched.

Each test moves Harbour's clock to fixed local times, so that the working days counted are known.
"""

import datetime

import pytest
from django.utils import timezone

from referrals import services
from referrals.choices import Region
from referrals.exceptions import RecoveryReviewNotDue
from referrals.models import Clock, Deadline
from tests.factories import CareProviderFactory, aware, manager, provider_user, submitted_referral

pytestmark = pytest.mark.django_db


@pytest.fixture
def now_is(monkeypatch):
    """Sets the time Harbour takes as now (the services and the clocks ask ``timezone.now``)."""

    def set_now(moment: datetime.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_now


def open_clock(referral, clock):
    return Deadline.objects.get(referral=referral, clock=clock, stopped_at__isnull=True)


@pytest.mark.parametrize(
    ("region", "assessed_at", "due"),
    [
        # Thursday to Thursday: the weekend is not counted, so not five calendar days.
        pytest.param(
            Region.LONDON, aware(2026, 6, 11, 10, 0), aware(2026, 6, 18, 10, 0), id="thursday-to-thursday"
        ),
        # From a Saturday, counted from Monday 09:00: five whole working days, Monday to Friday.
        pytest.param(
            Region.LONDON, aware(2026, 6, 13, 11, 0), aware(2026, 6, 22, 9, 0), id="saturday-to-monday"
        ),
        # Over Easter, Easter Monday is a bank holiday in England but not in Scotland.
        pytest.param(
            Region.YORKSHIRE, aware(2026, 4, 2, 9, 30), aware(2026, 4, 13, 9, 30), id="easter-in-england"
        ),
        pytest.param(
            Region.SCOTLAND, aware(2026, 4, 2, 9, 30), aware(2026, 4, 10, 9, 30), id="easter-in-scotland"
        ),
    ],
)
def test_a_placement_is_due_five_working_days_of_the_case_nation_after_the_assessment(
    now_is, region, assessed_at, due
):
    now_is(assessed_at - datetime.timedelta(hours=2))
    referral = submitted_referral(region=region, emergency=False)
    now_is(assessed_at)
    services.assess_referral(referral_id=referral.pk, actor=manager(), risk="medium", route="accommodation")
    assert open_clock(referral, Clock.PLACEMENT).due_at == due


@pytest.mark.parametrize(
    ("first", "later"),
    [
        # Friday 23:00, then Saturday 00:30.
        pytest.param(aware(2026, 6, 12, 23, 0), aware(2026, 6, 13, 0, 30), id="over-a-weekend"),
        # The same, before the spring bank holiday on Monday 25 May.
        pytest.param(aware(2026, 5, 22, 23, 0), aware(2026, 5, 23, 0, 30), id="over-a-bank-holiday"),
    ],
)
def test_a_referral_received_later_is_never_due_for_assessment_earlier(now_is, first, later):
    now_is(first)
    earlier_referral = submitted_referral()
    now_is(later)
    later_referral = submitted_referral()
    assert (
        open_clock(later_referral, Clock.ASSESSMENT).due_at
        > open_clock(earlier_referral, Clock.ASSESSMENT).due_at
    )


def test_an_offer_must_be_answered_within_four_calendar_hours(now_is):
    boss = manager()
    provider = CareProviderFactory()
    now_is(aware(2026, 6, 12, 9, 0))
    referral = submitted_referral(emergency=False)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="accommodation")
    now_is(aware(2026, 6, 12, 22, 30))  # a Friday evening: the hours run on into Saturday
    offer = services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    assert offer.response_due_at == aware(2026, 6, 13, 2, 30)
    assert open_clock(referral, Clock.OFFER_RESPONSE).due_at == aware(2026, 6, 13, 2, 30)


def test_the_recovery_review_is_due_thirty_calendar_days_after_the_placement(now_is):
    boss = manager()
    provider = CareProviderFactory()
    staff = provider_user(provider)
    now_is(aware(2026, 6, 1, 9, 0))
    referral = submitted_referral(emergency=False)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="accommodation")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    now_is(aware(2026, 6, 1, 10, 0))  # a Monday
    services.accept_offer(referral_id=referral.pk, actor=staff)
    assert open_clock(referral, Clock.RECOVERY_REVIEW).due_at == aware(2026, 7, 1, 10, 0)


def test_an_early_recovery_review_is_refused_with_the_time_it_can_be_recorded_from(now_is):
    boss = manager()
    provider = CareProviderFactory()
    staff = provider_user(provider)
    now_is(aware(2026, 6, 1, 14, 0))
    referral = submitted_referral(emergency=False)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="accommodation")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    now_is(aware(2026, 6, 1, 15, 0))  # placed at 15:00
    services.accept_offer(referral_id=referral.pk, actor=staff)
    # Due 1 July at 15:00 and reminded at 15:00 on 25 June: that morning, it is refused until the afternoon.
    now_is(aware(2026, 6, 25, 10, 0))
    with pytest.raises(RecoveryReviewNotDue) as refused:
        services.record_progress(referral_id=referral.pk, actor=staff, note="Review", recovery_review=True)
    assert "it can be recorded from 15:00 on 25 June." in refused.value.message
