"""POST /api/v1/referrals/<id>/correct/: the person's details corrected after submission."""

import pytest

from referrals import services
from referrals.models import Referral
from tests.api.cases import bring_to, transition_url
from tests.factories import birthday_years_ago, manager, provider_user, responder, submitted_referral
from tests.web.conftest import offered

pytestmark = pytest.mark.django_db


def correct(client, referral: Referral, body: dict, **headers):
    return client.post(transition_url(referral.pk, "correct"), body, format="json", **headers)


def test_a_correction_answers_the_referral_as_the_detail_endpoint_shows_it(api):
    referral = submitted_referral()
    client = api(referral.submitted_by)
    body = {
        "reason": "age_assessment",
        "note": "The local authority's age assessment.",
        "date_of_birth": birthday_years_ago(16, days_from_today=20).isoformat(),
        "local_authority": "Newham",
    }
    response = correct(client, referral, body)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["is_child"] is True and answer["state"] == "received"
    assert answer["date_of_birth"] == body["date_of_birth"]
    assert answer == client.get(f"/api/v1/referrals/{referral.pk}/").json()


def test_the_history_shows_the_correction_with_field_names_only(api):
    case = bring_to("assessed")
    response = correct(api(case.manager), case.referral, {"reason": "typing_error", "given_name": "Amena"})
    assert response.status_code == 200
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    entry = history[-1]
    assert (entry["transition"], entry["from_state"], entry["to_state"]) == (
        "correct",
        "assessed",
        "assessed",
    )
    assert entry["input"] == {"reason": "typing_error", "note": "", "fields": ["given_name"]}


def test_the_history_gives_an_emergency_corrections_new_value_and_due_time_as_the_schema_says(api):
    case = bring_to("assessed")
    correct(api(case.manager), case.referral, {"reason": "new_information", "emergency": True})
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    due = case.referral.deadlines.get(clock="placement", stopped_at__isnull=True).due_at
    assert history[-1]["input"]["emergency"] is True
    assert history[-1]["input"]["placement_due"] == due.isoformat()
    schema = api().get("/api/v1/schema/?format=json").json()
    described = schema["components"]["schemas"]["HistoryEntry"]["properties"]["input"]["description"]
    assert "`emergency`" in described and "`placement_due`" in described


def test_the_history_tells_the_placed_provider_the_number_changed_never_the_number(api):
    case = bring_to("placed")
    body = {"reason": "new_information", "contact_phone": "07700 900456"}
    assert correct(api(case.manager), case.referral, body).status_code == 200
    history = api(case.provider_user).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert history[-1]["input"]["contact"] == "phone_changed"
    assert "900456" not in str(history)


def test_bad_input_is_a_400_with_the_intakes_field_errors(api):
    referral = submitted_referral()
    response = correct(
        api(manager()),
        referral,
        {"given_name": "", "age_estimate": 200, "nationality": "XX", "note": "x" * 1001},
    )
    assert response.status_code == 400
    errors = response.json()
    assert errors["given_name"] == ["Enter the person's given name."]
    assert errors["age_estimate"] == ["The age estimate must be between 0 and 120."]
    assert "nationality" in errors and "reason" in errors
    assert "1,000" in errors["note"][0]
    referral.refresh_from_db()
    assert referral.given_name == "Amina"


