"""Tokens, me, lists and filters, suggestions, providers, the schema and docs, and how errors look."""

from __future__ import annotations

import datetime
import inspect
import json

import pytest
from django.db import IntegrityError, OperationalError
from django.urls import reverse
from psycopg import errors as pg_errors
from rest_framework.throttling import UserRateThrottle

from accounts import api as accounts_api
from accounts.authentication import token_digest, token_expires_at
from accounts.models import ApiToken
from idempotency.api import IdempotentPostMixin
from referrals import services
from referrals.api.views import AnswersWithCase
from referrals.choices import ReferralState
from referrals.models import Referral
from tests.api.cases import bring_to, transition_url
from tests.factories import (
    PASSWORD,
    CareProviderFactory,
    manager,
    provider_user,
    referral_fields,
    responder,
    submitted_referral,
)

pytestmark = pytest.mark.django_db


# ----------------------------------------------------------------------------------------- tokens


def test_a_token_is_issued_for_good_credentials_and_opens_the_api(api):
    user = responder()
    response = api().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = api().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200 and me.json()["username"] == user.username


def test_the_token_comes_with_when_it_expires(api, settings):
    settings.TOKEN_LIFETIME_HOURS = 3
    user = responder()
    credentials = {"username": user.username, "password": PASSWORD}
    body = api().post("/api/v1/auth/token/", credentials, format="json").json()
    token = ApiToken.objects.get(digest=token_digest(body["token"]))
    assert datetime.datetime.fromisoformat(body["expires_at"]) == token_expires_at(token)
    assert token_expires_at(token) - token.created == datetime.timedelta(hours=3)


def test_a_failed_login_does_not_say_whether_the_username_exists(api):
    user = responder()
    wrong_password = api().post(
        "/api/v1/auth/token/", {"username": user.username, "password": "wrong-password-1"}, format="json"
    )
    no_such_user = api().post(
        "/api/v1/auth/token/", {"username": "nobody-at-all", "password": "wrong-password-1"}, format="json"
    )
    assert wrong_password.status_code == no_such_user.status_code == 400
    assert wrong_password.json() == no_such_user.json()


def test_repeated_failures_lock_the_username_out_with_a_429(api):
    user = responder()
    wrong = {"username": user.username, "password": "wrong-password-1"}
    answers = [api().post("/api/v1/auth/token/", wrong, format="json") for _ in range(6)]
    assert [answer.status_code for answer in answers[:4]] == [400] * 4 and answers[-1].status_code == 429
    assert answers[-1].json()["code"] == "locked_out"
    right = {"username": user.username, "password": PASSWORD}
    assert api().post("/api/v1/auth/token/", right, format="json").status_code == 429


def test_an_inactive_user_gets_no_token(api):
    user = responder(is_active=False)
    response = api().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400


# --------------------------------------------------------------------------------------------- me


def test_me_tells_a_responder_their_role_and_organisation_without_a_provider(api):
    user = responder()
    body = api(user).get("/api/v1/me/").json()
    assert body == {
        "username": user.username,
        "role": "first_responder",
        "organisation": {"id": user.organisation.pk, "name": user.organisation.name, "kind": "police"},
    }


def test_me_gives_a_care_provider_user_their_provider(api):
    provider = CareProviderFactory()
    body = api(provider_user(provider)).get("/api/v1/me/").json()
    assert body["role"] == "care_provider"
    assert body["provider"] == provider.pk
    assert body["organisation"]["kind"] == "care_provider"


# ------------------------------------------------------------------- addresses without their slash

# A redirect would be followed as a GET: a POST answered with the list, and nothing submitted.
debug_on_and_off = pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])


@debug_on_and_off
def test_a_referral_posted_without_the_trailing_slash_is_submitted(api, settings, debug):
    settings.DEBUG = debug
    response = api(responder()).post("/api/v1/referrals", referral_fields(), format="json")
    assert response.status_code == 201, response.content
    assert Referral.objects.get().pk == response.json()["id"]


