import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.authentication import end_sign_ins
from tests.factories import PASSWORD, manager, provider_user, responder

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("make_user", "start_page"),
    [
        (responder, "referrals:case_list"),
        (manager, "referrals:triage"),
        (provider_user, "care_providers:offers"),
    ],
)
def test_signing_in_sends_each_role_to_its_start_page(client, make_user, start_page):
    user = make_user()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, follow=True)
    assert [url for url, _ in response.redirect_chain][-1] == reverse(start_page)
    assert response.status_code == 200


def test_the_sign_in_page_is_labelled_and_a_wrong_password_is_summarised(client):
    html = client.get(reverse("login")).content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html
    user = responder()
    response = client.post(reverse("login"), {"username": user.username, "password": "wrong password"})
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'href="#id_username"' in html
    assert "<title>Error: Sign in" in html


def test_signing_in_with_empty_boxes_says_at_each_box_what_to_enter(client):
    html = client.post(reverse("login"), {"username": "", "password": ""}).content.decode()
    assert "This field is required." not in html
    for name, message in (("username", "Enter your username."), ("password", "Enter your password.")):
        assert f'<a href="#id_{name}">{message}</a>' in html  # the summary's link to the box
        box = re.search(rf'<input[^>]*\bid="id_{name}"[^>]*>', html)[0]
        assert 'aria-invalid="true"' in box and f'aria-describedby="id_{name}_error"' in box
        error = re.search(rf'<p class="error-message" id="id_{name}_error">(.*?)</p>', html)[1]
        assert error == f'<span class="visually-hidden">Error: </span>{message}'
    assert html.count("autofocus") == 1  # the summary's


def test_the_sign_in_page_is_read_from_its_heading_and_why_the_user_was_signed_out(client):
    client.force_login(responder())
    Session.objects.all().delete()
    page = sign_in_page_after_the_session_ended(client)
    assert "autofocus" not in page
    assert page.index("<h1>") < page.index("without activity") < page.index('id="id_username"')


def test_signing_out_is_a_post_and_ends_the_session(client):
    client.force_login(responder())
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("referrals:case_list")).status_code == 302


def test_signing_out_says_so(client):
    client.force_login(responder())
    page = client.post(reverse("logout"), follow=True).content.decode()
    assert "You are signed out." in page


def test_a_session_that_timed_out_is_explained_at_sign_in(client):
    client.force_login(responder())
    Session.objects.all().delete()  # what the idle timeout amounts to on the server
    # The answer deletes the session cookie, as a browser then does: the sign-in page cannot see it.
    page = sign_in_page_after_the_session_ended(client)
    assert "You were signed out after 30 minutes without activity." in page
    assert CHANGED_ELSEWHERE not in page
    assert "without activity" not in Client().get(reverse("login")).content.decode()


def test_signing_out_is_not_taken_for_a_timeout(client):
    client.force_login(responder())
    client.post(reverse("logout"))
    page = client.get(reverse("referrals:case_list"), follow=True).content.decode()
    assert "without activity" not in page


CHANGED_ELSEWHERE = (
    "You were signed out because your password or sign-in settings were changed. "
    "If you did not change them, contact your administrator."
)


def sign_in_page_after_the_session_ended(client: Client) -> str:
    """The sign-in page a case list sends a browser to, the session cookie deleted as the answer says."""
    to_sign_in = client.get(reverse("referrals:case_list"))
    assert to_sign_in.cookies[settings.SESSION_COOKIE_NAME].value == ""
    del client.cookies[settings.SESSION_COOKIE_NAME]
    return client.get(to_sign_in["Location"]).content.decode()


def test_a_device_signed_out_by_a_password_change_elsewhere_is_told_so_not_that_it_was_idle(client):
    user = responder()
    client.force_login(user)
    here = Client()
    here.force_login(user)
    new = "harbour-renewed-password-2026"
    here.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    page = sign_in_page_after_the_session_ended(client)
    assert CHANGED_ELSEWHERE in page and "without activity" not in page


def test_a_device_signed_out_everywhere_without_a_new_password_is_not_told_it_was_idle(client):
    user = responder()
    client.force_login(user)
    end_sign_ins(user, why="second factor removed")
    page = sign_in_page_after_the_session_ended(client)
    assert CHANGED_ELSEWHERE in page and "without activity" not in page
