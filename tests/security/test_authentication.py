"""Login is audited and throttled, sessions expire when idle, API tokens expire (SPEC §10)."""

import datetime
import importlib
import time

import pytest
from axes.models import AccessAttempt
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import issue_token, token_digest
from accounts.models import ApiToken, User
from accounts.sessions import REFRESHED_AT
from audit.models import AuditAction, AuditEvent
from audit.selectors import audit_events
from referrals.phone_numbers import dial_string
from tests.factories import PASSWORD, manager, responder, submitted_referral

pytestmark = pytest.mark.django_db

# As the page shows it: the managers' duty line a link that a phone dials when tapped.
DUTY_PHONE = django_settings.MANAGERS_DUTY_PHONE
LOCKOUT_MESSAGE = (
    "Too many failed attempts; try again in 15 minutes, or ask your administrator to unlock your account. "
    "If a case cannot wait, phone the managers' 24-hour duty line on "
    f'<a href="tel:{dial_string(DUTY_PHONE)}">{DUTY_PHONE}</a>.'
)


def sign_in(client, username: str, password: str):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="192.0.2.10"
    )


def test_login_and_logout_are_audited_with_the_address(client):
    user = responder()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="192.0.2.10")
    events = list(AuditEvent.objects.filter(actor=user).order_by("id").values_list("action", "ip_address"))
    assert events == [(AuditAction.LOGIN, "192.0.2.10"), (AuditAction.LOGOUT, "192.0.2.10")]


def test_a_failed_login_is_audited_with_the_username_as_typed_and_no_password(client):
    user = responder()
    response = sign_in(client, user.username, "wrong-password")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert (event.username, event.actor, event.ip_address) == (user.username, None, "192.0.2.10")
    assert "wrong-password" not in str(event.changes) + event.what


def test_a_password_typed_as_the_username_reaches_neither_the_audit_page_nor_the_lockout_records(
    client, settings
):
    settings.REQUIRE_MFA = False  # the admin's lockout list is the point here, not how one signs in
    assert sign_in(client, "MySecretPassw0rd!", "anything").status_code == 200
    assert not AccessAttempt.objects.filter(username__contains="MySecretPassw0rd").exists()
    client.force_login(manager())
    page = client.get(reverse("audit-log"), {"action": "login_failed"}).content.decode()
    assert "MySecretPassw0rd!" not in page and "unknown #" in page
    client.force_login(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))
    lockouts = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "MySecretPassw0rd!" not in lockouts and "unknown #" in lockouts


def test_attempts_on_one_unknown_username_are_told_apart_from_another_and_a_user_is_named(client):
    user = responder()
    for username in ("no-such-user", "no-such-user", "somebody-else", user.username):
        sign_in(client, username, "wrong-password")
    recorded = list(AuditEvent.objects.order_by("id").values_list("username", flat=True))
    assert recorded[0] == recorded[1] != recorded[2]
    assert all(name.startswith("unknown #") for name in recorded[:3]) and recorded[3] == user.username
    assert "no-such-user" not in str(recorded) and "somebody-else" not in str(recorded)


def test_a_lockout_of_a_real_user_names_them_in_the_trail_and_the_lockout_records(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = responder()
    for _ in range(3):
        sign_in(client, user.username, "wrong-password")
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT).get().username == user.username
    assert AccessAttempt.objects.get().username == user.username


def test_the_failure_message_is_the_same_for_an_unknown_username_and_a_wrong_password(client):
    user = responder()
    wrong_password = sign_in(client, user.username, "wrong-password").context["form"].errors
    unknown_user = sign_in(client, "nobody-here", "wrong-password").context["form"].errors
    assert wrong_password == unknown_user