@debug_on_and_off
def test_the_list_without_the_trailing_slash_is_the_list(api, settings, debug):
    settings.DEBUG = debug
    referrer = responder()
    submitted_referral(referrer)
    response = api(referrer).get("/api/v1/referrals")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@debug_on_and_off
def test_a_transition_posted_without_the_trailing_slash_is_made(api, settings, debug):
    settings.DEBUG = debug
    case = bring_to("received")
    url = transition_url(case.referral.pk, "assess").rstrip("/")
    response = api(case.manager).post(url, {"risk": "low", "route": "outreach"}, format="json")
    assert response.status_code == 200, response.content
    assert case.refresh().state == ReferralState.ASSESSED


@debug_on_and_off
def test_a_token_asked_for_without_the_trailing_slash_is_issued(api, settings, debug):
    settings.DEBUG = debug
    user = responder()
    response = api().post(
        "/api/v1/auth/token", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    me = api().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert me.status_code == 200 and me.json()["username"] == user.username


def test_a_web_page_without_the_trailing_slash_still_redirects_to_it(client):
    client.force_login(manager())
    response = client.get("/cases")
    assert (response.status_code, response["Location"]) == (301, "/cases/")


# ------------------------------------------------------------------------------------------ OPTIONS


@pytest.mark.parametrize("transition", [None, "assess"], ids=["create", "transition"])
def test_options_names_the_allowed_methods_but_describes_no_fields(api, transition):
    referral = submitted_referral()
    url = transition_url(referral.pk, transition) if transition else "/api/v1/referrals/"
    response = api(manager()).options(url)
    assert response.status_code == 200
    assert "POST" in response["Allow"]
    # The view's serializer is its answer's: its fields would be offered as the input.
    assert "actions" not in response.json()


# ----------------------------------------------------------------------------------- list, filters


def test_the_list_is_paginated_and_filters_by_state_and_region(api):
    referrer = responder()
    submitted_referral(referrer, region="wales")
    submitted_referral(referrer, region="london")
    bring_to("assessed", responder_user=referrer, region="london")
    client = api(referrer)
    body = client.get("/api/v1/referrals/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert client.get("/api/v1/referrals/?state=received").json()["count"] == 2
    assert client.get("/api/v1/referrals/?region=london").json()["count"] == 2
    assert client.get("/api/v1/referrals/?state=assessed&region=london").json()["count"] == 1
    paged = client.get("/api/v1/referrals/?page_size=2").json()
    assert len(paged["results"]) == 2 and paged["next"]


def test_the_case_a_webhook_names_by_its_reference_is_found_through_the_list(api):
    # A webhook and an inbox item name their case by its reference alone: a receiver fetches it by that.
    referrer = responder()
    named = submitted_referral(referrer)
    submitted_referral(referrer)
    theirs = submitted_referral(responder())
    client = api(referrer)
    _, year, number = named.reference.split("-")
    for typed in (named.reference, named.reference.lower(), f"{year} {int(number)}"):
        body = client.get("/api/v1/referrals/", {"reference": typed}).json()
        assert body["count"] == 1, typed
        assert [case["id"] for case in body["results"]] == [named.pk], typed
        assert body["results"][0]["reference"] == named.reference
    # A case out of sight is not listed, as its id is the same 404 as one that does not exist.
    assert client.get("/api/v1/referrals/", {"reference": theirs.reference}).json()["count"] == 0
    assert client.get("/api/v1/referrals/", {"reference": "HBR-1999-000001"}).json()["count"] == 0
    twice = client.get(f"/api/v1/referrals/?reference={named.reference}&reference={theirs.reference}")
    assert twice.status_code == 400
    assert twice.json() == {"reference": ["Filter by one reference at a time."]}


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_reference_is_a_400_not_every_case(api, typed):
    # A receiver that fills in the reference of an event that has none must not take the first of a page
    # of other cases for the one it was looking for.
    referrer = responder()
    submitted_referral(referrer)
    response = api(referrer).get("/api/v1/referrals/", {"reference": typed})
    assert response.status_code == 400
    assert list(response.json()) == ["reference"]


def test_a_person_reallocated_while_missing_is_listed_as_missing_since_last_seen_as_on_the_web(api, client):
    gone = bring_to("missing")
    last_seen = gone.referral.deadlines.get(clock="missing").started_at
    services.reallocate_referral(referral_id=gone.referral.pk, actor=gone.manager, reason="safety_concern")
    waiting = bring_to("placed", responder_user=gone.responder, boss=gone.manager)
    services.reallocate_referral(referral_id=waiting.referral.pk, actor=gone.manager, reason="needs_changed")
    api_client, url = api(gone.responder), "/api/v1/referrals/"
    client.force_login(gone.responder)
    for state, listed in (("missing", gone), ("assessed", waiting)):
        (shown,) = api_client.get(f"{url}?state={state}").json()["results"]
        assert shown["id"] == listed.referral.pk, state
        web = client.get(reverse("referrals:case_list"), {"state": state}).content.decode()
        assert listed.referral.reference in web, state
    cases = {case["id"]: case for case in api_client.get(url).json()["results"]}
    assert cases[gone.referral.pk]["state"] == "assessed"
    assert datetime.datetime.fromisoformat(cases[gone.referral.pk]["missing_since"]) == last_seen
    assert cases[waiting.referral.pk]["missing_since"] is None
    detail = api_client.get(f"{url}{gone.referral.pk}/").json()
    assert detail["missing_since"] == cases[gone.referral.pk]["missing_since"]


@pytest.mark.parametrize("query", ["state=lost", "region=mars"])
def test_an_unknown_filter_value_is_a_400(api, query):
    response = api(manager()).get(f"/api/v1/referrals/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize("query", ["state=placed&state=missing", "region=london&region=wales"])
def test_a_filter_given_twice_is_a_400_not_the_last_value_alone(api, query):
    response = api(manager()).get(f"/api/v1/referrals/?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.json()[name] == [f"Filter by one {name} at a time."]


@pytest.mark.parametrize("report", ["caseload", "overdue"])
@pytest.mark.parametrize(
    "query", ["region=london&region=wales", "organisation_kind=police&organisation_kind=ngo"]
)
def test_a_report_filter_given_twice_is_a_400_not_the_last_value_alone(api, report, query):
    response = api(manager()).get(f"/api/v1/reports/{report}/?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.json() == {name: [f"Filter by one {name} at a time."]}


# ---------------------------------------------------------------------------------- the case shown


@pytest.mark.parametrize("viewer", ["responder", "manager", "provider_user"])
@pytest.mark.parametrize(("state", "part"), [("offered", "pending_offer"), ("placed", "placement")])
def test_the_case_names_the_provider_it_is_offered_to_or_placed_with_as_the_case_page_does(
    api, viewer, state, part
):
    case = bring_to(state)
    client = api(getattr(case, viewer))
    detail = client.get(f"/api/v1/referrals/{case.referral.pk}/").json()
    (listed,) = client.get("/api/v1/referrals/").json()["results"]
    for shown in (detail, listed):
        assert shown[part]["provider"] == case.provider.pk
        assert shown[part]["provider_name"] == case.provider.name


# ------------------------------------------------------------------------------- suggestions, providers


def test_managers_get_suggested_providers_ranked_with_reasons(api):
    case = bring_to("assessed")
    full = CareProviderFactory(beds_women=1)
    bring_to("placed", provider=full)  # its one bed for women
    response = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/suggested-providers/")
    assert response.status_code == 200
    ranking = response.json()
    assert ranking[0]["suitable"] is True and ranking[0]["reasons"]
    unsuitable = next(row for row in ranking if row["provider"]["id"] == full.pk)
    assert unsuitable["suitable"] is False
    assert any("no free" in reason for reason in unsuitable["reasons"])
    assert ranking[-1]["provider"]["id"] == full.pk


def test_suggested_providers_say_how_many_of_the_free_beds_are_already_offered(api):
    provider = CareProviderFactory(beds_women=3)
    bring_to("offered", provider=provider)
    case = bring_to("assessed")
    ranking = api(case.manager).get(f"/api/v1/referrals/{case.referral.pk}/suggested-providers/").json()
    row = next(row for row in ranking if row["provider"]["id"] == provider.pk)
    assert (row["free_beds"], row["offered_beds"]) == (3, 1)
    assert row["reasons"][0] == "3 free beds for women, 1 already offered"


def test_the_provider_list_shows_capacity_and_derived_occupancy(api):
    case = bring_to("placed")
    body = api(case.manager).get("/api/v1/providers/").json()
    row = next(r for r in body["results"] if r["id"] == case.provider.pk)
    assert row["capacity"] == {"women": 5, "men": 5, "family": 2}
    assert row["occupancy"] == {"women": 1, "men": 0, "family": 0}
    assert row["free"]["women"] == 4
    services.exit_referral(referral_id=case.referral.pk, actor=case.manager, reason="left_support")
    body = api(case.manager).get("/api/v1/providers/").json()
    row = next(r for r in body["results"] if r["id"] == case.provider.pk)
    assert row["occupancy"]["women"] == 0


def test_a_provider_sees_only_itself_and_a_responder_no_providers(api):
    provider, other = CareProviderFactory(), CareProviderFactory()
    body = api(provider_user(provider)).get("/api/v1/providers/").json()
    assert [row["id"] for row in body["results"]] == [provider.pk]
    assert other.pk not in [row["id"] for row in body["results"]]
    assert api(responder()).get("/api/v1/providers/").status_code == 403


def test_managers_get_every_providers_duty_phone_and_no_one_else_another_organisations(api):
    number = "020 7946 0401"
    hestia = CareProviderFactory(organisation__duty_phone=number)
    case = bring_to("offered", provider=hestia)
    other = CareProviderFactory()  # none recorded
    suggested = f"/api/v1/referrals/{case.referral.pk}/suggested-providers/"
    ranking = api(case.manager).get(suggested).json()
    assert {row["provider"]["id"]: row["provider"]["duty_phone"] for row in ranking} == {
        hestia.pk: number,
        other.pk: "",
    }
    listed = api(case.manager).get("/api/v1/providers/").json()["results"]
    assert {row["id"]: row["duty_phone"] for row in listed} == {hestia.pk: number, other.pk: ""}
    # A provider has its own number; a responder and another provider see no provider's.
    assert api(case.provider_user).get("/api/v1/providers/").json()["results"][0]["duty_phone"] == number
    for user in (case.responder, provider_user(other)):
        for url in (f"/api/v1/referrals/{case.referral.pk}/", "/api/v1/providers/", suggested):
            assert number not in api(user).get(url).content.decode()


# ------------------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=iso-8859-1", "application/json; charset=utf-16"]
)
def test_a_json_body_is_read_as_utf_8_whatever_charset_it_is_labelled_with(api, content_type):
    body = json.dumps(referral_fields(given_name="Zoë", date_of_birth="1990-05-01"), ensure_ascii=False)
    response = api(responder()).post("/api/v1/referrals/", body.encode(), content_type=content_type)
    assert response.status_code == 201
    assert Referral.objects.get().given_name == "Zoë"


def test_a_json_body_starting_with_a_byte_order_mark_is_read(api):
    body = json.dumps(referral_fields(given_name="Zoë", date_of_birth="1990-05-01")).encode("utf-8-sig")
    response = api(responder()).post("/api/v1/referrals/", body, content_type="application/json")
    assert response.status_code == 201
    assert Referral.objects.get().given_name == "Zoë"


def test_a_body_that_is_not_utf_8_is_a_400_that_says_so(api):
    body = json.dumps(referral_fields(given_name="Zoë", date_of_birth="1990-05-01"), ensure_ascii=False)
    response = api(responder()).post(
        "/api/v1/referrals/", body.encode("latin-1"), content_type="application/json; charset=iso-8859-1"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - the body is not UTF-8, as JSON must be."
    assert not Referral.objects.exists()


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
def test_json_nested_too_deep_for_python_is_a_400_not_a_500(api, with_key):
    headers = {"HTTP_IDEMPOTENCY_KEY": "deep"} if with_key else {}
    deep = "[" * 5000 + "]" * 5000
    response = api(responder()).post("/api/v1/referrals/", deep, content_type="application/json", **headers)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_json_array_instead_of_an_object_is_a_400(api):
    case = bring_to("received")
    response = api(case.manager).post(transition_url(case.referral.pk, "assess"), [1, 2], format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError('duplicate key value violates unique constraint "one_pending_offer_per_referral"'),
        OperationalError("deadlock detected"),
    ],
    ids=["integrity", "deadlock"],
)
def test_a_lost_race_in_the_database_is_a_409_not_a_500(api, monkeypatch, error):
    if isinstance(error, OperationalError):
        error.__cause__ = pg_errors.DeadlockDetected("deadlock detected")
    case = bring_to("assessed")

    def lose_the_race(**kwargs):
        raise error

    monkeypatch.setattr(services, "offer_placement", lose_the_race)
    response = api(case.manager).post(
        transition_url(case.referral.pk, "offer"), {"provider": case.provider.pk}, format="json"
    )
    assert response.status_code == 409
    assert "Reload" in response.json()["detail"]
    assert "one_pending_offer" not in response.content.decode()


def test_a_lost_race_outside_a_case_does_not_speak_of_a_case(api, monkeypatch):
    user = responder()

    def lose_the_race(*args, **kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "accounts_apitoken_digest_key"')

    monkeypatch.setattr(accounts_api, "issue_token", lose_the_race)
    response = api().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 409
    assert "case" not in response.json()["detail"]


def test_requests_are_throttled_when_over_the_rate(api):
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "2/minute"}
    try:
        client = api(manager())
        codes = [client.get("/api/v1/me/").status_code for _ in range(3)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 429]


# ---------------------------------------------------------------------------------- schema and docs


def test_the_schema_is_openapi_3_and_documents_every_transition(api):
    response = api().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    # Each path once, with its slash, though the API also answers it without.
    assert all(path.endswith("/") for path in schema["paths"])
    for transition in ("assess", "offer", "accept", "record_progress", "exit"):
        operation = schema["paths"][f"/api/v1/referrals/{{id}}/{transition}/"]["post"]
        assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
    offer = schema["paths"]["/api/v1/referrals/{id}/offer/"]["post"]
    body = offer["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][body]["required"] == ["provider"]
    note = schema["components"]["schemas"][body]["properties"]["note"]
    assert note["maxLength"] == 5000 and "keep the person safe" in note["description"]
    pending = schema["components"]["schemas"]["PendingOffer"]["properties"]
    assert "note" in pending
    referral = schema["components"]["schemas"]["Referral"]
    assert "account" not in referral["required"] and "state" in referral["required"]
    # The age stands in for the date of birth a provider may not see yet: always there, null without one.
    assert "age" in referral["required"]
    assert referral["properties"]["age"]["type"] == "integer" and referral["properties"]["age"]["nullable"]


def test_the_schema_gives_the_idempotency_key_rules_and_the_400s_with_a_code(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    correct = schema["paths"]["/api/v1/referrals/{id}/correct/"]["post"]
    (key,) = [parameter for parameter in correct["parameters"] if parameter["name"] == "Idempotency-Key"]
    assert "1-200 printable characters" in key["description"]
    assert "control character" in key["description"] and "trimmed" in key["description"]
    described = correct["responses"]["400"]["content"]["application/json"]["schema"]["description"]
    assert "nothing_to_correct" in described and "assessment_unchanged" in described


def test_the_schema_says_a_provider_lists_codes_of_known_kinds(api):
    provider = api().get("/api/v1/schema/?format=json").json()["components"]["schemas"]["Provider"]
    items = {name: provider["properties"][name]["items"] for name in ("regions", "services", "languages")}
    assert items == {
        "regions": {"$ref": "#/components/schemas/RegionEnum"},
        "services": {"$ref": "#/components/schemas/ServiceEnum"},
        "languages": {"type": "string"},
    }


def codes_allowed(schema, component, prop):
    """The values an enum property allows, through its $ref, allOf or oneOf (a blank one included)."""
    schemas = schema["components"]["schemas"]
    found = schemas[component]["properties"][prop]
    found = found.get("items", found)
    parts = found.get("oneOf") or found.get("allOf") or [found]
    return {
        code
        for part in parts
        for code in (schemas[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part).get("enum", [None])
    }


def test_the_schema_gives_every_code_in_an_answer_as_an_enum(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    assert codes_allowed(schema, "Referral", "state") == {
        "received", "assessed", "placed", "missing", "recovered", "declined", "withdrawn", "exited",
    }  # fmt: skip
    assert codes_allowed(schema, "Referral", "gender") == {"female", "male", "other", "unknown"}
    assert "london" in codes_allowed(schema, "Referral", "region")
    assert codes_allowed(schema, "Referral", "exploitation_location") == {"uk", "overseas", "both"}
    assert "domestic_servitude" in codes_allowed(schema, "Referral", "exploitation_types")
    assert codes_allowed(schema, "Referral", "risk") == {"low", "medium", "high", ""}
    assert codes_allowed(schema, "Referral", "route") == {"accommodation", "outreach", ""}
    assert "missing" in codes_allowed(schema, "Deadline", "clock")
    assert {"submit", "assess", "expire_offer", "exit"} <= codes_allowed(schema, "HistoryEntry", "transition")
    assert "" in codes_allowed(schema, "HistoryEntry", "from_state")
    assert "" not in codes_allowed(schema, "HistoryEntry", "to_state")
    assert codes_allowed(schema, "Me", "role") == {"first_responder", "care_provider", "manager", ""}
    assert {"police", "care_provider", "contractor"} <= codes_allowed(schema, "Organisation", "kind")


def test_the_schema_publishes_the_limit_on_languages_the_server_keeps(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    assert (
        schema["components"]["schemas"]["ReferralCreateRequest"]["properties"]["languages"]["maxItems"] == 20
    )


def test_every_operation_is_described_for_integrators_not_by_a_mixins_docstring(api):
    internal = {inspect.getdoc(AnswersWithCase), inspect.getdoc(IdempotentPostMixin)}
    schema = api().get("/api/v1/schema/?format=json").json()
    operations = {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}
    for name, operation in operations.items():
        assert operation.get("description") not in internal, name
    for name in ("referrals_list", "referrals_create", "anonymous_notifications_list"):
        assert operations[name]["description"], name


def test_every_error_answer_is_documented_with_its_body(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert "application/json" in answer.get("content", {}), (method, path, status)
                if int(status) > 400:
                    assert answer["content"]["application/json"]["schema"] == error, (method, path, status)


def test_every_post_documents_the_header_that_marks_a_replayed_answer(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}
    assert "/api/v1/referrals/" in posts and "/api/v1/auth/token/" in posts
    for path, operation in posts.items():
        (success,) = [code for code in operation["responses"] if code.startswith("2")]
        assert "Idempotent-Replayed" in operation["responses"][success].get("headers", {}), path


def test_the_docs_page_loads_its_assets_locally(api):
    response = api().get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page


def test_the_docs_page_says_its_language_for_screen_readers(api):
    page = api().get("/api/v1/docs/").content.decode()
    assert page.startswith('<!DOCTYPE html>\n<html lang="en-GB">')
