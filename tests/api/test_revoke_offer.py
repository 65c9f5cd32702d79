"""POST /api/v1/referrals/<id>/revoke_offer/: the managers withdraw the pending offer before its answer."""

import datetime

import pytest
from django.utils import timezone

from care_providers.models import OfferState
from referrals import services
from referrals.local_time import local_time
from referrals.models import Referral
from tests.api.cases import bring_to, transition_url
from tests.factories import CareProviderFactory, provider_user, responder

pytestmark = pytest.mark.django_db

BODY = {"reason": "no_answer", "note": "No answer on their duty phone since 02:00."}


def revoke(client, referral: Referral, body: dict | None = None, **headers):
    return client.post(
        transition_url(referral.pk, "revoke_offer"), BODY if body is None else body, format="json", **headers
    )


def test_the_answer_is_the_referral_still_assessed_with_no_offer_pending(api):
    case = bring_to("offered")
    client = api(case.manager)
    response = revoke(client, case.referral)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["state"], answer["pending_offer"]) == ("assessed", None)
    assert {deadline["clock"] for deadline in answer["deadlines"]} == {"placement"}
    assert answer == client.get(f"/api/v1/referrals/{case.referral.pk}/").json()
    entry = client.get(f"/api/v1/referrals/{case.referral.pk}/history/").json()[-1]
    assert (entry["transition"], entry["from_state"], entry["to_state"]) == (
        "revoke_offer",
        "assessed",
        "assessed",
    )
    assert entry["actor"]["username"] == case.manager.username
    assert entry["input"] == {**BODY, "offer": case.referral.offers.get().pk, "provider": case.provider.pk}


def test_a_provider_offered_the_person_again_reads_nothing_of_the_withdrawal(api):
    case = bring_to("offered")
    assert revoke(api(case.manager), case.referral).status_code == 200
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=case.provider.pk)
    history = api(case.provider_user).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert [entry["transition"] for entry in history] == ["submit", "assess", "offer"]
    assert BODY["note"] not in str(history)


def test_a_provider_reads_why_its_offer_was_withdrawn_through_no_endpoint_before_or_after_it_accepts(api):
    case = bring_to("offered")
    unsuitable = {**BODY, "reason": "provider_unsuitable"}
    assert revoke(api(case.manager), case.referral, unsuitable).status_code == 200
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=case.provider.pk)
    client = api(case.provider_user)
    pk = case.referral.pk
    urls = (
        "/api/v1/referrals/",
        f"/api/v1/referrals/{pk}/",
        f"/api/v1/referrals/{pk}/history/",
        "/api/v1/inbox/",
    )
    answers = [client.get(url) for url in urls]
    assert client.post(transition_url(pk, "accept"), {}, format="json").status_code == 200
    answers += [client.get(url) for url in urls]
    for answer in answers:
        assert answer.status_code == 200
        text = answer.content.decode().lower()
        assert "provider_unsuitable" not in text and "provider unsuitable" not in text, answer.request
        assert BODY["note"].lower() not in text
    assert case.referral.reference in answers[0].content.decode()  # the case is listed, reason or not
    # The managers' history keeps it.
    managers = api(case.manager).get(f"/api/v1/referrals/{pk}/history/").json()
    assert [entry["input"]["reason"] for entry in managers if entry["transition"] == "revoke_offer"] == [
        "provider_unsuitable"
    ]


