"""The page where a user changes their own password, as a screen reader and a keyboard meet it."""

import re

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, responder

pytestmark = pytest.mark.django_db


def password_page(client, data=None):
    client.force_login(responder())
    if data is None:
        return client.get(reverse("password_change")).content.decode()
    return client.post(reverse("password_change"), data).content.decode()


def password_box(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*\bid="id_{name}"[^>]*>', html)[0]


def test_the_new_passwords_rules_are_a_hint_the_box_is_described_by(client):
    html = password_page(client)
    assert re.search(r'<div class="hint" id="id_new_password1_helptext">\s*<ul>', html)
    assert 'aria-describedby="id_new_password1_helptext"' in password_box(html, "new_password1")
    # A p cannot hold a list: the browser would end it before the list, leaving the box described by nothing.
    assert not re.search(r"<p\b(?:(?!</p>).)*<ul", html, re.S)


def test_a_new_password_too_short_and_too_common_is_an_error_of_the_new_password_not_of_its_repeat(client):
    html = password_page(
        client, {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"}
    )
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)[0]
    assert "This password is too common." in summary
    assert set(re.findall(r'href="#([^"]+)"', summary)) == {"id_new_password1"}
    assert 'aria-invalid="true"' in password_box(html, "new_password1")
    assert "aria-invalid" not in password_box(html, "new_password2")


def test_a_repeat_that_does_not_match_is_the_repeats_error_beside_the_new_passwords_own(client):
    html = password_page(
        client, {"old_password": PASSWORD, "new_password1": "short", "new_password2": "other"}
    )
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)[0]
    assert re.findall(r'href="#([^"]+)"', summary) == ["id_new_password1", "id_new_password2"]
    assert "too short" in summary and "didn’t match" in summary


def test_the_page_is_read_from_its_heading_and_explanation_not_from_the_first_box(client):
    html = password_page(client)
    assert "autofocus" not in html
    assert html.index("<h1>") < html.index("signed out everywhere else") < html.index('id="id_old_password"')
