"""A child's case shows when the person turns 18 to whoever may see their date of birth, and, once they
have, that they are now 18 and their support continues as an adult's only with their consent."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from referrals import services
from referrals.models import Referral
from tests.factories import (
    birthday_years_ago,
    provider_user,
    referred_as_a_child_turning_18,
    responder,
    submitted_referral,
)
from tests.web.conftest import offered, placed, signed_in

pytestmark = pytest.mark.django_db

NOTICE = "Their support continues as an adult's only with their own consent"


def case_page(user: User, referral: Referral) -> str:
    response = signed_in(user).get(reverse("referrals:case", args=[referral.pk]))
    assert response.status_code == 200
    return response.content.decode()


def case_json(user: User, referral: Referral) -> dict:
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(f"/api/v1/referrals/{referral.pk}/")
    assert response.status_code == 200
    return response.json()


def written(day: datetime.date) -> str:
    return day.strftime("%-d %B %Y")


def test_the_placed_provider_sees_when_a_child_turns_18_and_no_notice_yet():
    referral, staff, boss = placed(date_of_birth=birthday_years_ago(18, days_from_today=20))
    birthday = timezone.localdate() + datetime.timedelta(days=20)
    for user in (staff, boss, referral.submitted_by):
        html = case_page(user, referral)
        assert f"<dt>Turns 18 on</dt><dd>{written(birthday)}</dd>" in html
        assert NOTICE not in html
        assert case_json(user, referral)["turns_18_on"] == birthday.isoformat()


def test_once_18_the_case_says_so_and_that_support_needs_their_consent():
    referral, staff, boss = placed()
    referred_as_a_child_turning_18(referral, days_from_today=-2)
    birthday = timezone.localdate() - datetime.timedelta(days=2)
    for user in (staff, boss):
        html = case_page(user, referral)
        assert f"<dt>Turned 18 on</dt><dd>{written(birthday)}</dd>" in html
        assert NOTICE in html
        assert '<span class="tag tag-soon">Now 18</span>' in html
        assert case_json(user, referral)["turns_18_on"] == birthday.isoformat()


def test_a_closed_case_keeps_the_birthday_without_the_notice():
    referral, staff, boss = placed()
    referred_as_a_child_turning_18(referral, days_from_today=-2)
    services.recover_referral(referral_id=referral.pk, actor=boss, outcome="other_support")
    html = case_page(boss, referral)
    assert "<dt>Turned 18 on</dt>" in html
    assert NOTICE not in html and "Now 18" not in html


def test_a_provider_only_offered_the_person_sees_no_birthday_and_another_responder_not_the_case():
    referral, provider, boss = offered()
    referred_as_a_child_turning_18(referral, days_from_today=5)
    staff = provider_user(provider)
    html = case_page(staff, referral)
    assert "Turns 18 on" not in html
    assert "turns_18_on" not in case_json(staff, referral)

    stranger = responder()
    assert signed_in(stranger).get(reverse("referrals:case", args=[referral.pk])).status_code == 404
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/referrals/{referral.pk}/").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="adult"),
        pytest.param({"date_of_birth": None, "age_estimate": 17}, id="estimate-only child"),
        pytest.param({"age_in_doubt": True}, id="in doubt, adult by date of birth"),
    ],
)
def test_nothing_is_said_of_turning_18_without_a_childs_date_of_birth(fields):
    referral, staff, boss = placed(**fields)
    html = case_page(staff, referral)
    assert "Turns 18" not in html and "Turned 18" not in html and "Now 18" not in html
    assert case_json(staff, referral)["turns_18_on"] is None


def test_the_caseload_and_the_managers_queues_tag_those_turning_18_soon_and_now_18():
    soon, staff, boss = placed(date_of_birth=birthday_years_ago(18, days_from_today=30))
    later, _, _ = placed(staff.provider, date_of_birth=birthday_years_ago(18, days_from_today=31))
    now_18, _, _ = placed(staff.provider)
    referred_as_a_child_turning_18(now_18, days_from_today=0)
    caseload = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    assert caseload.count("Turns 18 soon</span>") == 1
    assert caseload.count('<span class="tag tag-soon">Now 18</span>') == 1
    assert caseload.count('<span class="tag">Child</span>') == 2  # soon and later: now 18 is no child

    received = referred_as_a_child_turning_18(submitted_referral(), days_from_today=-1)
    triage = signed_in(boss).get(reverse("referrals:triage")).content.decode()
    assert f">{received.reference}</a>" in triage and "Now 18</span>" in triage
