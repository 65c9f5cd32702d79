"""The API token endpoint: audited, locked out after repeated failures, throttled (SPEC §10)."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from audit.models import AuditAction, AuditEvent
from tests.factories import PASSWORD, manager, responder

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def ask_for_token(api, username, password):
    return api.post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR="192.0.2.20"
    )


def test_a_token_request_is_audited_as_a_login_and_a_failure_as_a_failed_login():
    user = responder()
    api = APIClient()
    assert ask_for_token(api, user.username, PASSWORD).status_code == 200
    assert ask_for_token(api, user.username, "wrong-password").status_code == 400
    events = list(AuditEvent.objects.order_by("id").values_list("action", "username", "ip_address"))
    assert events == [
        (AuditAction.LOGIN, user.username, "192.0.2.20"),
        (AuditAction.LOGIN_FAILED, user.username, "192.0.2.20"),
    ]


@pytest.mark.parametrize("username_exists", [True, False])
def test_repeated_failures_lock_the_token_endpoint_with_a_json_429(settings, username_exists):
    settings.AXES_FAILURE_LIMIT = 5
    username = responder().username if username_exists else "nobody-at-all"
    api = APIClient()
    statuses = [ask_for_token(api, username, "wrong-password").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    locked = ask_for_token(api, username, PASSWORD)
    assert locked.status_code == 429
    assert locked.json() == {
        "detail": "Too many failed attempts; try again in 15 minutes or contact your administrator."
    }
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT, username=username).exists()


def test_the_failure_answer_does_not_reveal_whether_the_username_exists():
    user = manager()
    api = APIClient()
    wrong_password = ask_for_token(api, user.username, "wrong-password")
    no_such_user = ask_for_token(api, "no-such-user", "wrong-password")
    assert (wrong_password.status_code, wrong_password.json()) == (
        no_such_user.status_code,
        no_such_user.json(),
    )


def test_anonymous_callers_meet_the_api_rate_limit(monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "token": "100/minute"})
    from django.core.cache import cache

    cache.clear()
    api = APIClient()
    statuses = [api.post(TOKEN_URL, {}, format="json").status_code for _ in range(4)]
    cache.clear()
    assert statuses == [400, 400, 400, 429]
