"""POST /api/v1/referrals/<id>/reassess/: a new risk and route for a person waiting for a placement."""

import pytest

from referrals.models import Referral
from tests.api.cases import bring_to, transition_url
from tests.factories import responder

pytestmark = pytest.mark.django_db

NEW = {"risk": "high", "route": "outreach", "notes": "Staying with her sister now."}


def reassess(client, referral: Referral, body: dict, **headers):
    return client.post(transition_url(referral.pk, "reassess"), body, format="json", **headers)


def test_a_reassessment_answers_the_referral_with_its_new_route_and_the_history_has_it(api):
    case = bring_to("assessed")
    client = api(case.manager)
    response = reassess(client, case.referral, NEW)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["state"], answer["risk"], answer["route"]) == ("assessed", "high", "outreach")
    assert answer == client.get(f"/api/v1/referrals/{case.referral.pk}/").json()
    entry = client.get(f"/api/v1/referrals/{case.referral.pk}/history/").json()[-1]
    assert (entry["transition"], entry["from_state"], entry["to_state"]) == (
        "reassess",
        "assessed",
        "assessed",
    )
    assert entry["input"] == NEW


def test_suggested_providers_follow_the_new_route(api):
    case = bring_to("assessed")
    client = api(case.manager)
    before = client.get(f"/api/v1/referrals/{case.referral.pk}/suggested-providers/").json()
    assert reassess(client, case.referral, NEW).status_code == 200
    after = client.get(f"/api/v1/referrals/{case.referral.pk}/suggested-providers/").json()
    assert before[0]["free_beds"] is not None  # beds count on the accommodation route
    assert after[0]["free_beds"] is None  # and not on outreach


def test_a_pending_offer_is_a_409_that_says_to_wait(api):
    case = bring_to("offered")
    response = reassess(api(case.manager), case.referral, NEW)
    assert response.status_code == 409
    assert response.json()["code"] == "offer_already_pending"
    assert "Wait for the answer, or for the offer to run out" in response.json()["detail"]
    assert case.refresh().route == "accommodation"


def test_the_same_risk_and_route_is_a_400_nothing_changed(api):
    case = bring_to("assessed")
    response = reassess(api(case.manager), case.referral, {"risk": "medium", "route": "accommodation"})
    assert response.status_code == 400
    assert response.json()["code"] == "assessment_unchanged"
    assert response.json()["detail"].startswith("Nothing changed")
    assert not case.referral.transitions.filter(transition="reassess").exists()


def test_bad_input_is_a_400_with_field_errors(api):
    case = bring_to("assessed")
    response = reassess(api(case.manager), case.referral, {"risk": "extreme"})
    assert response.status_code == 400
    assert set(response.json()) == {"risk", "route"}


def test_not_a_manager_is_403_out_of_scope_404_not_assessed_409(api):
    offered = bring_to("offered")
    assert reassess(api(offered.responder), offered.referral, NEW).status_code == 403
    assert reassess(api(offered.provider_user), offered.referral, NEW).status_code == 403
    assert reassess(api(responder()), offered.referral, NEW).status_code == 404
    received = bring_to("received")
    response = reassess(api(received.manager), received.referral, NEW)
    assert response.status_code == 409
    # In the history's words.
    assert response.json()["detail"] == (
        "A referral that is received cannot have its assessment changed: it may have changed since you loaded it."
    )


def test_a_reassessment_repeated_with_its_idempotency_key_is_made_once(api):
    case = bring_to("assessed")
    client = api(case.manager)
    first = reassess(client, case.referral, NEW, HTTP_IDEMPOTENCY_KEY="reassess-1")
    again = reassess(client, case.referral, NEW, HTTP_IDEMPOTENCY_KEY="reassess-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert case.referral.transitions.filter(transition="reassess").count() == 1


def test_the_schema_documents_the_reassessment(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/referrals/{id}/reassess/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in operation["parameters"]}
    assert "offer awaits its answer" in operation["summary"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][body]
    assert set(component["required"]) == {"risk", "route"}
    assert "Nothing changed" in component["description"]
    history = schema["components"]["schemas"]["HistoryEntry"]["properties"]["transition"]
    assert "reassess" in str(history)


def test_a_pending_offer_is_refused_before_the_body_is_read(api):
    case = bring_to("offered")
    response = reassess(api(case.manager), case.referral, {"risk": "extreme"})
    assert response.status_code == 409
    assert "Wait for the answer" in response.json()["detail"]
