"""The admin never shows or makes credentials: API token keys and second-factor secrets (SPEC §10)."""

import base64
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.authentication import issue_token
from accounts.models import ApiToken, AuthenticatorApp, User
from tests.factories import manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(settings: Any) -> Client:
    settings.REQUIRE_MFA = False  # these tests are about what the admin shows, not how one signs in
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))
    return client


def admin_index(client: Client) -> str:
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    return index.content.decode()


def test_the_admin_has_no_token_pages_and_shows_no_token_or_digest(admin_client):
    boss = manager()
    token = issue_token(boss)
    for name in ("changelist", "add"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:accounts_apitoken_{name}")
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:authtoken_tokenproxy_{name}")
    assert admin_client.get("/admin/accounts/apitoken/").status_code == 404
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404
    index = admin_index(admin_client)
    assert "apitoken" not in index.lower() and "authtoken" not in index.lower()
    html = index + admin_client.get(reverse("admin:accounts_user_change", args=[boss.pk])).content.decode()
    assert token.key not in html and token.api_token.digest not in html
    assert ApiToken.objects.count() == 1


def test_the_admin_shows_no_authenticator_secret_or_qr_code(admin_client):
    boss = manager()
    device = AuthenticatorApp.objects.create(user=boss, name="Authenticator app", confirmed=True)
    changelist = admin_client.get(reverse("admin:accounts_authenticatorapp_changelist"))
    assert changelist.status_code == 200
    listed = changelist.content.decode()
    assert boss.username in listed  # the device is listed, so a lost one can be removed
    assert "qrcode" not in listed.lower()
    change = admin_client.get(reverse("admin:accounts_authenticatorapp_change", args=[device.pk]))
    assert change.status_code == 200
    html = change.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_authenticatorapp WHERE id = %s", [device.pk])
        (ciphertext,) = cursor.fetchone()
    for page in (listed, html):
        assert device.key not in page and ciphertext not in page
        assert base64.b32encode(device.bin_key).decode() not in page and "otpauth" not in page
    assert 'name="key"' not in html and "qrcode" not in html.lower()


def test_the_admin_cannot_set_up_or_move_an_authenticator_app(admin_client):
    boss, other = manager(), manager()
    assert admin_client.get(reverse("admin:accounts_authenticatorapp_add")).status_code == 403
    app = AuthenticatorApp.objects.create(user=boss, name="Authenticator app", confirmed=True)
    url = reverse("admin:accounts_authenticatorapp_change", args=[app.pk])
    response = admin_client.post(url, {"user": other.pk, "name": "Renamed", "confirmed": "on"})
    assert response.status_code == 403
    app.refresh_from_db()
    assert (app.user, app.name) == (boss, "Authenticator app")
