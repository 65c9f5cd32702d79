"""The API token endpoint: audited, locked out after repeated failures, throttled (SPEC §10)."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from accounts.models import Role, User
from audit.models import AuditAction, AuditEvent
from audit.selectors import audit_events
from tests.factories import PASSWORD, OrganisationFactory, contractor, manager, responder

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


def test_a_password_sent_as_the_username_for_a_token_is_not_kept_in_the_trail_or_the_lockout_records():
    assert ask_for_token(APIClient(), "MySecretPassw0rd!", "anything").status_code == 400
    recorded = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).username
    assert recorded.startswith("unknown #") and "MySecretPassw0rd" not in recorded
    assert AccessAttempt.objects.get().username == recorded


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
        "detail": (
            "Too many failed attempts; try again in 15 minutes, or ask your administrator to unlock your "
            "account. If a case cannot wait, phone the managers' 24-hour duty line on "
            f"{settings.MANAGERS_DUTY_PHONE}."
        ),
        "code": "locked_out",
    }
    # Found by the name as typed, which is kept only when it names a user.
    assert audit_events(username=username, action=AuditAction.LOCKOUT).exists()
    assert AuditEvent.objects.filter(username=username).exists() is username_exists


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


# ------------------------------------------------------------------ a new password ends the API sign-in

ME_URL = "/api/v1/me/"


def api_with_token(user):
    api = APIClient()
    token = ask_for_token(api, user.username, PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(ME_URL).status_code == 200
    return api


def test_the_old_token_gets_401_once_the_password_is_changed():
    user = responder()
    api = api_with_token(user)
    user.set_password("a-brand-new-passphrase")
    user.save()
    assert api.get(ME_URL).status_code == 401
    event = AuditEvent.objects.filter(actor=user).latest("id")
    assert (event.action, event.what) == (AuditAction.LOGOUT, "API token revoked: password changed")


def test_the_old_token_gets_401_once_an_admin_sets_a_new_password(settings):
    settings.REQUIRE_MFA = False
    user = manager()
    api = api_with_token(user)
    admin = APIClient()
    admin.force_login(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert api.get(ME_URL).status_code == 401


def test_the_old_token_gets_401_once_staff_change_their_own_password_in_the_admin(client, settings):
    settings.REQUIRE_MFA = False
    user = manager(is_staff=True)
    api = api_with_token(user)
    client.force_login(user)
    response = client.post(
        reverse("admin:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert api.get(ME_URL).status_code == 401


def test_the_old_token_gets_401_once_the_password_is_made_unusable():
    user = responder()
    api = api_with_token(user)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    assert api.get(ME_URL).status_code == 401


def test_a_password_rehashed_at_sign_in_by_a_newer_hasher_keeps_the_token(client, settings, monkeypatch):
    user = responder()  # its password hashed with the tests' MD5 hasher
    api = api_with_token(user)
    monkeypatch.setattr(PBKDF2PasswordHasher, "iterations", 1_000)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert client.login(username=user.username, password=PASSWORD)
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # upgraded, as Django does
    assert api.get(ME_URL).status_code == 200
    assert not AuditEvent.objects.filter(what__contains="password changed").exists()


def test_saving_a_user_without_a_new_password_keeps_the_token(client):
    user = responder()
    api = api_with_token(user)
    user.first_name = "Renamed"
    user.save()
    assert client.login(username=user.username, password=PASSWORD)  # saves last_login
    assert api.get(ME_URL).status_code == 200


@pytest.mark.parametrize(
    "change",
    ["made a manager", "moved to another organisation", "given the admin", "made a superuser"],
)
def test_the_old_token_gets_401_once_the_users_access_changes(change):
    """A token taken as a responder must not carry into a role that sees more or needs a second factor."""
    user = responder()
    api = api_with_token(user)
    if change == "made a manager":
        user.role, user.organisation = Role.MANAGER, contractor()
    elif change == "moved to another organisation":
        user.organisation = OrganisationFactory(kind="police")
    elif change == "given the admin":
        user.is_staff = True
    else:
        user.is_superuser = True
    user.save()
    assert api.get(ME_URL).status_code == 401
    event = AuditEvent.objects.filter(actor=user).latest("id")
    assert (event.action, event.what) == (AuditAction.LOGOUT, "API token revoked: access changed")
