"""Before submitting through the API, a first responder looks for the person's open cases (SPEC §3)."""

from __future__ import annotations

import pytest

from referrals.models import Referral
from tests.factories import OrganisationFactory, manager, provider_user, responder, submitted_referral

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals/possible-duplicates/"
AMINA = {"given_name": "Amina", "family_name": "Haile", "date_of_birth": "1995-03-14", "nationality": "ER"}


def test_a_responder_finds_the_persons_open_case_before_submitting(api):
    me = responder()
    earlier = submitted_referral(responder(organisation=me.organisation))
    response = api(me).post(URL, {**AMINA, "nationality": "GB"}, format="json")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": earlier.pk,
            "reference": earlier.reference,
            "state": "received",
            "submitted_at": response.json()[0]["submitted_at"],
        }
    ]
    assert Referral.objects.count() == 1


def test_the_same_name_with_another_date_of_birth_and_nationality_is_another_person(api):
    me = responder()
    submitted_referral(me)
    response = api(me).post(URL, {**AMINA, "date_of_birth": "1990-01-01", "nationality": "GB"}, format="json")
    assert response.json() == []


def test_another_organisations_cases_are_not_shown(api):
    submitted_referral(responder(organisation=OrganisationFactory()))
    assert api(responder()).post(URL, AMINA, format="json").json() == []


def test_an_unknown_nationality_is_refused_with_what_to_do(api):
    response = api(responder()).post(URL, {**AMINA, "nationality": "XX"}, format="json")
    assert response.status_code == 400
    assert "nationality" in response.json()


def test_a_name_is_required(api):
    response = api(responder()).post(URL, {"nationality": "ER"}, format="json")
    assert response.status_code == 400
    assert {"given_name", "family_name"} <= response.json().keys()


@pytest.mark.parametrize("who", [manager, lambda: provider_user()])
def test_only_first_responders_look_for_duplicates(api, who):
    assert api(who()).post(URL, AMINA, format="json").status_code == 403


def test_looking_needs_a_token(api):
    assert api().post(URL, AMINA, format="json").status_code == 401
