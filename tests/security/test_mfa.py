"""Managers and admins use a second factor (TOTP) when REQUIRE_MFA is on (SPEC §10)."""

import base64
import re
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import pre_save
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.mfa import PENDING_DEVICES_KEPT, token_login_second_factor_error, verify_code
from accounts.models import AuthenticatorApp
from audit.models import AuditAction, AuditEvent
from tests.factories import PASSWORD, manager, responder, submitted_referral
from tests.web.conftest import assert_field_error_reported

pytestmark = pytest.mark.django_db


def current_code(device: AuthenticatorApp) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def code_for_secret(secret: str) -> str:
    """The code an authenticator app shows for the secret on the set-up page."""
    return f"{TOTP(base64.b32decode(secret)).token():06d}"


def sign_in(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def sign_in_with_code(client, user) -> AuthenticatorApp:
    device = AuthenticatorApp.objects.create(user=user, name="phone", confirmed=True)
    sign_in(client, user)
    assert client.post(reverse("mfa-verify"), {"code": current_code(device)}).status_code == 302
    return device


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.fixture
def mfa_on(settings):
    settings.REQUIRE_MFA = True


def test_with_mfa_off_a_manager_signs_in_with_a_password_alone(client, settings):
    settings.REQUIRE_MFA = False
    sign_in(client, manager())
    response = client.get(reverse("referrals:triage"))
    assert response.status_code == 200


def test_a_manager_without_a_device_is_sent_to_set_one_up_and_then_gets_in(client, mfa_on):
    boss = manager()
    sign_in(client, boss)
    response = client.get(reverse("referrals:triage"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa-setup"))

    page = client.get(response["Location"])
    device = AuthenticatorApp.objects.get(user=boss, confirmed=False)
    assert page.status_code == 200 and device.config_url in page.content.decode().replace("&amp;", "&")
    # A typo while setting the app up is not a failed sign-in.
    assert client.post(reverse("mfa-setup"), {"code": "000000"}).status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists()
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()

    done = client.post(reverse("mfa-setup"), {"code": current_code(device), "next": "/triage/"})
    assert done.status_code == 302 and done["Location"] == "/triage/"
    assert AuthenticatorApp.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("referrals:triage")).status_code == 200


def test_a_manager_with_a_device_must_enter_a_code_after_the_password(client, mfa_on):
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    sign_in(client, boss)
    response = client.get(reverse("referrals:case_list"))
    assert response["Location"].startswith(reverse("mfa-verify"))
    assert client.post(reverse("mfa-verify"), {"code": current_code(device)}).status_code == 302
    assert client.get(reverse("referrals:case_list")).status_code == 200


def test_a_wrong_code_is_refused_with_a_form_error(client, mfa_on):
    boss = manager()
    AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    sign_in(client, boss)
    response = client.post(reverse("mfa-verify"), {"code": "000000"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert client.get(reverse("referrals:case_list")).status_code == 302
    refused = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED, actor=boss)
    assert (refused.what, refused.ip_address) == ("second factor refused", "127.0.0.1")


@pytest.mark.parametrize(
    ("page", "code", "message"),
    [
        ("mfa-setup", "123", "Enter the 6-digit code from your authenticator app."),
        ("mfa-setup", "", "Enter the 6-digit code from your authenticator app."),
        ("mfa-setup", "000000", "That code is not valid. Check the time on your phone and try again."),
        ("mfa-verify", "123", "Enter the 6-digit code from your authenticator app."),
        ("mfa-verify", "000000", "That code is not valid, or too many codes were tried: wait and try again."),
    ],
)
def test_a_short_or_wrong_code_is_reported_as_on_every_form_saying_what_to_do(
    client, mfa_on, page, code, message
):
    boss = manager()
    if page == "mfa-verify":
        AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    sign_in(client, boss)
    response = client.post(reverse(page), {"code": code})
    assert response.status_code == 400
    html = response.content.decode()
    assert_field_error_reported(
        html, field_id="id_code", hint="The 6-digit code shown in the app now.", message=message
    )
    # A refused code (a right one refused while tries are throttled, say) is not written back.
    code_input = re.search(r'<input[^>]*name="code"[^>]*>', html)[0]
    assert "value=" not in code_input


def test_the_setup_page_does_not_let_a_signed_in_manager_replace_a_confirmed_device(client, mfa_on):
    boss = manager()
    AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    sign_in(client, boss)
    response = client.get(reverse("mfa-setup"))
    assert response["Location"].startswith(reverse("mfa-verify"))
    assert AuthenticatorApp.objects.filter(user=boss).count() == 1


def test_admins_need_the_second_factor_too_and_the_admin_site_is_guarded(client, mfa_on):
    admin = responder(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa-setup"))


def test_first_responders_are_not_asked_for_a_second_factor(client, mfa_on):
    sign_in(client, responder())
    assert client.get(reverse("referrals:case_list")).status_code == 200


def test_an_unverified_manager_session_gets_403_from_the_api(client, mfa_on):
    boss = manager()
    client.force_login(boss)
    response = client.get("/api/v1/referrals/1/audit/")
    assert response.status_code == 403
    assert "second factor" in response.json()["detail"]


def test_an_unverified_session_may_still_sign_out(client, mfa_on):
    sign_in(client, manager())
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert not response.wsgi_request.user.is_authenticated


def test_the_token_endpoint_rule_asks_managers_for_a_valid_code_only_when_mfa_is_on(settings):
    boss = manager()
    settings.REQUIRE_MFA = False
    assert token_login_second_factor_error(boss, None) is None
    settings.REQUIRE_MFA = True
    assert "set up" in token_login_second_factor_error(boss, None)
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    assert "otp" in token_login_second_factor_error(boss, "")
    assert "not valid" in token_login_second_factor_error(boss, "123")
    assert token_login_second_factor_error(boss, current_code(device)) is None
    assert token_login_second_factor_error(responder(), None) is None


def test_resetting_a_lost_second_factor_sends_the_manager_back_to_setup(client, mfa_on):
    from accounts.authentication import issue_token
    from accounts.models import ApiToken
    from audit.models import AuditEvent

    boss = manager()
    AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    issue_token(boss)
    call_command("reset_second_factor", boss.username)
    assert not AuthenticatorApp.objects.filter(user=boss).exists()
    assert not ApiToken.objects.filter(user=boss).exists()
    assert AuditEvent.objects.filter(what=f"second factor reset for {boss.username}").exists()
    sign_in(client, boss)
    assert client.get(reverse("referrals:triage"))["Location"].startswith(reverse("mfa-setup"))


def test_resetting_a_second_factor_ends_every_session_so_none_can_set_up_its_own(mfa_on):
    boss = manager()
    with_code, password_only = Client(), Client()
    sign_in_with_code(with_code, boss)
    sign_in(password_only, boss)
    assert with_code.get(reverse("referrals:triage")).status_code == 200

    call_command("reset_second_factor", boss.username)

    # Whoever held these sessions (the phone's thief) must sign in with the password again, rather than
    # being sent to set up an authenticator of their own.
    for session in (with_code, password_only):
        assert sent_to_sign_in(session.get(reverse("referrals:triage")))
        assert sent_to_sign_in(session.get(reverse("mfa-setup")))
    assert not AuthenticatorApp.objects.filter(user=boss).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGOUT, actor=boss, what="all sessions ended: second factor removed"
    ).exists()
    # The owner signs in again and sets up a new device.
    owner = Client()
    sign_in(owner, boss)
    assert owner.get(reverse("referrals:triage"))["Location"].startswith(reverse("mfa-setup"))


def test_removing_an_authenticator_app_in_the_admin_ends_its_users_token_and_sessions(mfa_on):
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    api = APIClient()
    token = ask_for_token(boss.username, otp=current_code(device)).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    referral = submitted_referral()
    assert api.get(f"/api/v1/referrals/{referral.pk}/").status_code == 200
    password_only = Client()
    sign_in(password_only, boss)

    admin = Client()
    sign_in_with_code(admin, responder(is_staff=True, is_superuser=True))
    removed = admin.post(reverse("admin:accounts_authenticatorapp_delete", args=[device.pk]), {"post": "yes"})
    assert removed.status_code == 302

    assert api.get(f"/api/v1/referrals/{referral.pk}/").status_code == 401
    assert sent_to_sign_in(password_only.get(reverse("mfa-setup")))
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGOUT, actor=boss, what="API token revoked: second factor removed"
    ).exists()


def test_each_set_up_session_is_shown_a_key_of_its_own_and_only_the_confirmed_one_works(mfa_on):
    boss = manager()
    owner, onlooker = Client(), Client()
    sign_in(owner, boss)
    sign_in(onlooker, boss)
    owner_secret = owner.get(reverse("mfa-setup")).context["secret"]
    onlooker_secret = onlooker.get(reverse("mfa-setup")).context["secret"]
    assert owner_secret != onlooker_secret
    assert owner.get(reverse("mfa-setup")).context["secret"] == owner_secret  # the same on reload

    confirmed = owner.post(reverse("mfa-setup"), {"code": code_for_secret(owner_secret)})
    assert confirmed.status_code == 302
    assert AuthenticatorApp.objects.filter(user=boss).count() == 1

    # The key the onlooker saw is no second factor: its codes neither set up a device nor get in.
    attempt = onlooker.post(reverse("mfa-setup"), {"code": code_for_secret(onlooker_secret)})
    assert attempt["Location"].startswith(reverse("mfa-verify"))
    refused = onlooker.post(reverse("mfa-verify"), {"code": code_for_secret(onlooker_secret)})
    assert refused.status_code == 400
    assert onlooker.get(reverse("referrals:triage")).status_code == 302


def test_sessions_opening_the_set_up_page_keep_at_most_five_keys_the_oldest_going_first(mfa_on):
    boss = manager()
    clients = [Client() for _ in range(PENDING_DEVICES_KEPT + 1)]
    for client in clients:
        sign_in(client, boss)
        client.get(reverse("mfa-setup"))
    assert AuthenticatorApp.objects.filter(user=boss, confirmed=False).count() == PENDING_DEVICES_KEPT
    # The first session's key is gone: its page shows a new one, which it can confirm.
    secret = clients[0].get(reverse("mfa-setup")).context["secret"]
    assert clients[0].post(reverse("mfa-setup"), {"code": code_for_secret(secret)}).status_code == 302
    assert list(AuthenticatorApp.objects.filter(user=boss).values_list("confirmed", flat=True)) == [True]


def test_a_code_that_let_someone_in_is_refused_when_used_again(mfa_on):
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    first, second = Client(), Client()
    sign_in(first, boss)
    sign_in(second, boss)
    code = current_code(device)
    assert first.post(reverse("mfa-verify"), {"code": code}).status_code == 302
    assert second.post(reverse("mfa-verify"), {"code": code}).status_code == 400
    assert second.get(reverse("referrals:triage")).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_code_posted_twice_at_once_lets_in_only_one():
    device = AuthenticatorApp.objects.create(user=manager(), name="phone", confirmed=True)
    code = current_code(device)
    first_saving, second_done = threading.Event(), threading.Event()
    results: dict[str, bool] = {}

    def hold_the_first_save(sender, instance, **kwargs):
        # The first check pauses between accepting the code and saving it, as a slow request would.
        if threading.current_thread().name == "first":
            first_saving.set()
            second_done.wait(timeout=1)

    def check(name: str) -> None:
        try:
            if name == "second":
                # Only a deadline: a busy machine may take seconds to start the first thread and its
                # connection, and a second going ahead of it would be the one let in.
                first_saving.wait(timeout=30)
            results[name] = verify_code(AuthenticatorApp.objects.get(pk=device.pk), code)
            if name == "second":
                second_done.set()
        finally:
            connection.close()

    pre_save.connect(hold_the_first_save, sender=AuthenticatorApp)
    try:
        threads = [threading.Thread(target=check, args=(name,), name=name) for name in ("first", "second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pre_save.disconnect(hold_the_first_save, sender=AuthenticatorApp)
    assert results == {"first": True, "second": False}


def test_after_a_wrong_code_even_the_right_one_is_refused_for_a_while(client, mfa_on, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    sign_in(client, boss)
    assert client.post(reverse("mfa-verify"), {"code": "000000"}).status_code == 400
    assert client.post(reverse("mfa-verify"), {"code": current_code(device)}).status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a refused try while throttled is not counted


def test_the_database_holds_no_form_of_an_enrolled_authenticator_key(client, mfa_on):
    boss = manager()
    sign_in(client, boss)
    secret = client.get(reverse("mfa-setup")).context["secret"]
    assert client.post(reverse("mfa-setup"), {"code": code_for_secret(secret)}).status_code == 302
    hex_key = base64.b32decode(secret).hex()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_authenticatorapp")
        rows = cursor.fetchall()
    stored = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 1 and AuthenticatorApp.objects.get().confirmed
    for form in (secret, secret.lower(), hex_key, hex_key.upper()):
        assert form not in stored


@pytest.mark.django_db(transaction=True)  # the migrations run back and forth
def test_an_authenticator_app_set_up_before_keys_were_encrypted_keeps_working(mfa_on):
    # The users first, while the models match the schema: migrating back drops columns added since.
    boss, other = manager(), manager()
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0006_authenticator_app_with_encrypted_key")])
    try:
        enrolled = TOTPDevice.objects.create(user=boss, name="Authenticator app", confirmed=True, drift=1)
        pending = TOTPDevice.objects.create(user=other, name="Authenticator app", confirmed=False)
        MigrationExecutor(connection).migrate([("accounts", "0007_move_totp_devices_to_authenticator_apps")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert not TOTPDevice.objects.exists()
    moved = AuthenticatorApp.objects.get(pk=enrolled.pk)
    assert (moved.user, moved.confirmed, moved.drift, moved.created_at) == (
        boss,
        True,
        1,
        enrolled.created_at,
    )
    assert not AuthenticatorApp.objects.get(pk=pending.pk, user=pending.user).confirmed
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_authenticatorapp")
        assert all(enrolled.key not in key and pending.key not in key for (key,) in cursor.fetchall())
    # The manager's app goes on showing codes of the same secret, and they let the manager in.
    client = Client()
    sign_in(client, boss)
    code = f"{TOTP(bytes.fromhex(enrolled.key), drift=1).token():06d}"
    assert client.post(reverse("mfa-verify"), {"code": code}).status_code == 302
    assert client.get(reverse("referrals:triage")).status_code == 200
    # New devices are numbered after the moved ones.
    assert AuthenticatorApp.objects.create(user=manager(), name="Authenticator app").pk > pending.pk


@pytest.mark.django_db(transaction=True)  # the foreign keys are checked at commit
def test_a_user_with_an_authenticator_app_can_still_be_deleted():
    boss = manager()
    AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    boss.delete()
    assert not AuthenticatorApp.objects.exists()


def ask_for_token(username: str, **extra):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": PASSWORD, **extra}, format="json"
    )


def test_with_mfa_on_a_manager_gets_an_api_token_only_with_a_valid_code(mfa_on):
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="phone", confirmed=True)
    without = ask_for_token(boss.username)
    assert without.status_code == 400 and "otp" in without.json()
    wrong = ask_for_token(boss.username, otp="000000")
    assert wrong.status_code == 400 and "not valid" in wrong.json()["otp"][0]
    # Someone holds the password: the trail says so.
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, actor=boss, what="second factor refused"
    ).exists()
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    right = ask_for_token(boss.username, otp=current_code(device))
    assert right.status_code == 200 and right.json()["token"]


def test_with_mfa_on_a_manager_without_a_device_is_told_to_set_one_up_on_the_web(mfa_on):
    response = ask_for_token(manager().username, otp="123456")
    assert response.status_code == 400
    assert "set up" in response.json()["otp"][0]


def test_a_first_responder_needs_no_code_for_a_token_even_with_mfa_on(mfa_on):
    assert ask_for_token(responder().username).status_code == 200


def test_with_mfa_off_a_manager_gets_a_token_with_the_password_alone(settings):
    settings.REQUIRE_MFA = False
    assert ask_for_token(manager().username).status_code == 200