def test_an_adults_consent_set_to_false_is_a_400_pointing_to_withdraw_and_the_case_is_not_assessed(api):
    referral = submitted_referral()
    client = api(referral.submitted_by)
    response = correct(client, referral, {"reason": "typing_error", "consent": False})
    assert response.status_code == 400
    assert list(response.json()) == ["consent"]
    assert "with reason consent_withdrawn" in response.json()["consent"][0]
    referral.refresh_from_db()
    assert referral.consent and not referral.transitions.filter(transition="correct").exists()
    withdrawn = client.post(
        transition_url(referral.pk, "withdraw"), {"reason": "consent_withdrawn"}, format="json"
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"


def test_a_child_found_an_adult_by_an_age_assessment_is_still_recorded_without_consent(api):
    referral = submitted_referral(age_in_doubt=True, consent=False)
    client = api(referral.submitted_by)
    response = correct(client, referral, {"reason": "age_assessment", "age_in_doubt": False})
    assert response.status_code == 200, response.json()
    assert response.json()["is_child"] is False and response.json()["consent"] is False


def test_the_rules_apply_to_the_record_as_it_will_be(api):
    referral = submitted_referral()  # safe to contact, with a phone number
    client = api(manager())
    response = correct(client, referral, {"reason": "new_information", "safe_to_contact": False})
    assert response.status_code == 400
    assert list(response.json()) == ["contact_phone"]
    response = correct(client, referral, {"reason": "new_information", "date_of_birth": None})
    assert list(response.json()) == ["date_of_birth"]
    response = correct(
        client, referral, {"reason": "new_information", "safe_to_contact": False, "contact_phone": ""}
    )
    assert response.status_code == 200


def test_an_estimate_corrected_to_disagree_with_the_date_of_birth_is_refused_naming_the_apis_field(api):
    referral = submitted_referral()  # an adult by date of birth
    response = correct(api(manager()), referral, {"reason": "new_information", "age_estimate": 16})
    assert response.status_code == 400
    (message,) = response.json()["age_estimate"]
    assert "set age_in_doubt to true to keep both" in message and "tick" not in message


def test_a_correction_that_changes_nothing_is_a_400_saying_so(api):
    referral = submitted_referral()
    response = correct(api(manager()), referral, {"reason": "typing_error", "given_name": "Amina"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Nothing changed")
    assert not referral.transitions.filter(transition="correct").exists()


def test_a_closed_case_is_a_409_and_a_provider_a_403_and_another_organisation_a_404(api):
    closed = bring_to("recovered")
    response = correct(api(closed.manager), closed.referral, {"reason": "other", "given_name": "Amena"})
    assert response.status_code == 409
    assert "The details of a closed case can no longer be corrected." in response.json()["detail"]
    placed = bring_to("placed")
    response = correct(api(placed.provider_user), placed.referral, {"reason": "other", "given_name": "Amena"})
    assert response.status_code == 403
    response = correct(api(responder()), placed.referral, {"reason": "other", "given_name": "Amena"})
    assert response.status_code == 404


def test_a_correction_repeated_with_its_idempotency_key_is_made_once(api):
    referral = submitted_referral()
    client = api(manager())
    body = {"reason": "typing_error", "family_name": "Hailemariam"}
    first = correct(client, referral, body, HTTP_IDEMPOTENCY_KEY="correct-1")
    again = correct(client, referral, body, HTTP_IDEMPOTENCY_KEY="correct-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert referral.transitions.filter(transition="correct").count() == 1


NEW_INFORMATION = {
    "account": "NEW: the exploiter has a gun.",
    "exploitation_types": ["sexual", "criminal"],
    "exploitation_location": "uk",
    "responder_reference": "PC-9999",
    "crime_reference": "CR-2",
}


@pytest.mark.parametrize("field", NEW_INFORMATION)
def test_a_correction_refuses_a_detail_of_the_referral_as_made_on_that_field_and_says_whom_to_tell(
    api, settings, field
):
    settings.MANAGERS_DUTY_PHONE = "020 7946 0321"
    referral = submitted_referral()
    before = Referral.objects.get(pk=referral.pk)
    body = {"reason": "new_information", "given_name": "Acct2", field: NEW_INFORMATION[field]}
    response = correct(api(referral.submitted_by), referral, body)
    assert response.status_code == 400
    assert response.json() == {
        field: [
            f"{field} cannot be changed by a correction: it is part of the referral as it was made. Phone the "
            "managers on 020 7946 0321 with what is new, quoting the referral's reference."
        ]
    }
    referral.refresh_from_db()
    assert (referral.given_name, getattr(referral, field)) == (before.given_name, getattr(before, field))
    assert not referral.transitions.filter(transition="correct").exists()


def test_a_correction_names_every_detail_it_cannot_change_beside_its_other_errors(api):
    referral = submitted_referral()
    body = {"reason": "no_such_reason", "region": "atlantis", **NEW_INFORMATION}
    response = correct(api(referral.submitted_by), referral, body)
    assert response.status_code == 400
    assert set(response.json()) == {"reason", "region", *NEW_INFORMATION}


def test_a_manager_is_not_told_to_phone_the_managers(api):
    referral = submitted_referral()
    response = correct(api(manager()), referral, {"reason": "new_information", "crime_reference": "CR-2"})
    assert response.status_code == 400
    assert response.json() == {
        "crime_reference": [
            "crime_reference cannot be changed by a correction: it is part of the referral as it was made."
        ]
    }


def test_a_correction_sent_with_the_referral_as_read_changes_what_differs_and_keeps_the_rest(api):
    referral = submitted_referral(exploitation_types=["labour", "criminal"], crime_reference="")
    client = api(referral.submitted_by)
    as_read = client.get(f"/api/v1/referrals/{referral.pk}/").json()
    as_read["exploitation_types"].reverse()
    body = {**as_read, "crime_reference": None, "reason": "typing_error", "given_name": "Amena"}
    response = correct(client, referral, body)
    assert response.status_code == 200, response.json()
    assert response.json()["given_name"] == "Amena"


def test_a_correction_refused_a_detail_is_not_replayed_as_the_same_request(api):
    referral = submitted_referral()
    client = api(referral.submitted_by)
    body = {"reason": "typing_error", "given_name": "Amena"}
    assert correct(client, referral, body, HTTP_IDEMPOTENCY_KEY="correct-2").status_code == 200
    again = correct(client, referral, {**body, "account": "Something new."}, HTTP_IDEMPOTENCY_KEY="correct-2")
    assert again.status_code == 409
    assert again.json()["code"] == "idempotency_key_reused"


def test_the_schema_documents_the_correction(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/referrals/{id}/correct/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in operation["parameters"]}
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][body]
    assert component["required"] == ["reason"]
    assert {"consent", "date_of_birth", "age_in_doubt", "contact_phone"} <= set(component["properties"])
    # Where the person is now, which changes when they move or are moved for their safety.
    assert "Where the person is now" in component["properties"]["region"]["description"]
    assert "exploitation_types" not in component["properties"]
    assert "reason consent_withdrawn" in component["properties"]["consent"]["description"]


def test_the_region_where_the_person_is_now_is_corrected(api):
    case = bring_to("assessed")
    body = {"reason": "new_information", "region": "north_west"}
    response = api(manager()).post(transition_url(case.referral.pk, "correct"), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["region"] == "north_west"
    bad = api(manager()).post(
        transition_url(case.referral.pk, "correct"), {"reason": "other", "region": "atlantis"}, format="json"
    )
    assert bad.status_code == 400 and "region" in bad.json()


def test_the_history_gives_a_provider_only_offered_the_person_a_corrections_fields_not_its_note(api):
    referral, provider, boss = offered()
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="typing_error",
        family_name="Smyth",
        note="Smyth, not Smith",
    )
    url = f"/api/v1/referrals/{referral.pk}/history/"
    [entry] = [e for e in api(provider_user(provider)).get(url).json() if e["transition"] == "correct"]
    assert entry["input"] == {"reason": "typing_error", "fields": ["family_name"]}
    [entry] = [e for e in api(boss).get(url).json() if e["transition"] == "correct"]
    assert entry["input"]["note"] == "Smyth, not Smith"


def test_a_placed_persons_assessment_is_changed_once_they_are_reallocated(api):
    case = bring_to("placed")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "reassess"), {"risk": "high", "route": "outreach"}, format="json"
    )
    assert response.status_code == 409
    assert "reallocate them" in response.json()["detail"]


# The referrer's reason to stop the provider phoning the person, in its own words, which stay its own.
EXPLOITER_HAS_THE_PHONE = "The exploiter took her phone, 07700 900123: Amina must not be called on it."


def test_the_history_gives_the_placed_provider_the_referrers_correction_reason_and_fields_not_its_note(api):
    case = bring_to("placed")
    response = correct(
        api(case.responder),
        case.referral,
        {
            "reason": "new_information",
            "safe_to_contact": False,
            "contact_phone": "",
            "note": EXPLOITER_HAS_THE_PHONE,
        },
    )
    assert response.status_code == 200, response.json()
    url = f"/api/v1/referrals/{case.referral.pk}/history/"
    [entry] = [e for e in api(case.provider_user).get(url).json() if e["transition"] == "correct"]
    assert entry["input"] == {
        "reason": "new_information",
        "fields": ["safe_to_contact", "contact_phone"],
        "contact": "not_safe",
    }
    assert "actor" not in entry  # who referred the person stays the referrer's and the managers' business
    [entry] = [e for e in api(case.manager).get(url).json() if e["transition"] == "correct"]
    assert entry["input"]["note"] == EXPLOITER_HAS_THE_PHONE


def test_the_history_gives_a_provider_only_offered_the_person_the_referrers_correction_fields(api):
    case = bring_to("offered")
    correct(
        api(case.responder),
        case.referral,
        {"reason": "typing_error", "family_name": "Smyth", "note": "Smyth"},
    )
    url = f"/api/v1/referrals/{case.referral.pk}/history/"
    [entry] = [e for e in api(case.provider_user).get(url).json() if e["transition"] == "correct"]
    assert entry["input"] == {"reason": "typing_error", "fields": ["family_name"]}


def test_a_provider_that_never_had_the_case_gets_a_404_for_its_history_after_a_referrers_correction(api):
    case = bring_to("placed")
    correct(
        api(case.responder),
        case.referral,
        {"reason": "new_information", "safe_to_contact": False, "contact_phone": ""},
    )
    stranger = provider_user()
    response = api(stranger).get(f"/api/v1/referrals/{case.referral.pk}/history/")
    assert response.status_code == 404
    assert response.json() == api(stranger).get("/api/v1/referrals/999999999/history/").json()