def test_a_new_offer_is_made_at_once(api):
    case = bring_to("offered")
    client = api(case.manager)
    assert revoke(client, case.referral).status_code == 200
    elsewhere = CareProviderFactory()
    response = client.post(
        transition_url(case.referral.pk, "offer"), {"provider": elsewhere.pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["pending_offer"]["provider"] == elsewhere.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "changed_my_mind"}, "reason"),
        ({"reason": "other", "note": "x" * 5001}, "note"),
    ],
)
def test_bad_input_is_a_400_on_its_field(api, body, field):
    case = bring_to("offered")
    response = revoke(api(case.manager), case.referral, body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert case.referral.offers.get().state == OfferState.PENDING


def test_other_needs_no_note_as_every_other_reason_of_harbour(api):
    case = bring_to("offered")
    assert revoke(api(case.manager), case.referral, {"reason": "other"}).status_code == 200


@pytest.mark.parametrize("who", ["offered provider", "referrer"])
def test_a_role_that_sees_the_case_but_is_not_a_manager_gets_a_403(api, who):
    case = bring_to("offered")
    user = case.provider_user if who == "offered provider" else case.responder
    response = revoke(api(user), case.referral)
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"
    assert case.referral.offers.get().state == OfferState.PENDING


@pytest.mark.parametrize("who", ["another provider", "another organisation's responder"])
def test_out_of_scope_is_the_404_of_a_case_that_does_not_exist(api, who):
    case = bring_to("offered")
    user = provider_user(CareProviderFactory()) if who == "another provider" else responder()
    response = revoke(api(user), case.referral)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def answer(client, referral: Referral, transition: str = "accept", **headers):
    """The offered provider's answer, as sent from a client that read the offer before."""
    body = {} if transition == "accept" else {"reason": "no_capacity", "note": "Full this week."}
    return client.post(transition_url(referral.pk, transition), body, format="json", **headers)


def test_an_acceptance_sent_after_the_withdrawal_is_a_409_naming_the_case_by_reference_and_when(api):
    case = bring_to("offered", given_name="Merhawit", family_name="Tran")
    client = api(case.provider_user)
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/").status_code == 200  # the offer, read
    assert (
        revoke(
            api(case.manager), case.referral, {"reason": "safety_concern", "note": BODY["note"]}
        ).status_code
        == 200
    )
    response = answer(client, case.referral)
    assert response.status_code == 409
    withdrawn = case.referral.transitions.get(transition="revoke_offer").at
    assert response.json() == {
        "detail": (
            f"Your answer was not recorded. The placement offer for {case.referral.reference} was withdrawn by "
            f"the managers at {local_time(withdrawn, '%H:%M on %-d %B %Y')}. Nothing more is needed from you."
        ),
        "code": "offer_not_pending",
    }
    # Nothing of the person, nor why the managers withdrew it.
    for unsaid in ("Merhawit", "Tran", "afety", BODY["note"]):
        assert unsaid not in response.content.decode()
    # The case itself is no longer the provider's to read.
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/").status_code == 404
    assert case.referral.offers.get().state == OfferState.REVOKED
    assert not case.referral.placements.exists()
    assert not case.referral.transitions.filter(transition="accept").exists()


def test_a_colleague_rejecting_after_the_withdrawal_hears_the_same_and_a_repeat_is_answered_so_again(api):
    case = bring_to("offered")
    assert revoke(api(case.manager), case.referral).status_code == 200
    client = api(provider_user(case.provider))
    first = answer(client, case.referral, "reject", HTTP_IDEMPOTENCY_KEY="reject-1")
    assert first.status_code == 409
    assert first.json()["detail"].startswith(
        f"Your answer was not recorded. The placement offer for {case.referral.reference} was withdrawn by "
        "the managers at "
    )
    again = answer(client, case.referral, "reject", HTTP_IDEMPOTENCY_KEY="reject-1")
    assert (again.status_code, again.json()) == (409, first.json())
    assert not case.referral.transitions.filter(transition="reject").exists()


@pytest.mark.parametrize("who", ["another provider", "another organisation's responder", "no such case"])
def test_an_answer_from_anyone_never_offered_the_person_stays_the_404_of_a_case_that_does_not_exist(api, who):
    case = bring_to("offered")
    assert revoke(api(case.manager), case.referral).status_code == 200
    if who == "no such case":
        response = answer(api(case.provider_user), Referral(pk=case.referral.pk + 10_000))
    else:
        user = provider_user(CareProviderFactory()) if who == "another provider" else responder()
        response = answer(api(user), case.referral)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_the_schema_says_a_late_answer_is_a_409_and_the_case_stays_a_404(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    for transition in ("accept", "reject"):
        operation = schema["paths"][f"/api/v1/referrals/{{id}}/{transition}/"]["post"]
        assert "has since been withdrawn, run out or been rejected" in operation["description"]
        assert "is a 409 that says so" in operation["description"]  # every transition lists a 409
    assert (
        "withdrawn, run out" not in schema["paths"]["/api/v1/referrals/{id}/recover/"]["post"]["description"]
    )


def test_no_pending_offer_is_a_409(api):
    case = bring_to("assessed")
    response = revoke(api(case.manager), case.referral)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This referral has no placement offer to withdraw.",
        "code": "offer_not_pending",
    }


def test_no_pending_offer_is_a_409_before_the_body_is_read(api):
    case = bring_to("assessed")
    response = revoke(api(case.manager), case.referral, {"reason": "changed_my_mind"})
    assert response.status_code == 409


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_an_offer_answered_meanwhile_is_a_409_that_says_so(api, answer):
    case = bring_to("offered")
    if answer == "accept":
        services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    else:
        services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="no_capacity")
    response = revoke(api(case.manager), case.referral)
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"The offer to {case.provider.name} was {answer}ed")
    assert not case.referral.transitions.filter(transition="revoke_offer").exists()


