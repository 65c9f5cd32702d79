"""Hostile input: script in every free-text field is escaped wherever it is shown; over-long, malformed
or wrongly typed input gets a clear 4xx, never a 500 (SPEC §10)."""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from audit.services import record_read
from referrals import services
from tests.factories import CareProviderFactory, manager, provider_user, referral_fields, responder

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
FREE_TEXT_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "contact_phone",
    "local_authority",
    "local_authority_contact",
    "account",
    "responder_reference",
    "crime_reference",
)


def hostile_fields(**overrides):
    # A child, whose referral holds a local authority and a contact there.
    fields = referral_fields(age_in_doubt=True, **{name: f"{name} {XSS}"[:100] for name in FREE_TEXT_FIELDS})
    fields["responder_reference"] = XSS[:50]
    fields["crime_reference"] = XSS[:50]
    fields.update(overrides)
    return fields


@pytest.fixture
def hostile_case():
    provider = CareProviderFactory()
    carer = provider_user(provider)
    referrer = responder()
    boss = manager()
    referral = services.submit_referral(actor=referrer, fields=hostile_fields())
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="outreach", notes=XSS)
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    services.accept_offer(referral_id=referral.pk, actor=carer)
    services.record_progress(referral_id=referral.pk, actor=carer, note=XSS)
    return referral, {"manager": boss, "responder": referrer, "provider": carer}


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html


def test_script_in_every_free_text_field_is_escaped_on_every_page_that_shows_it(client, hostile_case):
    referral, users = hostile_case
    pages = {
        "manager": [
            reverse("referrals:case", args=[referral.pk]),
            reverse("referrals:case_list"),
            reverse("referrals:triage"),
            reverse("referrals:assessed"),
            reverse("referral-audit", args=[referral.pk]),
            reverse("audit-log"),
        ],
        "responder": [reverse("referrals:case", args=[referral.pk]), reverse("referrals:case_list")],
        "provider": [
            reverse("referrals:case", args=[referral.pk]),
            reverse("care_providers:caseload"),
            reverse("care_providers:offers"),
            reverse("care_providers:past"),
        ],
    }
    for role, urls in pages.items():
        client.force_login(users[role])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert_escaped(response.content.decode())
    client.force_login(users["manager"])
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert case_page.count(ESCAPED) >= 3  # names, account, notes at least


def test_script_typed_as_the_username_at_a_failed_login_never_reaches_the_audit_page(client):
    client.post(reverse("login"), {"username": XSS, "password": "nope-nope-nope"})
    client.force_login(manager())
    html = client.get(reverse("audit-log"), {"action": "login_failed"}).content.decode()
    assert_escaped(html)
    assert ESCAPED not in html and "unknown #" in html


def test_script_in_a_draft_is_escaped_on_the_drafts_page(client):
    user = responder()
    client.force_login(user)
    response = client.post(
        reverse("referrals:intake"), {"action": "save_draft", "given_name": XSS, "family_name": XSS}
    )
    assert response.status_code == 302
    html = client.get(reverse("referrals:drafts")).content.decode()
    assert_escaped(html)


def form_data(**overrides):
    data = {key: value for key, value in referral_fields().items() if value is not None}
    data["date_of_birth"] = "1995-03-14"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not False}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "A" * 10_000),
        ("aliases", "B" * 5_000),
        ("account", "C" * 15_001),
        ("responder_reference", "D" * 51),
        ("given_name", "nul\x00byte"),
        ("date_of_birth", "9999-99-99"),
        ("age_estimate", "1" * 40),
    ],
)
def test_over_long_or_malformed_form_input_is_a_form_error_not_a_500(client, field, value):
    client.force_login(responder())
    response = client.post(reverse("referrals:intake"), form_data(**{field: value}))
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()


# ------------------------------------------------------------------------------------------ API


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(responder()).key}")
    return client


