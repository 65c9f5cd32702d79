"""The Idempotency-Key header on every POST (SPEC §9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest.mock import Mock

import pytest
from django.db import IntegrityError, connection
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken, User
from audit.models import AuditAction, AuditEvent
from idempotency.api import IdempotentPostMixin
from idempotency.models import IdempotencyRecord
from idempotency.services import purge_expired_keys
from notifications.models import InboxItem
from referrals import services
from referrals.models import AnonymousNotification, Referral
from tests.api.cases import bring_to, transition_url, valid_body
from tests.api.test_transitions import LEGAL, actor_for
from tests.factories import (
    PASSWORD,
    CareProviderFactory,
    OrganisationFactory,
    provider_user,
    referral_fields,
    responder,
    submitted_referral,
)

pytestmark = pytest.mark.django_db


def body(**overrides):
    return referral_fields(date_of_birth="1990-05-01", **overrides)


def post(client, url, data, key):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_repeated_create_returns_the_first_answer_and_creates_nothing(api):
    client = api(responder())
    first = post(client, "/api/v1/referrals/", body(), "k-1")
    again = post(client, "/api/v1/referrals/", body(), "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Referral.objects.count() == 1


def test_the_same_key_with_a_different_body_is_a_409_that_says_how_to_retry(api):
    client = api(responder())
    assert post(client, "/api/v1/referrals/", body(), "k-2").status_code == 201
    response = post(client, "/api/v1/referrals/", body(given_name="Other"), "k-2")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "This Idempotency-Key was already used for a different request. If this is a retry, send exactly "
        "the first request's body; if it is a new request, use a new key."
    )
    assert Referral.objects.count() == 1


def test_a_retry_differing_only_in_fields_the_api_ignores_is_the_same_request(api):
    client = api(responder())
    first = post(client, "/api/v1/referrals/", body(), "k-9")
    again = post(client, "/api/v1/referrals/", {**body(), "client_sent_at": "2026-11-30T10:00:00Z"}, "k-9")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Referral.objects.count() == 1

    case = bring_to("offered")
    provider = api(case.provider_user)
    url = transition_url(case.referral.pk, "accept")
    assert post(provider, url, {"attempt": 1}, "accept-4").status_code == 200
    again = post(provider, url, {"attempt": 2}, "accept-4")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("refused", [{"given_name": "Minh"}, {"is_child": True, "age": 15}])
def test_a_refused_field_added_to_an_anonymous_notification_is_a_different_request(api, refused):
    client = api(responder())
    anonymous = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    assert post(client, "/api/v1/anonymous-notifications/", anonymous, "k-10").status_code == 201
    again = post(client, "/api/v1/anonymous-notifications/", {**anonymous, **refused}, "k-10")
    assert again.status_code == 409 and again.json()["code"] == "idempotency_key_reused"


def test_the_same_key_on_a_different_path_is_a_409(api):
    client = api(responder())
    assert post(client, "/api/v1/referrals/", body(), "k-3").status_code == 201
    anonymous = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    assert post(client, "/api/v1/anonymous-notifications/", anonymous, "k-3").status_code == 409
    assert not AnonymousNotification.objects.exists()


def test_json_spacing_and_key_order_do_not_make_a_different_request(api):
    client = api(responder())
    fields = body()
    compact = json.dumps(fields, separators=(",", ":"))
    spaced = json.dumps(dict(reversed(list(fields.items()))), indent=2)
    first = client.post(
        "/api/v1/referrals/", compact, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    again = client.post(
        "/api/v1/referrals/", spaced, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Referral.objects.count() == 1


def test_keys_belong_to_one_user(api):
    first = post(api(responder()), "/api/v1/referrals/", body(), "shared-key")
    second = post(api(responder()), "/api/v1/referrals/", body(), "shared-key")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_a_repeated_transition_replays_and_records_one_transition(api):
    case = bring_to("received")
    client = api(case.manager)
    url = transition_url(case.referral.pk, "assess")
    first = post(client, url, valid_body("assess"), "assess-1")
    again = post(client, url, valid_body("assess"), "assess-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert case.referral.transitions.filter(transition="assess").count() == 1


def test_a_replayed_answer_is_a_read_and_shows_the_person_only_to_a_user_who_may_still_see_them(api):
    case = bring_to("offered")
    client = api(case.provider_user)
    url = transition_url(case.referral.pk, "accept")
    first = post(client, url, {}, "accept-1")
    assert first.status_code == 200
    reads = AuditEvent.objects.filter(
        referral=case.referral, action=AuditAction.READ, actor=case.provider_user
    )
    again = post(client, url, {}, "accept-1")
    assert again.status_code == 200 and again.json()["given_name"] == "Amina"
    assert reads.filter(what="API replayed answer").count() == 1

    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    gone = post(client, url, {}, "accept-1")
    assert gone.status_code == 200 and gone["Idempotent-Replayed"] == "true"
    assert gone.json() == {key: first.json()[key] for key in ("id", "reference", "state")}
    assert reads.filter(what="API replayed answer").count() == 1


def test_a_replayed_acceptance_does_not_name_the_person_to_a_provider_offered_them_again(api):
    case = bring_to("offered")
    client = api(case.provider_user)
    url = transition_url(case.referral.pk, "accept")
    assert post(client, url, {}, "accept-2").json()["given_name"] == "Amina"
    services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="needs_changed")
    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=case.provider.pk)

    again = post(client, url, {}, "accept-2")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert not {"given_name", "family_name", "date_of_birth", "contact_phone"} & again.json().keys()
    assert client.get(f"/api/v1/referrals/{case.referral.pk}/").json().keys() == again.json().keys()
    assert not AuditEvent.objects.filter(what="API replayed answer").exists()


def test_a_provider_repeating_its_own_rejection_gets_the_outcome_again(api):
    case = bring_to("offered")
    client = api(case.provider_user)
    url = transition_url(case.referral.pk, "reject")
    first = post(client, url, valid_body("reject"), "reject-1")
    again = post(client, url, valid_body("reject"), "reject-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == {"id": case.referral.pk, "reference": case.referral.reference, "state": "assessed"}


def test_an_error_is_not_kept_so_a_corrected_retry_with_the_same_key_works(api):
    client = api(responder())
    refused = post(client, "/api/v1/referrals/", body(consent=False), "k-5")
    assert refused.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert post(client, "/api/v1/referrals/", body(), "k-5").status_code == 201


def test_a_refused_found_repeated_after_the_person_went_missing_again_replays_the_refusal(api):
    case = bring_to("missing")
    client = api(case.provider_user)
    url = transition_url(case.referral.pk, "found")
    services.mark_found(referral_id=case.referral.pk, actor=case.manager)  # a colleague was first
    refused = post(client, url, valid_body("found"), "found-1")
    assert refused.status_code == 409 and refused.json()["code"] == "transition_not_allowed"

    services.report_missing(referral_id=case.referral.pk, actor=case.manager, last_seen_at=timezone.now())
    again = post(client, url, valid_body("found"), "found-1")
    assert again.status_code == 409
    assert again.json() == refused.json()
    assert case.refresh().state == "missing"


def test_an_acceptance_refused_after_a_colleague_rejected_does_not_place_the_person_offered_again(api):
    case = bring_to("offered")
    client = api(case.provider_user)
    url = transition_url(case.referral.pk, "accept")
    colleague = provider_user(case.provider)
    services.reject_offer(referral_id=case.referral.pk, actor=colleague, reason="no_capacity")
    refused = post(client, url, {}, "accept-3")
    # Out of its sight, the answer is told the offer was rejected, not that there is no such case.
    assert refused.status_code == 409 and refused.json()["code"] == "offer_not_pending"

    services.offer_placement(referral_id=case.referral.pk, actor=case.manager, provider_id=case.provider.pk)
    again = post(client, url, {}, "accept-3")
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()
    assert case.refresh().state == "assessed"
    assert case.referral.offers.get(state="pending").provider == case.provider


def test_a_lost_race_is_not_kept_so_the_retry_does_the_work(api, monkeypatch):
    case = bring_to("received")
    client = api(case.manager)
    url = transition_url(case.referral.pk, "assess")
    with monkeypatch.context() as race:
        race.setattr(services, "perform_transition", Mock(side_effect=IntegrityError))
        lost = post(client, url, valid_body("assess"), "assess-2")
    assert lost.status_code == 409 and lost.json()["code"] == "conflict"
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, url, valid_body("assess"), "assess-2")
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried
    assert case.refresh().state == "assessed"


def test_a_user_moved_to_another_organisation_is_not_replayed_the_old_ones_cases(api):
    user = responder()
    case = submitted_referral(responder(organisation=user.organisation))
    duplicates = {
        "given_name": "Amina",
        "family_name": "Haile",
        "date_of_birth": "1995-03-14",
        "nationality": "ER",
    }
    url = "/api/v1/referrals/possible-duplicates/"
    assert [row["reference"] for row in post(api(user), url, duplicates, "dup-1").json()] == [case.reference]

    user.organisation = OrganisationFactory()
    user.save()
    again = post(api(user), url, duplicates, "dup-1")
    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert again.json() == []


@pytest.mark.parametrize(
    "change", [("role", "care_provider"), ("is_active", False)], ids=["role", "deactivated"]
)
def test_a_new_role_or_deactivation_forgets_the_users_kept_answers(api, change):
    user = responder()
    other = responder()
    for who in (user, other):
        post(api(who), "/api/v1/referrals/", body(), "k-8")
    setattr(user, *change)
    user.save()
    assert list(IdempotencyRecord.objects.values_list("user", flat=True)) == [other.pk]


def test_a_repeated_token_request_is_a_409_that_issues_nothing_and_keeps_no_token(api):
    user = responder()
    client = api()
    credentials = {"username": user.username, "password": PASSWORD}
    first = post(client, "/api/v1/auth/token/", credentials, "login-1")
    assert first.status_code == 200
    (record,) = IdempotencyRecord.objects.all()
    assert first.json()["token"] not in json.dumps(record.response_body)
    again = post(client, "/api/v1/auth/token/", credentials, "login-1")
    assert again.status_code == 409
    assert "token" not in again.json() and "Ask again with a new key" in again.json()["detail"]
    # The first token still works: the repeat issued nothing.
    assert api().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {first.json()['token']}").status_code == 200
    # A wrong password is not told anything of the first answer.
    wrong = post(client, "/api/v1/auth/token/", {**credentials, "password": "nope"}, "login-1")
    assert wrong.status_code == 400
    renewed = post(client, "/api/v1/auth/token/", credentials, "login-2")
    assert renewed.status_code == 200 and renewed.json()["token"] != first.json()["token"]


def test_requests_without_the_header_are_untouched(api):
    client = api(responder())
    assert client.post("/api/v1/referrals/", body(), format="json").status_code == 201
    assert client.post("/api/v1/referrals/", body(), format="json").status_code == 201
    assert Referral.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


UNUSABLE_KEYS = ["", " ", "x" * 201]
UNUSABLE_KEY_ERROR = {
    "Idempotency-Key": ["The Idempotency-Key header must be 1 to 200 printable characters."]
}


@pytest.mark.parametrize("key", UNUSABLE_KEYS)
def test_an_unusable_key_is_a_400(api, key):
    response = post(api(responder()), "/api/v1/referrals/", body(), key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Referral.objects.exists()


def test_stored_answers_are_encrypted_and_expire(api, settings):
    client = api(responder())
    post(client, "/api/v1/referrals/", body(given_name="Zainab"), "k-6")
    record = IdempotencyRecord.objects.get()
    assert record.response_body["given_name"] == "Zainab"
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM idempotency_idempotencyrecord")
        assert "Zainab" not in cursor.fetchone()[0]
    settings.IDEMPOTENCY_KEY_LIFETIME_HOURS = 0
    assert purge_expired_keys() == 1


def test_the_periodic_purge_forgets_old_answers(api, settings):
    from idempotency.tasks import purge_expired_idempotency_keys

    post(api(responder()), "/api/v1/referrals/", body(), "k-7")
    assert purge_expired_idempotency_keys() == 0
    settings.IDEMPOTENCY_KEY_LIFETIME_HOURS = 0
    assert purge_expired_idempotency_keys() == 1
    assert not IdempotencyRecord.objects.exists()


def api_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif hasattr(pattern.callback, "cls"):
            yield prefix + str(pattern.pattern), pattern.callback.cls


def posting_routes():
    return {route: view for route, view in api_views(get_resolver().url_patterns) if hasattr(view, "post")}


def test_every_post_of_the_api_honours_the_key():
    posting = posting_routes()
    assert "api/v1/inbox/<int:item_id>/read/" in posting
    assert all(issubclass(view, IdempotentPostMixin) for view in posting.values()), [
        route for route, view in posting.items() if not issubclass(view, IdempotentPostMixin)
    ]


def test_marking_an_inbox_item_read_replays_a_repeat_and_refuses_the_key_for_another_item(api):
    user = responder()
    first, second = (
        InboxItem.objects.create(user=user, event="referral.assessed", message="m") for _ in range(2)
    )
    client = api(user)
    assert post(client, f"/api/v1/inbox/{first.pk}/read/", {}, "read-1").status_code == 200
    again = post(client, f"/api/v1/inbox/{first.pk}/read/", {}, "read-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert post(client, f"/api/v1/inbox/{second.pk}/read/", {}, "read-1").status_code == 409


@dataclass
class AllowedPost:
    """A POST its user may make, and what it would change, read before and after."""

    user: User | None
    url: str
    body: dict[str, Any]
    outcome: Callable[[], Any]


def allowed_post(route: str) -> AllowedPost:
    if route.startswith("api/v1/referrals/<int:pk>/"):
        transition = route.split("/")[-2]
        case = bring_to(next(state for state, legal in LEGAL.items() if transition in legal))
        return AllowedPost(
            actor_for(case, transition),
            transition_url(case.referral.pk, transition),
            valid_body(transition, provider_id=CareProviderFactory().pk),
            lambda: (case.refresh().state, case.referral.transitions.count()),
        )
    if route == "api/v1/inbox/<int:item_id>/read/":
        item = InboxItem.objects.create(user=responder(), event="referral.assessed", message="m")
        return AllowedPost(
            item.user,
            f"/api/v1/inbox/{item.pk}/read/",
            {},
            lambda: InboxItem.objects.get(pk=item.pk).read_at,
        )
    if route == "api/v1/auth/token/":
        user = responder()
        credentials = {"username": user.username, "password": PASSWORD}
        return AllowedPost(None, "/api/v1/auth/token/", credentials, ApiToken.objects.count)
    anonymous = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    return {
        "api/v1/referrals/": AllowedPost(responder(), "/api/v1/referrals/", body(), Referral.objects.count),
        "api/v1/referrals/possible-duplicates/": AllowedPost(
            responder(), "/api/v1/referrals/possible-duplicates/", body(), IdempotencyRecord.objects.count
        ),
        "api/v1/anonymous-notifications/": AllowedPost(
            responder(), "/api/v1/anonymous-notifications/", anonymous, AnonymousNotification.objects.count
        ),
    }[route]


@pytest.mark.parametrize("route", sorted(posting_routes()))
def test_an_unusable_key_on_any_post_its_user_may_make_is_a_400_that_does_nothing(api, route):
    allowed = allowed_post(route)
    before = allowed.outcome()
    response = post(api(allowed.user), allowed.url, allowed.body, " ")
    assert response.status_code == 400 and response.json() == UNUSABLE_KEY_ERROR
    assert allowed.outcome() == before


@pytest.mark.parametrize("key", UNUSABLE_KEYS)
@pytest.mark.parametrize(
    "url",
    ["/api/v1/referrals/", "/api/v1/referrals/possible-duplicates/", "/api/v1/anonymous-notifications/"],
)
def test_an_unusable_key_from_a_role_that_may_not_submit_gets_the_403(api, url, key):
    response = post(api(provider_user(CareProviderFactory())), url, body(), key)
    assert response.status_code == 403 and response.json()["code"] == "not_permitted"


@pytest.mark.parametrize("key", [*UNUSABLE_KEYS, "read-2"])
def test_another_users_inbox_item_is_the_same_404_whatever_the_key(api, key):
    user = responder()
    mine = InboxItem.objects.create(user=user, event="referral.assessed", message="m")
    theirs = InboxItem.objects.create(user=responder(), event="referral.assessed", message="m")
    client = api(user)
    assert post(client, f"/api/v1/inbox/{mine.pk}/read/", {}, "read-2").status_code == 200
    plain = client.post(f"/api/v1/inbox/{theirs.pk}/read/", {}, format="json")
    keyed = post(client, f"/api/v1/inbox/{theirs.pk}/read/", {}, key)
    assert plain.status_code == keyed.status_code == 404
    assert keyed.content == plain.content
    assert InboxItem.objects.get(pk=theirs.pk).read_at is None