def test_an_offer_past_its_answer_time_is_a_409_pointing_to_a_new_offer(api):
    case = bring_to("offered")
    case.referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    response = revoke(api(case.manager), case.referral)
    assert response.status_code == 409
    assert "make a new offer, which closes it" in response.json()["detail"]


def test_the_offer_meant_may_be_named_and_one_no_longer_pending_withdraws_nothing(api):
    case = bring_to("offered")
    client = api(case.manager)
    first = case.referral.offers.get()
    services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="no_capacity")
    second = services.offer_placement(
        referral_id=case.referral.pk, actor=case.manager, provider_id=CareProviderFactory().pk
    )
    stale = revoke(client, case.referral, {**BODY, "offer": first.pk})
    assert stale.status_code == 409
    assert "nothing was withdrawn" in stale.json()["detail"]
    second.refresh_from_db()
    assert second.state == OfferState.PENDING
    assert revoke(client, case.referral, {**BODY, "offer": second.pk}).status_code == 200
    second.refresh_from_db()
    assert second.state == OfferState.REVOKED


def test_an_offer_of_another_referral_is_a_400(api):
    case, other = bring_to("offered"), bring_to("offered")
    response = revoke(api(case.manager), case.referral, {**BODY, "offer": other.referral.offers.get().pk})
    assert response.status_code == 400
    assert response.json() == {"offer": ["This is not an offer of this referral."]}
    assert case.referral.offers.get().state == OfferState.PENDING


def test_a_repeat_with_the_same_idempotency_key_replays_the_answer_and_withdraws_nothing_more(api):
    case = bring_to("offered")
    client = api(case.manager)
    first = revoke(client, case.referral, HTTP_IDEMPOTENCY_KEY="withdraw-1")
    again = revoke(client, case.referral, HTTP_IDEMPOTENCY_KEY="withdraw-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert case.referral.transitions.filter(transition="revoke_offer").count() == 1


def test_the_schema_documents_the_endpoint_and_its_reasons(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/referrals/{id}/revoke_offer/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    assert "Withdraw the pending offer" in operation["summary"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][body]
    assert fields["required"] == ["reason"]
    reasons = schema["components"]["schemas"][
        fields["properties"]["reason"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    ]
    assert set(reasons["enum"]) == {
        "provider_unsuitable",
        "no_answer",
        "needs_changed",
        "safety_concern",
        "other",
    }
    assert "not why" in fields["properties"]["note"]["description"]