def api_body(**overrides):
    body = referral_fields(date_of_birth="1995-03-14")
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "A" * 101),
        ("aliases", "B" * 201),
        ("account", "C" * 15_001),
        ("crime_reference", "D" * 51),
        ("local_authority", "E" * 101),
        ("local_authority_contact", "F" * 201),
        ("given_name", "nul\x00byte"),
        ("date_of_birth", "1995-02-30"),
        ("age_estimate", 10**30),
        ("languages", "en" * 1000),
        ("exploitation_types", [{"nested": ["deep"]}]),
        ("given_name", {"$gt": ""}),
    ],
)
def test_over_long_or_mistyped_api_input_is_a_400_with_the_field_named(api, field, value):
    response = api.post("/api/v1/referrals/", api_body(**{field: value}), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


LONE_SURROGATE = "\ud800"  # valid in JSON text, but no UTF-8 can carry it


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/referrals/", api_body(gender=LONE_SURROGATE), "gender"),
        ("/api/v1/referrals/", api_body(region=LONE_SURROGATE), "region"),
        (
            "/api/v1/referrals/",
            api_body(exploitation_location=LONE_SURROGATE * 1000),
            "exploitation_location",
        ),
        (
            "/api/v1/anonymous-notifications/",
            {
                "gender": "female",
                "nationality": "AL",
                "exploitation_types": ["labour"],
                "region": LONE_SURROGATE,
            },
            "region",
        ),
    ],
    ids=[
        "referral gender",
        "referral region",
        "long location",
        "anonymous region",
    ],
)
def test_input_no_utf8_can_carry_is_quoted_escaped_in_a_400_not_a_500(api, url, body, field):
    # json.dumps writes the lone surrogate as the escape \ud800, as any client's JSON would.
    response = api.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    errors = json.loads(response.content.decode("utf-8"))
    assert field in errors
    assert len(json.dumps(errors)) < 2000


def test_an_unknown_field_named_in_what_no_utf8_can_carry_is_ignored_not_a_500(api):
    response = api.post(
        "/api/v1/referrals/", json.dumps({**api_body(), LONE_SURROGATE: "x"}), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def test_an_anonymous_notification_refuses_a_field_named_in_what_no_utf8_can_carry_quoted_escaped(api):
    body = {"gender": "female", "nationality": "AL", "exploitation_types": ["labour"], "region": "london"}
    response = api.post(
        "/api/v1/anonymous-notifications/",
        json.dumps({**body, LONE_SURROGATE: "x"}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert list(json.loads(response.content.decode("utf-8"))) == ["\\ud800"]


def test_malformed_json_is_a_400_with_a_clear_message(api):
    response = api.post("/api/v1/referrals/", '{"given_name": "Amina",', content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in json.dumps(response.json())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("given_name=Amina", "application/x-www-form-urlencoded"),
        ("<referral><given_name>Amina</given_name></referral>", "application/xml"),
        ("Amina Haile", "text/plain"),
    ],
)
def test_a_body_that_is_not_json_is_refused_with_415(api, body, content_type):
    response = api.post("/api/v1/referrals/", body, content_type=content_type)
    assert response.status_code == 415


def test_a_json_body_that_is_not_an_object_is_a_400(api):
    for body in ("[]", "null", "42", '"text"'):
        response = api.post("/api/v1/referrals/", body, content_type="application/json")
        assert response.status_code == 400, body


def test_hostile_query_parameters_on_lists_are_4xx_or_ignored_never_500(api):
    queries = ("?state=<script>", "?region=' OR 1=1 --", "?page=abc", "?cursor=' OR 1=1 --", "?cursor=%00")
    for query in queries:
        response = api.get(f"/api/v1/referrals/{query}")
        assert response.status_code in (200, 400, 404), query


def test_hostile_transition_input_is_a_400_or_409_never_500(hostile_case):
    referral, users = hostile_case
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(users['provider']).key}")
    for body in (
        {"note": "E" * 100_000},
        {"note": None},
        {"note": ["list"]},
        {"next_check_in": "tomorrow"},
        {"note": "ok", "next_check_in": "1900-01-01"},
    ):
        response = api.post(f"/api/v1/referrals/{referral.pk}/record_progress/", body, format="json")
        assert response.status_code in (400, 409), (body, response.status_code)
    response = api.post(
        f"/api/v1/referrals/{referral.pk}/report_missing/", {"last_seen_at": "not a time"}, format="json"
    )
    assert response.status_code == 400


def test_script_in_api_input_comes_back_as_json_text_not_html(api):
    response = api.post("/api/v1/referrals/", api_body(given_name=XSS[:100]), format="json")
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_audit_rows_for_a_hostile_case_hold_no_script(hostile_case):
    referral, users = hostile_case
    event = record_read(actor=users["manager"], referral=referral, what="case page")
    assert "<script>" not in json.dumps(event.changes)
    assert all("<script>" not in json.dumps(e.changes) for e in referral.audit_events.all())


def test_an_unknown_api_url_answers_json_404_and_a_web_url_the_house_page(api, client):
    response = api.post("/api/v1/inbox/not-a-number/read/", {}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
