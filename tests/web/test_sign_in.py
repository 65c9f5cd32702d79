import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

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
    to_sign_in = client.get(reverse("referrals:case_list"))
    # The answer deletes the session cookie, as a browser then does: the sign-in page cannot see it.
    assert to_sign_in.cookies[settings.SESSION_COOKIE_NAME].value == ""
    del client.cookies[settings.SESSION_COOKIE_NAME]
    page = client.get(to_sign_in["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity." in page
    assert "without activity" not in Client().get(reverse("login")).content.decode()


def test_signing_out_is_not_taken_for_a_timeout(client):
    client.force_login(responder())
    client.post(reverse("logout"))
    page = client.get(reverse("referrals:case_list"), follow=True).content.decode()
    assert "without activity" not in page