@pytest.mark.parametrize("username_exists", [True, False])
def test_five_failures_lock_the_login_out_with_a_clear_message(client, settings, username_exists):
    settings.AXES_FAILURE_LIMIT = 5
    user = responder()
    username = user.username if username_exists else "no-such-user"
    statuses = [sign_in(client, username, "wrong-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    locked = sign_in(client, username, PASSWORD)
    assert locked.status_code == 429
    assert LOCKOUT_MESSAGE in locked.content.decode()
    assert not locked.wsgi_request.user.is_authenticated
    # Found by the name as typed, which is kept only when it names a user.
    assert audit_events(username=username, action=AuditAction.LOCKOUT).exists()
    assert AuditEvent.objects.filter(username=username).exists() is username_exists


def test_a_lockout_of_one_username_leaves_another_user_free_to_sign_in(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    victim, colleague = responder(), responder()
    for _ in range(3):
        sign_in(client, victim.username, "wrong-password")
    assert sign_in(client, colleague.username, PASSWORD).status_code == 302


def test_behind_our_proxy_a_lockout_is_of_the_attackers_address_not_the_proxys(client, settings):
    """Everyone comes through the proxy's one address: a lockout by it would lock the user out too."""
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 1
    user = responder()
    via_proxy = {"REMOTE_ADDR": "172.18.0.5"}
    for _ in range(3):
        client.post(
            reverse("login"),
            {"username": user.username, "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR="198.51.100.1",
            **via_proxy,
        )
    attacker = client.post(
        reverse("login"),
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.1",
        **via_proxy,
    )
    assert attacker.status_code == 429
    owner = client.post(
        reverse("login"),
        {"username": user.username, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        **via_proxy,
    )
    assert owner.status_code == 302


def _session_refreshed(client, seconds_ago: float) -> Session:
    session = client.session
    session[REFRESHED_AT] = time.time() - seconds_ago
    session.save()
    return Session.objects.get(session_key=session.session_key)


def test_an_idle_session_expires_and_a_request_extends_it(client, settings):
    settings.SESSION_REFRESH_SECONDS = 60
    user = responder()
    sign_in(client, user.username, PASSWORD)
    session = _session_refreshed(client, seconds_ago=120)
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + datetime.timedelta(seconds=60))
    client.get(reverse("home"))
    extended = Session.objects.get(pk=session.pk).expire_date
    assert extended > timezone.now() + datetime.timedelta(minutes=25)
    assert extended <= timezone.now() + datetime.timedelta(minutes=30)

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_request_soon_after_the_last_refresh_does_not_write_the_session(client, settings):
    settings.SESSION_REFRESH_SECONDS = 60
    user = responder()
    sign_in(client, user.username, PASSWORD)
    session = _session_refreshed(client, seconds_ago=5)
    expiry = timezone.now() + datetime.timedelta(minutes=10)
    Session.objects.filter(pk=session.pk).update(expire_date=expiry)
    client.get(reverse("home"))
    assert Session.objects.get(pk=session.pk).expire_date == expiry


def test_an_api_token_older_than_its_lifetime_is_refused_with_401(settings):
    settings.TOKEN_LIFETIME_HOURS = 12
    boss = manager()
    referral = submitted_referral()
    token = issue_token(boss)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(f"/api/v1/referrals/{referral.pk}/audit/").status_code == 200
    ApiToken.objects.filter(pk=token.api_token.pk).update(
        created=timezone.now() - datetime.timedelta(hours=12, seconds=1)
    )
    response = api.get(f"/api/v1/referrals/{referral.pk}/audit/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_new_token_request_ends_the_old_token():
    boss = manager()
    first = issue_token(boss)
    second = issue_token(boss)
    assert first.key != second.key
    assert list(ApiToken.objects.filter(user=boss).values_list("digest", flat=True)) == [
        token_digest(second.key)
    ]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first.key}")
    assert api.get("/api/v1/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second.key}")
    assert api.get("/api/v1/me/").status_code == 200


def test_the_database_never_holds_a_token_only_its_digest_which_does_not_sign_in():
    credentials = {"username": manager().username, "password": PASSWORD}
    token = APIClient().post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = repr(cursor.fetchall())
    assert token not in stored
    (digest,) = ApiToken.objects.values_list("digest", flat=True)
    assert digest in stored
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {digest}")
    assert api.get("/api/v1/me/").status_code == 401


def test_the_migration_drops_the_tokens_kept_in_plaintext():
    migration = importlib.import_module("accounts.migrations.0005_keep_only_digests_of_api_tokens")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('41bb5a313226bf4bee1d62aec4c536fa0e36201e', 1)")
        for statement in migration.DROP_PLAINTEXT_TOKENS:
            cursor.execute(statement)
        assert "authtoken_token" not in connection.introspection.table_names(cursor)


def test_the_migration_forgets_lockout_records_kept_under_a_name_typed_before_names_became_digests():
    forget = importlib.import_module("accounts.migrations.0004_forget_sign_in_names_of_no_user")
    user = responder()
    for username in (user.username, "MySecretPassw0rd!", "unknown #0123abcd"):
        AccessAttempt.objects.create(username=username, ip_address="192.0.2.1", failures_since_start=1)
    forget.forget_sign_in_names_of_no_user(django_apps, None)
    assert sorted(AccessAttempt.objects.values_list("username", flat=True)) == sorted(
        [user.username, "unknown #0123abcd"]
    )


def test_a_user_changes_their_own_password_ending_their_other_sign_ins(client):
    user = responder()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    elsewhere = APIClient()
    assert sign_in(elsewhere, user.username, PASSWORD).status_code == 302
    token = issue_token(user)
    page = reverse("password_change")
    assert f'href="{page}"' in client.get(reverse("referrals:case_list")).content.decode()

    wrong = client.post(page, {"old_password": "not-it", "new_password1": "x", "new_password2": "y"})
    assert wrong.status_code == 400
    html = wrong.content.decode()
    assert 'href="#id_old_password"' in html and 'href="#id_new_password2"' in html  # the error summary
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    new = "harbour-renewed-password-2026"
    changed = client.post(page, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert changed.status_code == 302
    assert "Your password is changed" in client.get(changed["Location"], follow=True).content.decode()
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get(reverse("referrals:case_list")).status_code == 200  # still signed in here
    assert elsewhere.get(reverse("referrals:case_list")).status_code == 302  # not there
    assert not ApiToken.objects.filter(pk=token.api_token.pk).exists()
    assert AuditEvent.objects.filter(actor=user, what="password changed").exists()


def change_password(client, old: str, new: str = "harbour-renewed-password-2026"):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": new},
        REMOTE_ADDR="192.0.2.10",
    )


def test_guessing_the_current_password_locks_the_user_out_and_ends_the_session(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = responder()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    statuses = [change_password(client, f"guess-{guess}").status_code for guess in range(3)]
    assert statuses == [400, 400, 429]
    assert client.get(reverse("referrals:case_list")).status_code == 302  # signed out
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert list(failures.values_list("username", "what")) == [(user.username, reverse("password_change"))] * 3
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT, username=user.username).exists()
    assert "guess-" not in AccessAttempt.objects.get(username=user.username).post_data
    locked = sign_in(client, user.username, PASSWORD)
    assert locked.status_code == 429 and LOCKOUT_MESSAGE in locked.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_right_current_password_clears_earlier_failures_as_a_sign_in_does(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = responder()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    assert [change_password(client, f"guess-{guess}").status_code for guess in range(2)] == [400, 400]
    assert change_password(client, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username=user.username).exists()
    assert sign_in(Client(), user.username, "wrong-password").status_code == 200  # one failure, not the third


def test_a_session_of_a_locked_out_user_cannot_change_the_password_even_with_the_right_one(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = responder()
    client.force_login(user)
    for _ in range(3):
        sign_in(Client(), user.username, "wrong-password")
    refused = change_password(client, PASSWORD)
    assert refused.status_code == 429 and LOCKOUT_MESSAGE in refused.content.decode()
    assert client.get(reverse("referrals:case_list")).status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_an_empty_password_form_says_which_box_is_empty(client):
    client.force_login(responder())
    response = client.post(reverse("password_change"), {})
    assert response.status_code == 400
    html = response.content.decode()
    for message in ("Enter your current password.", "Enter a new password.", "Enter the new password again."):
        assert html.count(message) == 2  # in the summary and at its field
    assert "This field is required." not in html
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists()


def test_expired_sessions_are_deleted_daily_by_beat(client, settings):
    from accounts.tasks import clear_expired_sessions

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["accounts.tasks.clear_expired_sessions"] == 24 * 3600
    client.force_login(responder())
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    live = Client()
    live.force_login(responder())
    clear_expired_sessions()
    assert Session.objects.count() == 1
    assert live.get(reverse("referrals:case_list")).status_code == 200
