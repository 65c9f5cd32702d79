"""Every error of the API carries a machine-readable ``code`` next to its ``detail``, DRF's own too."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from accounts import api as accounts_api
from tests.factories import manager, responder, submitted_referral

pytestmark = pytest.mark.django_db


def test_no_token_is_a_401_not_authenticated(api):
    response = api().get("/api/v1/referrals/")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_an_unknown_token_is_a_401_authentication_failed(api):
    response = api().get("/api/v1/referrals/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_an_expired_token_is_a_401_of_its_own_code(api, settings):
    client = api(responder())
    settings.TOKEN_LIFETIME_HOURS = 0
    response = client.get("/api/v1/referrals/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired; request a new one.", "code": "token_expired"}


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("/api/v1/reports/caseload/", "Caseload reports are for managers."),
        ("/api/v1/reports/overdue/", "Caseload reports are for managers."),
        ("/api/v1/referrals/{case}/audit/", "Only managers can read the audit trail."),
        ("/api/v1/providers/", "Only managers and care providers see providers."),
    ],
)
def test_a_role_an_endpoint_is_not_for_is_a_403_not_permitted_on_every_endpoint(api, address, says):
    user = responder()
    case = submitted_referral(user)
    response = api(user).get(address.format(case=case.pk))
    assert response.status_code == 403
    assert response.json() == {"detail": says, "code": "not_permitted"}


def test_a_case_out_of_sight_is_a_404_not_found(api):
    case = submitted_referral(responder())
    response = api(responder()).get(f"/api/v1/referrals/{case.pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_method_an_address_does_not_take_is_a_405_method_not_allowed(api):
    response = api(manager()).delete("/api/v1/referrals/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_a_415_unsupported_media_type(api):
    response = api(responder()).post(
        "/api/v1/referrals/", "given_name=A", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_malformed_json_is_a_400_parse_error(api):
    response = api(responder()).post(
        "/api/v1/referrals/", '{"given_name": "A",', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error")


def test_too_many_requests_is_a_429_throttled(api, monkeypatch):
    monkeypatch.setattr(
        UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "1/minute"}
    )
    client = api(manager())
    client.get("/api/v1/me/")
    response = client.get("/api/v1/me/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_field_errors_keep_their_shape_without_a_code(api):
    response = api(responder()).post(
        "/api/v1/referrals/possible-duplicates/", {"nationality": "ER"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"given_name", "family_name"}


def test_an_unexpected_error_is_a_json_500_server_error_not_the_html_page(monkeypatch):
    user = manager()
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)

    def defect(self, user):
        raise RuntimeError("a defect")

    monkeypatch.setattr(accounts_api.MeSerializer, "to_representation", defect)
    response = client.get("/api/v1/me/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "a defect" not in response.content.decode()


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
def test_a_body_over_the_size_limit_without_a_token_is_a_401_first(api, settings, with_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_IDEMPOTENCY_KEY": "big"} if with_key else {}
    body = '{"account": "' + "x" * 2000 + '"}'
    response = api().post("/api/v1/referrals/", body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
def test_a_body_over_the_size_limit_is_a_413(api, settings, with_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_IDEMPOTENCY_KEY": "big"} if with_key else {}
    body = '{"account": "' + "x" * 2000 + '"}'
    response = api(responder()).post("/api/v1/referrals/", body, content_type="application/json", **headers)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than the 1,000 bytes accepted.",
        "code": "request_too_large",
    }
