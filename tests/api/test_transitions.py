"""Every transition from every state through the API (SPEC §4), offers and provider need-to-know."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from care_providers.models import CareProvider, OfferState, Placement
from referrals import services
from referrals.api.serializers import NOTE_SENT_TWICE_MESSAGE
from referrals.choices import ReferralState
from referrals.deadlines import add_calendar_days
from referrals.local_time import local_time
from referrals.permissions import TRANSITIONS, missing_child_exit_message
from tests.api.cases import STATES, bring_to, transition_url, valid_body
from tests.factories import CareProviderFactory, birthday_years_ago, placed_since, provider_user

pytestmark = pytest.mark.django_db

LEGAL = {
    "received": {"assess": "assessed", "decline": "declined", "withdraw": "withdrawn", "correct": "received"},
    "assessed": {"withdraw": "withdrawn", "offer": "assessed", "reassess": "assessed", "correct": "assessed"},
    "offered": {
        "withdraw": "withdrawn",
        "accept": "placed",
        "reject": "assessed",
        "revoke_offer": "assessed",
        "correct": "assessed",
    },
    "placed": {
        "correct": "placed",
        "record_progress": "placed",
        "report_missing": "missing",
        "reallocate": "assessed",
        "recover": "recovered",
        "exit": "exited",
    },
    "missing": {"found": "placed", "reallocate": "assessed", "exit": "exited", "correct": "missing"},
    "recovered": {},
    "exited": {},
    "declined": {},
    "withdrawn": {},
}
# Who acts: the role §4 gives the transition. accept, reject and record_progress belong to the provider;
# the rest are done by a manager (withdraw by the referring responder).
PROVIDER_ONLY = {"accept", "reject", "record_progress"}
# The provider has never been offered these cases (or its offer was revoked): it cannot see them.
PROVIDER_NEVER_SAW = {"received", "assessed", "declined", "withdrawn"}


def actor_for(case, transition):
    if transition in PROVIDER_ONLY:
        return case.provider_user
    if transition == "withdraw":
        return case.responder
    return case.manager


def expected_for(state, transition):
    if transition in LEGAL[state]:
        return 200
    if transition in PROVIDER_ONLY and state in PROVIDER_NEVER_SAW:
        return 404
    if transition == "record_progress" and state == "offered":
        return 403  # only a provider with the person placed now may record progress
    return 409


EDGES = [(state, transition) for state in STATES for transition in TRANSITIONS]


@pytest.mark.parametrize(("state", "transition"), EDGES, ids=[f"{s}-{t}" for s, t in EDGES])
def test_every_transition_from_every_state(api, state, transition):
    case = bring_to(state)
    spare = CareProviderFactory()
    before = case.referral.transitions.count()
    response = api(actor_for(case, transition)).post(
        transition_url(case.referral.pk, transition),
        valid_body(transition, provider_id=spare.pk),
        format="json",
    )
    expected = expected_for(state, transition)
    assert response.status_code == expected, response.json()
    referral = case.refresh()
    if expected == 200:
        assert response.json()["state"] == LEGAL[state][transition] == referral.state
        last = referral.transitions.order_by("-at", "-id").first()
        assert last.transition == transition
        history = api(case.manager).get(f"/api/v1/referrals/{referral.pk}/history/").json()
        assert history[-1]["transition"] == transition
        assert history[-1]["to_state"] == referral.state
    else:
        assert referral.transitions.count() == before
    if expected == 409:
        assert response.json()["detail"]


def test_history_is_chronological_with_actor_and_input(api):
    case = bring_to("placed")
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert [entry["transition"] for entry in history] == ["submit", "assess", "offer", "accept"]
    assess = history[1]
    assert assess["from_state"] == "received" and assess["to_state"] == "assessed"
    assert assess["actor"]["username"] == case.manager.username
    assert assess["actor"]["organisation"]["id"] == case.manager.organisation_id
    assert assess["input"]["route"] == "accommodation"
    assert history == sorted(history, key=lambda entry: entry["at"])


def test_history_shows_harbour_itself_as_a_null_actor(api):
    case = bring_to("offered")
    offer = case.referral.offers.get()
    assert services.expire_offer(offer_id=offer.pk)
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert history[-1]["transition"] == "expire_offer"
    assert history[-1]["actor"] is None


# ----------------------------------------------------------------------------------------- offers


def offer(api, case, provider_id):
    return api(case.manager).post(
        transition_url(case.referral.pk, "offer"), {"provider": provider_id}, format="json"
    )


def test_offer_answers_the_referral_with_its_pending_offer_and_deadline(api):
    case = bring_to("assessed")
    response = offer(api, case, case.provider.pk)
    assert response.status_code == 200
    body = response.json()
    assert body["pending_offer"]["provider"] == case.provider.pk
    assert body["pending_offer"]["response_due_at"]
    assert "offer_response" in {deadline["clock"] for deadline in body["deadlines"]}


SAFETY_NOTE = "Trafficker found her last address: never give it out. Needs a GP for diabetes."


def test_the_offered_provider_reads_the_managers_note_with_the_offer_before_and_after_it_accepts(api):
    case = bring_to("assessed")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "offer"),
        {"provider": case.provider.pk, "note": SAFETY_NOTE},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["pending_offer"]["note"] == SAFETY_NOTE
    provider = api(case.provider_user)
    case_url, history_url = (
        f"/api/v1/referrals/{case.referral.pk}/",
        f"/api/v1/referrals/{case.referral.pk}/history/",
    )
    assert provider.get(case_url).json()["pending_offer"]["note"] == SAFETY_NOTE
    [offered] = [entry for entry in provider.get(history_url).json() if entry["transition"] == "offer"]
    assert offered["input"] == {"provider": case.provider.pk, "note": SAFETY_NOTE}
    assert provider.post(transition_url(case.referral.pk, "accept"), {}, format="json").status_code == 200
    [offered] = [entry for entry in provider.get(history_url).json() if entry["transition"] == "offer"]
    assert offered["input"]["note"] == SAFETY_NOTE


def test_the_provider_the_person_moves_to_never_reads_the_note_made_for_the_one_before(api):
    case = bring_to("assessed")
    services.offer_placement(
        referral_id=case.referral.pk, actor=case.manager, provider_id=case.provider.pk, note=SAFETY_NOTE
    )
    services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")
    taking = CareProviderFactory()
    services.offer_placement(
        referral_id=case.referral.pk, actor=case.manager, provider_id=taking.pk, note="Keep her phone off."
    )
    client = api(provider_user(taking))
    seen = client.get(f"/api/v1/referrals/{case.referral.pk}/").content.decode()
    seen += client.get(f"/api/v1/referrals/{case.referral.pk}/history/").content.decode()
    assert "Keep her phone off." in seen
    assert "Trafficker" not in seen


def test_an_offers_note_longer_than_any_note_is_a_400_on_note(api):
    case = bring_to("assessed")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "offer"),
        {"provider": case.provider.pk, "note": "x" * 5001},
        format="json",
    )
    assert response.status_code == 400
    assert "note" in response.json()
    assert not case.referral.offers.exists()


@pytest.mark.parametrize(
    ("provider_kwargs", "referral_kwargs", "says"),
    [
        ({"beds_women": 0}, {}, "does not have any beds for women"),
        ({"regions": ["scotland"]}, {"region": "london"}, "region"),
        ({"supports_children": False}, {"date_of_birth": None, "age_estimate": 15}, "children"),
        ({"services": ["outreach"]}, {}, "outreach only"),
    ],
    ids=["no-bed-of-that-kind", "region-not-served", "child-without-child-support", "outreach-only"],
)
def test_an_offer_the_provider_cannot_take_is_a_400_on_provider_with_the_reason(
    api, provider_kwargs, referral_kwargs, says
):
    case = bring_to("assessed", **referral_kwargs)
    unsuitable = CareProviderFactory(**provider_kwargs)
    response = offer(api, case, unsuitable.pk)
    assert response.status_code == 400
    assert says in response.json()["provider"][0]
    assert not case.referral.offers.exists()


@pytest.mark.parametrize(
    ("change", "says"),
    [({"supports_children": False}, "does not support children"), ({"regions": ["scotland"]}, "region")],
    ids=["children-no-longer-supported", "region-no-longer-served"],
)
def test_accepting_an_offer_the_provider_can_no_longer_take_is_a_409_and_the_offer_stays_pending(
    api, change, says
):
    case = bring_to("offered", date_of_birth=None, age_estimate=15, consent=False, region="london")
    CareProvider.objects.filter(pk=case.provider.pk).update(**change)
    response = api(case.provider_user).post(transition_url(case.referral.pk, "accept"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "provider_no_longer_suitable"
    assert response.json()["detail"].startswith("This offer can no longer be accepted: ")
    assert says in response.json()["detail"]
    assert case.refresh().state == "assessed"
    assert case.referral.offers.get().state == OfferState.PENDING
    assert not Placement.objects.filter(referral=case.referral).exists()


def test_an_offer_to_no_such_provider_is_a_400_on_provider(api):
    case = bring_to("assessed")
    response = offer(api, case, 987654)
    assert response.status_code == 400
    assert "provider" in response.json()


def test_a_second_offer_while_one_is_pending_is_a_409(api):
    case = bring_to("offered")
    response = offer(api, case, CareProviderFactory().pk)
    assert response.status_code == 409
    assert case.referral.offers.filter(state=OfferState.PENDING).count() == 1
    pending = case.referral.offers.get(state=OfferState.PENDING)
    assert f"pending offer with {pending.provider.name}; its answer is due at" in str(response.json())


def test_an_offer_for_a_person_reallocated_while_missing_is_a_409_until_they_are_found(api):
    case = bring_to("missing")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")
    response = offer(api, case, case.provider.pk)
    assert response.status_code == 409
    assert "still missing: record that they are found" in str(response.json())
    assert not case.referral.offers.filter(state=OfferState.PENDING).exists()
    found = api(case.manager).post(transition_url(case.referral.pk, "found"), {}, format="json")
    assert found.status_code == 200
    assert offer(api, case, case.provider.pk).status_code == 200


def test_nobody_withdraws_a_referral_reallocated_while_the_person_is_missing_until_they_are_found(api):
    case = bring_to("missing", **CHILD)
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.manager, reason="safety_concern")
    url = transition_url(pk, "withdraw")
    for user, instead in (
        (case.responder, "phone the managers on 020 7946 0321, who record their exit from support"),
        (case.manager, "record their exit from support instead"),
    ):
        refused = api(user).post(url, {"reason": "referred_elsewhere"}, format="json")
        assert refused.status_code == 409
        assert refused.json() == {
            "detail": services.withdraw_while_missing_message(user),
            "code": "person_still_missing",
        }
        assert instead in refused.json()["detail"]
        # Still escalated, and still counted among the missing.
        assert case.refresh().state == "assessed" and case.referral.still_missing()
    assert api(case.manager).post(transition_url(pk, "found"), {}, format="json").status_code == 200
    withdrawn = api(case.responder).post(url, {"reason": "referred_elsewhere"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"


def test_withdrawal_revokes_the_pending_offer_and_ends_the_providers_access(api):
    case = bring_to("offered")
    response = api(case.responder).post(
        transition_url(case.referral.pk, "withdraw"), valid_body("withdraw"), format="json"
    )
    assert response.status_code == 200
    assert case.referral.offers.get().state == OfferState.REVOKED
    assert api(case.provider_user).get(f"/api/v1/referrals/{case.referral.pk}/").status_code == 404


@pytest.mark.parametrize("state", ["received", "offered"])
def test_a_childs_referral_is_not_withdrawn_because_consent_was_withdrawn(api, state):
    case = bring_to(state, date_of_birth=None, age_estimate=15, consent=False)
    url = transition_url(case.referral.pk, "withdraw")
    response = api(case.responder).post(url, {"reason": "consent_withdrawn"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"reason": [services.CHILD_CONSENT_WITHDRAWN_MESSAGE]}
    assert "needs no consent" in services.CHILD_CONSENT_WITHDRAWN_MESSAGE
    assert "Referred elsewhere" in services.CHILD_CONSENT_WITHDRAWN_MESSAGE
    assert case.refresh().state == ("received" if state == "received" else "assessed")
    assert not case.referral.transitions.filter(transition="withdraw").exists()
    assert not case.referral.offers.exclude(state=OfferState.PENDING).exists()
    referred = api(case.responder).post(url, {"reason": "referred_elsewhere"}, format="json")
    assert referred.status_code == 200
    assert referred.json()["state"] == "withdrawn"


def test_reallocation_frees_the_bed_and_leaves_no_pending_offer(api):
    case = bring_to("placed")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "reallocate"), valid_body("reallocate"), format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "assessed" and body["placement"] is None and body["pending_offer"] is None
    assert not Placement.objects.filter(referral=case.referral, ended_at__isnull=True).exists()
    assert not case.referral.offers.filter(state=OfferState.PENDING).exists()
    # A new offer can be made straight away.
    assert offer(api, case, CareProviderFactory().pk).status_code == 200


def test_a_rejected_offer_frees_the_referral_for_another_offer(api):
    case = bring_to("offered")
    rejected = api(case.provider_user).post(
        transition_url(case.referral.pk, "reject"), valid_body("reject"), format="json"
    )
    assert rejected.status_code == 200
    assert case.referral.offers.get().reject_reason == "no_capacity"
    assert offer(api, case, CareProviderFactory().pk).status_code == 200


# ------------------------------------------------------------------------- provider need to know

HIDDEN_FROM_PROVIDERS = {"account", "crime_reference", "responder_reference", "aliases", "organisation"}
IDENTITY = {
    "given_name",
    "family_name",
    "date_of_birth",
    "contact_phone",
    "local_authority",
    "local_authority_contact",
}


def detail(api, user, referral):
    return api(user).get(f"/api/v1/referrals/{referral.pk}/")


@pytest.mark.parametrize("ending", ["reject", "expire", "revoke"])
def test_a_rejected_expired_or_revoked_offer_ends_the_providers_access(api, ending):
    case = bring_to("offered", crime_reference="CR-1", responder_reference="RR-1", aliases="Ami")
    assert detail(api, case.provider_user, case.referral).status_code == 200
    if ending == "reject":
        services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="unsuitable")
    elif ending == "expire":
        services.expire_offer(offer_id=case.referral.offers.get().pk)
    else:
        services.withdraw_referral(referral_id=case.referral.pk, actor=case.manager, reason="duplicate")
    client = api(case.provider_user)
    for path in ("", "history/"):
        assert client.get(f"/api/v1/referrals/{case.referral.pk}/{path}").status_code == 404
    listed = client.get("/api/v1/referrals/").json()
    assert listed["count"] == 0


@pytest.mark.parametrize(
    ("ending", "answer", "said"),
    [
        ("expire", "reject", "ran out unanswered at {due}; the managers will look for another placement."),
        ("expire", "accept", "ran out unanswered at {due}; the managers will look for another placement."),
        ("withdraw", "accept", "was withdrawn at {withdrawn}, because the referral was withdrawn."),
        ("reject", "accept", "was rejected by {colleague} at {answered}."),
    ],
)
def test_an_answer_to_an_offer_ended_unaccepted_out_of_sight_is_a_409_saying_how_it_ended(
    api, ending, answer, said
):
    case = bring_to(
        "offered", given_name="Merhawit", family_name="Tran", contact_phone="07700 900456", aliases="Ami"
    )
    colleague = provider_user(case.provider)
    if ending == "expire":
        services.expire_offer(offer_id=case.referral.offers.get().pk)
    elif ending == "withdraw":
        services.withdraw_referral(
            referral_id=case.referral.pk, actor=case.responder, reason="other", note="Moved to Leeds."
        )
    else:
        services.reject_offer(referral_id=case.referral.pk, actor=colleague, reason="safety_concern")
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, answer), valid_body(answer), format="json"
    )
    assert response.status_code == 409
    offer = case.referral.offers.get()
    withdrawn = case.referral.transitions.filter(transition="withdraw").values_list("at", flat=True).first()
    moment = "%H:%M on %-d %B %Y"
    words = said.format(
        due=local_time(offer.response_due_at, moment),
        withdrawn=withdrawn and local_time(withdrawn, moment),
        colleague=colleague.username,
        answered=offer.responded_at and local_time(offer.responded_at, moment),
    )
    assert response.json() == {
        "detail": f"Your answer was not recorded. The placement offer for {case.referral.reference} {words} "
        "Nothing more is needed from you.",
        "code": "offer_not_pending",
    }
    for personal in ("Merhawit", "Tran", "Ami", "900456", "1995", "Leeds", "afety", "car wash"):
        assert personal not in response.content.decode()
    assert detail(api, case.provider_user, case.referral).status_code == 404
    assert not case.referral.transitions.filter(transition="accept").exists()


@pytest.mark.parametrize("transition", ["reject", "reallocate"])
def test_a_provider_whose_action_ends_its_sight_of_the_case_is_answered_with_the_outcome_only(
    api, transition
):
    case = bring_to("offered" if transition == "reject" else "placed")
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, transition), valid_body(transition), format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": case.referral.pk,
        "reference": case.referral.reference,
        "state": "assessed",
    }


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_an_offer_past_its_response_time_cannot_be_answered_before_the_sweep_expires_it(api, answer):
    case = bring_to("offered")
    case.referral.offers.update(response_due_at=timezone.now() - timezone.timedelta(minutes=1))
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, answer), valid_body(answer), format="json"
    )
    assert response.status_code == 409
    due = local_time(case.referral.offers.get().response_due_at, "%H:%M on %-d %B %Y")
    assert response.json()["detail"] == (
        f"This offer ran out unanswered at {due}; the managers will look for another placement."
    )
    assert case.refresh().state == ReferralState.ASSESSED
    assert case.referral.offers.get().state == OfferState.PENDING
    assert not Placement.objects.filter(referral=case.referral).exists()


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_answering_an_offer_a_colleague_accepted_says_who_accepted_it_and_when(api, answer):
    case = bring_to("offered")
    colleague = provider_user(case.provider)
    services.accept_offer(referral_id=case.referral.pk, actor=colleague)
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, answer),
        {"reason": "safety_concern", "note": "Her trafficker lives nearby."},
        format="json",
    )
    assert response.status_code == 409
    accepted_at = local_time(case.referral.offers.get().responded_at, "%H:%M on %-d %B")
    assert response.json()["detail"] == (
        f"This offer was accepted by {colleague.username} at {accepted_at}: the person is placed with you."
    )
    assert not case.referral.transitions.filter(transition="reject").exists()


def test_a_new_offer_expires_the_one_past_its_answer_time_without_waiting_for_the_sweep(api):
    case = bring_to("offered")
    late = case.referral.offers.get()
    case.referral.offers.update(response_due_at=timezone.now() - timezone.timedelta(minutes=1))
    other = CareProviderFactory()
    response = api(case.manager).post(
        transition_url(case.referral.pk, "offer"), {"provider": other.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["pending_offer"]["provider"] == other.pk
    late.refresh_from_db()
    assert late.state == OfferState.EXPIRED
    history = [
        row["transition"]
        for row in api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    ]
    assert history[-2:] == ["expire_offer", "offer"]
    # The late offer's answer clock is stopped; the sweep, coming after, finds nothing to expire.
    assert [
        clock.offer_id
        for clock in case.referral.deadlines.filter(clock="offer_response", stopped_at__isnull=True)
    ] == [case.referral.offers.get(state=OfferState.PENDING).pk]
    assert not services.expire_offer(offer_id=late.pk)
    # The new provider sees how the case came to it, and from its own offer on: not the other's expiry.
    seen = api(provider_user(other)).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert [row["transition"] for row in seen] == ["submit", "assess", "offer"]


@pytest.mark.parametrize("state", ["offered", "placed", "missing"])
def test_a_provider_sees_the_case_without_the_responders_account_and_references(api, state):
    case = bring_to(
        state, crime_reference="CR-1", responder_reference="RR-1", aliases="Ami", account="Seen at…"
    )
    body = detail(api, case.provider_user, case.referral).json()
    assert HIDDEN_FROM_PROVIDERS.isdisjoint(body)
    if state == "offered":  # who the person is comes with taking them, not with the offer
        assert IDENTITY.isdisjoint(body)
    else:
        assert body["given_name"] == "Amina" and set(body) >= IDENTITY
    listed = api(case.provider_user).get("/api/v1/referrals/").json()["results"]
    assert HIDDEN_FROM_PROVIDERS.isdisjoint(listed[0])
    # Managers and the referring organisation see everything.
    for user in (case.manager, case.responder):
        full = detail(api, user, case.referral).json()
        assert full["crime_reference"] == "CR-1" and full["aliases"] == "Ami"


# A birthday yesterday, today and tomorrow: 36 years old then.
AGES_AROUND_A_BIRTHDAY = [(-1, 36), (0, 36), (1, 35)]


@pytest.mark.parametrize(("days_to_birthday", "age"), AGES_AROUND_A_BIRTHDAY)
def test_a_provider_offered_the_person_gets_their_age_today_but_not_their_date_of_birth(
    api, days_to_birthday, age
):
    date_of_birth = birthday_years_ago(36, days_from_today=days_to_birthday)
    case = bring_to("offered", date_of_birth=date_of_birth, age_estimate=None)
    client = api(case.provider_user)
    offered = client.get(f"/api/v1/referrals/{case.referral.pk}/").json()
    listed = client.get("/api/v1/referrals/").json()["results"][0]
    for body in (offered, listed):
        assert body["age"] == age and body["age_estimate"] is None
        assert "date_of_birth" not in body
    accepted = client.post(transition_url(case.referral.pk, "accept"), {}, format="json").json()
    assert accepted["age"] == age and accepted["date_of_birth"] == date_of_birth.isoformat()


def test_the_age_is_null_without_a_date_of_birth(api):
    case = bring_to("offered", date_of_birth=None, age_estimate=30)
    for user in (case.provider_user, case.manager):
        body = detail(api, user, case.referral).json()
        assert body["age"] is None and body["age_estimate"] == 30


@pytest.mark.parametrize("state", ["recovered", "exited"])
def test_a_past_placement_is_readable_but_no_longer_actionable(api, state):
    case = bring_to(state)
    client = api(case.provider_user)
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/").status_code == 200
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/history/").status_code == 200
    for transition in TRANSITIONS:
        response = client.post(
            transition_url(case.referral.pk, transition), valid_body(transition, provider_id=1), format="json"
        )
        assert response.status_code in (403, 409), (transition, response.status_code)
    assert case.refresh().state == state


@pytest.mark.parametrize(
    ("closing", "words"),
    [("recover", "Their recovery was recorded at"), ("exit", "Their exit from support was recorded at")],
)
def test_the_provider_a_case_closed_from_hears_it_closed_and_when_not_that_it_may_not(api, closing, words):
    case = bring_to("placed")
    services.perform_transition(
        closing, referral_id=case.referral.pk, actor=case.manager, **valid_body(closing)
    )
    closed_at = case.refresh().closed_at
    client = api(case.provider_user)
    for transition in ("record_progress", "report_missing", "found", "reallocate", "recover", "exit"):
        response = client.post(
            transition_url(case.referral.pk, transition), valid_body(transition), format="json"
        )
        assert response.status_code == 409, (transition, response.json())
        assert response.json()["code"] == "transition_not_allowed"
        detail = response.json()["detail"]
        assert f"{words} {local_time(closed_at, '%H:%M on %-d %B %Y')}, closing the case" in detail
    assert client.post(transition_url(case.referral.pk, "correct"), {}, format="json").status_code == 403
    managers = api(case.manager).post(
        transition_url(case.referral.pk, "exit"), valid_body("exit"), format="json"
    )
    assert managers.status_code == 409 and f"{words} " in managers.json()["detail"]


def test_a_provider_whose_placement_was_reallocated_no_longer_sees_the_case(api):
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    other = CareProviderFactory()
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=other.pk)
    client = api(case.provider_user)
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/").status_code == 404
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/history/").status_code == 404
    assert client.get("/api/v1/referrals/").json()["count"] == 0
    response = client.post(transition_url(case.referral.pk, "accept"), {}, format="json")
    assert response.status_code == 404


def test_deadlines_list_the_open_clocks_with_due_times(api):
    case = bring_to("placed")
    body = detail(api, case.manager, case.referral).json()
    clocks = {deadline["clock"]: deadline["due_at"] for deadline in body["deadlines"]}
    assert set(clocks) == {"check_in", "recovery_review"}
    assert all(clocks.values())
    assert body["placement"]["provider"] == case.provider.pk


def test_a_missing_persons_deadline_gives_when_they_were_last_seen_as_well_as_the_next_escalation(api):
    case = bring_to("placed")
    last_seen = timezone.now() - datetime.timedelta(hours=30)
    placed_since(case.referral, last_seen)  # placed before they went
    services.report_missing(referral_id=case.referral.pk, actor=case.provider_user, last_seen_at=last_seen)
    body = detail(api, case.manager, case.referral).json()
    (missing,) = [deadline for deadline in body["deadlines"] if deadline["clock"] == "missing"]
    assert datetime.datetime.fromisoformat(missing["started_at"]) == last_seen
    assert datetime.datetime.fromisoformat(missing["due_at"]) > timezone.now()


def test_a_missing_persons_recovery_review_is_listed_paused_with_its_time_left_not_dropped(api):
    case = bring_to("missing")
    review = case.referral.deadlines.get(clock="recovery_review")
    case.referral.deadlines.filter(pk=review.pk).update(
        due_at=review.stopped_at + datetime.timedelta(days=12)
    )
    for user in (case.manager, case.provider_user, case.responder):
        listed = api(user).get("/api/v1/referrals/").json()["results"][0]["deadlines"]
        assert listed == detail(api, user, case.referral).json()["deadlines"]
        assert [(d["clock"], d["paused"]) for d in listed] == [("missing", False), ("recovery_review", True)]
        assert (listed[1]["due_at"], listed[1]["time_left_hours"]) == (None, 288.0)
    deadline = api().get("/api/v1/schema/?format=json").json()["components"]["schemas"]["Deadline"]
    assert {"paused", "time_left_hours"} <= set(deadline["properties"])
    assert deadline["properties"]["due_at"]["nullable"] is True


def test_report_missing_refuses_a_time_in_the_future(api):
    case = bring_to("placed")
    later = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "report_missing"), {"last_seen_at": later}, format="json"
    )
    assert response.status_code == 400
    assert "last_seen_at" in response.json()


def test_report_missing_refuses_a_time_before_the_person_was_last_recorded_as_found(api):
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=4))
    services.report_missing(
        referral_id=case.referral.pk,
        actor=case.provider_user,
        last_seen_at=timezone.now() - datetime.timedelta(days=3),
    )
    services.mark_found(referral_id=case.referral.pk, actor=case.provider_user)
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "report_missing"),
        {"last_seen_at": (timezone.now() - datetime.timedelta(days=2)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "before they were recorded as found, at" in response.json()["last_seen_at"][0]


def test_report_missing_refuses_a_time_before_the_placement_began(api):
    case = bring_to("placed")  # placed just now: missing two days before they arrived cannot be
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "report_missing"),
        {"last_seen_at": (timezone.now() - datetime.timedelta(days=2)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "before their placement began" in response.json()["last_seen_at"][0]
    case.referral.refresh_from_db()
    assert case.referral.state == "placed"
    assert not case.referral.transitions.filter(transition="report_missing").exists()


def _missing_with_check_in_on(api, day: datetime.date):
    """Placed, a progress note through the API setting the next check-in for ``day``, then missing."""
    case = bring_to("placed")
    noted = api(case.provider_user).post(
        transition_url(case.referral.pk, "record_progress"),
        {"note": "Settling in", "next_check_in": day.isoformat()},
        format="json",
    )
    assert noted.status_code == 200
    services.report_missing(
        referral_id=case.referral.pk, actor=case.provider_user, last_seen_at=timezone.now()
    )
    return case


def _check_in_due(body: dict) -> datetime.datetime:
    (due,) = [deadline["due_at"] for deadline in body["deadlines"] if deadline["clock"] == "check_in"]
    return datetime.datetime.fromisoformat(due)


def _at_check_in_time(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(17, 0)))


def test_found_keeps_the_check_in_the_provider_set_before_the_person_went_missing(api):
    chosen = timezone.localdate() + datetime.timedelta(days=2)
    case = _missing_with_check_in_on(api, chosen)
    response = api(case.provider_user).post(transition_url(case.referral.pk, "found"), {}, format="json")
    assert response.status_code == 200
    assert _check_in_due(response.json()) == _at_check_in_time(chosen)
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    (found,) = [entry for entry in history if entry["transition"] == "found"]
    assert datetime.datetime.fromisoformat(found["input"]["check_in_due"]) == _at_check_in_time(chosen)


def test_found_after_the_check_in_fell_due_starts_the_usual_interval(api):
    case = _missing_with_check_in_on(api, timezone.localdate() + datetime.timedelta(days=2))
    case.referral.deadlines.filter(clock="check_in").update(
        due_at=timezone.now() - datetime.timedelta(hours=1)
    )
    before = timezone.now()
    response = api(case.manager).post(transition_url(case.referral.pk, "found"), {}, format="json")
    assert response.status_code == 200
    due = _check_in_due(response.json())
    # Calendar days at the same local time: 6 days 23 hours across the spring clock change.
    days = settings.DEADLINE_CHECK_IN_DAYS
    assert add_calendar_days(before, days) <= due <= add_calendar_days(timezone.now(), days)


def test_found_with_a_next_check_in_sets_it_and_refuses_a_day_past_as_the_progress_note_does(api):
    case = _missing_with_check_in_on(api, timezone.localdate() + datetime.timedelta(days=2))
    url = transition_url(case.referral.pk, "found")
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    refused = api(case.provider_user).post(url, {"next_check_in": yesterday}, format="json")
    assert refused.status_code == 400
    assert refused.json()["next_check_in"][0].startswith("Choose a next check-in from")
    assert case.refresh().state == ReferralState.MISSING
    chosen = timezone.localdate() + datetime.timedelta(days=5)
    response = api(case.provider_user).post(url, {"next_check_in": chosen.isoformat()}, format="json")
    assert response.status_code == 200
    assert _check_in_due(response.json()) == _at_check_in_time(chosen)


def test_found_refuses_a_next_check_in_for_a_person_reallocated_while_missing(api):
    case = bring_to("missing")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="safety_concern")
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    url = transition_url(case.referral.pk, "found")
    response = api(case.manager).post(url, {"next_check_in": tomorrow}, format="json")
    assert response.status_code == 400
    assert response.json()["next_check_in"] == [services.NO_CHECK_IN_WITHOUT_PLACEMENT]
    assert case.referral.still_missing()
    assert api(case.manager).post(url, {"next_check_in": None}, format="json").status_code == 200


CHILD = {"date_of_birth": None, "age_estimate": 15, "consent": False}


def test_only_a_manager_closes_a_missing_childs_case(api):
    case = bring_to("missing", **CHILD)
    url = transition_url(case.referral.pk, "exit")
    refused = api(case.provider_user).post(url, valid_body("exit"), format="json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": missing_child_exit_message(), "code": "not_permitted"}
    assert "phone the managers on 020 7946 0321" in refused.json()["detail"]
    assert case.refresh().state == "missing"
    assert case.referral.deadlines.filter(clock="missing", stopped_at__isnull=True).exists()
    closed = api(case.manager).post(url, valid_body("exit"), format="json")
    assert closed.status_code == 200
    assert closed.json()["state"] == "exited"


@pytest.mark.parametrize(("state", "child"), [("missing", False), ("placed", True)])
def test_the_placed_provider_still_records_an_exit_of_a_missing_adult_or_a_placed_child(api, state, child):
    case = bring_to(state, **(CHILD if child else {}))
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "exit"), valid_body("exit"), format="json"
    )
    assert response.status_code == 200
    assert case.refresh().state == "exited"


def test_bad_transition_input_is_a_400_naming_the_field(api):
    case = bring_to("received")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "assess"),
        {"risk": "extreme", "route": "accommodation"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"risk"}
    assert case.refresh().state == "received"


# ------------------------------------------------------------------------ the assessment's note

ASSESSMENTS = {
    "assess": ("received", {"risk": "high", "route": "accommodation"}),
    "reassess": ("assessed", {"risk": "high", "route": "outreach"}),
}
SAFEGUARDING_NOTE = "Do not place near Leeds: the trafficker lives there."


def assessment_recorded(api, transition, body):
    state, assessment = ASSESSMENTS[transition]
    case = bring_to(state)
    client = api(case.manager)
    response = client.post(
        transition_url(case.referral.pk, transition), {**assessment, **body}, format="json"
    )
    history = client.get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    return case, response, [entry for entry in history if entry["transition"] == transition]


@pytest.mark.parametrize("transition", ASSESSMENTS)
@pytest.mark.parametrize("name", ["note", "notes"])
def test_an_assessment_keeps_its_note_sent_as_note_like_every_transition_or_as_notes_as_before(
    api, transition, name
):
    _, response, (entry,) = assessment_recorded(api, transition, {name: SAFEGUARDING_NOTE})
    assert response.status_code == 200, response.json()
    assert entry["input"]["notes"] == SAFEGUARDING_NOTE


@pytest.mark.parametrize("transition", ASSESSMENTS)
def test_an_assessment_takes_the_same_note_under_both_names(api, transition):
    _, response, (entry,) = assessment_recorded(
        api, transition, {"note": SAFEGUARDING_NOTE, "notes": f"{SAFEGUARDING_NOTE} "}
    )
    assert response.status_code == 200, response.json()
    assert entry["input"]["notes"] == SAFEGUARDING_NOTE


@pytest.mark.parametrize("transition", ASSESSMENTS)
@pytest.mark.parametrize("blank", ["note", "notes"])
def test_an_assessment_takes_the_note_given_beside_the_other_name_left_blank(api, transition, blank):
    (given,) = {"note", "notes"} - {blank}
    _, response, (entry,) = assessment_recorded(api, transition, {given: SAFEGUARDING_NOTE, blank: ""})
    assert response.status_code == 200, response.json()
    assert entry["input"]["notes"] == SAFEGUARDING_NOTE


@pytest.mark.parametrize("transition", ASSESSMENTS)
def test_an_assessment_with_two_different_notes_is_a_400_and_changes_nothing(api, transition):
    case, response, entries = assessment_recorded(
        api, transition, {"note": SAFEGUARDING_NOTE, "notes": "Needs a safe house today."}
    )
    assert response.status_code == 400
    assert response.json() == {"notes": [NOTE_SENT_TWICE_MESSAGE]}
    assert entries == []
    assert case.refresh().state == ASSESSMENTS[transition][0]


def test_the_schema_gives_the_assessments_note_as_note_and_notes_as_deprecated(api):
    schemas = api().get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    for component in ("AssessInputRequest", "ReassessInputRequest"):
        properties = schemas[component]["properties"]
        assert "deprecated" not in properties["note"], component
        assert properties["notes"]["deprecated"] is True, component
        assert properties["notes"]["description"].startswith("Deprecated: the old name of note"), component


def test_a_state_conflict_is_reported_before_bad_input(api):
    case = bring_to("placed")
    response = api(case.manager).post(
        transition_url(case.referral.pk, "assess"), {"risk": "?"}, format="json"
    )
    assert response.status_code == 409


def test_a_provider_sees_how_the_case_came_to_it_but_not_other_providers_offers_or_placements(api):
    case = bring_to("placed")
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    refusing, taking = CareProviderFactory(), CareProviderFactory()
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=refusing.pk)
    services.reject_offer(referral_id=case.referral.pk, actor=provider_user(refusing), reason="no_capacity")
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=taking.pk)
    url = f"/api/v1/referrals/{case.referral.pk}/history/"
    seen = api(provider_user(taking)).get(url).json()
    assert [entry["transition"] for entry in seen] == ["submit", "assess", "offer"]
    # How the case came to it, without the managers' inputs (the assessment); theirs from its offer on.
    assert ["input" in entry for entry in seen] == [False, False, True]
    assert seen[2]["input"] == {"provider": taking.pk, "note": ""}
    assert "actor" not in seen[0]  # who referred the person is not the provider's business
    assert seen[1]["actor"]["username"] == case.manager.username
    everything = api(case.manager).get(url).json()
    assert [entry["transition"] for entry in everything] == [
        "submit",
        "assess",
        "offer",
        "accept",
        "reallocate",
        "offer",
        "reject",
        "offer",
    ]


def test_a_progress_note_meets_the_recovery_review_only_once_the_review_is_near(api):
    case = bring_to("placed")
    url = transition_url(case.referral.pk, "record_progress")
    body = {"note": "Settling in.", "recovery_review": True}
    client = api(case.provider_user)
    early = client.post(url, body, format="json")
    assert early.status_code == 400
    review = case.referral.deadlines.get(clock="recovery_review")
    recorded_from = f"can be recorded from {local_time(review.met_from, '%H:%M on %-d %B')}."
    assert recorded_from in early.json()["recovery_review"][0]
    assert early.json()["recovery_review"][0].endswith(
        "Send this note with recovery_review false, or leave it out."
    )
    assert "tick" not in early.json()["recovery_review"][0]
    assert review.stopped_at is None

    review.remind_at = timezone.now() - datetime.timedelta(minutes=1)
    review.save(update_fields=["remind_at"])
    assert client.post(url, body, format="json").status_code == 200
    review.refresh_from_db()
    assert review.stopped_at is not None
    again = client.post(url, body, format="json")
    assert again.status_code == 400
    assert again.json()["recovery_review"] == ["This placement has no recovery review waiting."]


@pytest.mark.parametrize("note", ["", "   \n  "])
def test_a_progress_note_of_spaces_alone_is_refused_as_the_web_form_refuses_it(api, note):
    case = bring_to("placed")
    check_in = case.referral.deadlines.get(clock="check_in", stopped_at=None)
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "record_progress"), {"note": note}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["note"] == ["Write the progress note."]
    assert case.referral.deadlines.get(clock="check_in", stopped_at=None) == check_in


def test_a_progress_note_records_when_the_provider_last_saw_the_person_and_the_history_gives_it(api):
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=3))
    seen = (timezone.now() - datetime.timedelta(minutes=30)).replace(microsecond=0)
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "record_progress"),
        {"note": "Visited at the house.", "seen_at": seen.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    history = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/history/").json()
    assert history[-1]["transition"] == "record_progress"
    assert datetime.datetime.fromisoformat(history[-1]["input"]["seen_at"]) == seen


@pytest.mark.parametrize(
    ("seen_at", "message"),
    [
        ("next week", "Datetime has wrong format."),
        (datetime.timedelta(days=1), "The time you last saw them cannot be in the future."),
        (datetime.timedelta(days=-2), "Enter when you saw them since their placement began, at "),
    ],
    ids=["not a time", "in the future", "before the placement began"],
)
def test_a_progress_note_with_a_wrong_time_seen_in_person_is_a_400_on_that_field(api, seen_at, message):
    case = bring_to("placed")  # placed just now
    if isinstance(seen_at, datetime.timedelta):
        seen_at = (timezone.now() + seen_at).isoformat()
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "record_progress"),
        {"note": "Visited.", "seen_at": seen_at},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"seen_at"}
    assert response.json()["seen_at"][0].startswith(message)
    assert not case.referral.transitions.filter(transition="record_progress").exists()


def test_report_missing_refuses_a_time_before_the_person_was_recorded_as_seen_in_person(api):
    house = CareProviderFactory(name="Elm House")
    case = bring_to("placed", provider=house)
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=4))
    seen = timezone.now() - datetime.timedelta(days=1)
    services.record_progress(
        referral_id=case.referral.pk, actor=case.provider_user, note="Visited.", seen_at=seen
    )
    url = transition_url(case.referral.pk, "report_missing")
    refused = api(case.manager).post(
        url, {"last_seen_at": (seen - datetime.timedelta(hours=2)).isoformat()}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["last_seen_at"] == [
        f"The person cannot have been last seen before they were recorded as seen in person by Elm House, "
        f"at {local_time(seen, '%H:%M on %-d %B %Y')}: enter when they were last seen since then. If that "
        "time was wrong, Elm House can correct it first with a progress note giving the right time."
    ]
    assert case.refresh().state == "placed"
    accepted = api(case.provider_user).post(
        url, {"last_seen_at": (seen + datetime.timedelta(hours=2)).isoformat()}, format="json"
    )
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "missing"


def test_a_later_progress_note_corrects_a_time_seen_in_person_typed_wrong_as_on_the_web(api):
    case = bring_to("placed")
    placed_since(case.referral, timezone.now() - datetime.timedelta(days=1))
    right = timezone.now() - datetime.timedelta(hours=13)
    for seen in (right + datetime.timedelta(hours=12), right):  # PM for AM, then the right time
        response = api(case.provider_user).post(
            transition_url(case.referral.pk, "record_progress"),
            {"note": "Visited.", "seen_at": seen.isoformat()},
            format="json",
        )
        assert response.status_code == 200, response.json()
    response = api(case.manager).post(
        transition_url(case.referral.pk, "report_missing"),
        {"last_seen_at": (right + datetime.timedelta(minutes=30)).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "missing"


def test_a_blank_progress_note_with_a_time_seen_in_the_future_is_a_400_on_both_fields(api):
    case = bring_to("placed")
    response = api(case.provider_user).post(
        transition_url(case.referral.pk, "record_progress"),
        {"note": "", "seen_at": (timezone.now() + datetime.timedelta(days=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"note", "seen_at"}


# The clocks go back at 02:00 BST on 25 October 2026: 01:00 to 02:00 happens twice, first in BST.
@pytest.mark.parametrize(
    ("transition", "field", "extra"),
    [("report_missing", "last_seen_at", {}), ("record_progress", "seen_at", {"note": "Visited."})],
)
def test_a_time_without_offset_in_the_hour_the_clocks_go_back_is_a_400_asking_for_the_offset(
    api, transition, field, extra
):
    case = bring_to("placed")
    placed_since(case.referral, datetime.datetime(2026, 10, 24, 12, 0, tzinfo=datetime.UTC))
    client, url = api(case.provider_user), transition_url(case.referral.pk, transition)
    response = client.post(url, {field: "2026-10-25T01:30:00", **extra}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [
        "2026-10-25T01:30:00 happened twice, as the clocks went back that night: add its offset from "
        "UTC, +01:00 for the first (BST) or +00:00 for the second (GMT)."
    ]
    assert case.referral.transitions.filter(transition=transition).count() == 0
    response = client.post(url, {field: "2026-10-25T01:30:00+00:00", **extra}, format="json")
    assert response.status_code == 200, response.json()
    at = case.referral.transitions.get(transition=transition).input[field]
    assert datetime.datetime.fromisoformat(at) == datetime.datetime(2026, 10, 25, 1, 30, tzinfo=datetime.UTC)


def test_a_time_without_offset_is_uk_time(api):
    case = bring_to("placed")
    placed_since(case.referral, datetime.datetime(2026, 10, 24, 12, 0, tzinfo=datetime.UTC))
    url = transition_url(case.referral.pk, "report_missing")
    response = api(case.provider_user).post(url, {"last_seen_at": "2026-10-25T00:30:00"}, format="json")
    assert response.status_code == 200, response.json()
    started = case.referral.deadlines.get(clock="missing").started_at
    assert started == datetime.datetime(2026, 10, 24, 23, 30, tzinfo=datetime.UTC)  # BST
