"""However busy, a web session ends SESSION_MAX_HOURS after its user signed in, as an API token ends
TOKEN_LIFETIME_HOURS after it was issued: a stolen session cookie cannot be kept alive for ever."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts.sessions import REFRESHED_AT, SIGNED_IN_AT
from referrals.models import UnsentForm
from tests.accounts.test_session_warning import seconds_left_on
from tests.factories import responder
from tests.web.conftest import placed, signed_in
from tests.web.test_sign_in import sign_in_page_after_the_session_ended
from tests.web.test_unsent_forms import NOTE, SIGNED_OUT, action_url, owner_field

pytestmark = pytest.mark.django_db

STAY = reverse("stay_signed_in")
HOUR = 3600


def signed_in_hours_ago(client: Client, hours: float) -> None:
    """The session's user signed in ``hours`` ago and has kept it busy since: its last request was now."""
    session = client.session
    session[SIGNED_IN_AT] = time.time() - hours * HOUR
    session[REFRESHED_AT] = time.time()
    session.save()


def test_a_session_kept_busy_ends_twelve_hours_after_signing_in_and_the_sign_in_page_says_why():
    client = signed_in(responder())
    signed_in_hours_ago(client, 11.9)
    assert client.get(reverse("referrals:case_list")).status_code == 200

    signed_in_hours_ago(client, 12)
    page = sign_in_page_after_the_session_ended(client)
    assert "You were signed out 12 hours after you signed in." in page
    assert "without activity" not in page


def test_staying_signed_in_gives_no_more_than_is_left_of_the_twelve_hours(settings):
    settings.SESSION_COOKIE_AGE = 1800
    client = signed_in(responder())
    signed_in_hours_ago(client, 12 - 600 / HOUR)
    assert 590 <= client.get(STAY).json()["seconds_left"] <= 600
    html = client.get(reverse("referrals:case_list")).content.decode()
    assert 590 <= seconds_left_on(html) <= 600  # the page warns of the end to come, not of an idle period

    signed_in_hours_ago(client, 12)
    assert client.get(STAY).json() == {"seconds_left": 0}
    assert client.get(reverse("referrals:case_list")).status_code == 302


def test_the_maximum_is_configured_in_hours(settings):
    settings.SESSION_MAX_HOURS = 2
    client = signed_in(responder())
    signed_in_hours_ago(client, 2)
    assert client.get(STAY).json() == {"seconds_left": 0}


def test_a_form_sent_just_after_the_maximum_is_kept_for_its_author_as_after_the_idle_timeout():
    referral, staff, _ = placed()
    client = signed_in(staff)
    url = action_url(referral, "record_progress")
    owner = owner_field(client.get(url, follow=True).content.decode())
    signed_in_hours_ago(client, 12)

    response = client.post(url, {"owner": owner, "record_progress-note": NOTE})

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert UnsentForm.objects.get().owner == staff
    told = client.get(response["Location"]).content.decode()
    assert SIGNED_OUT in told and "You were signed out 12 hours after you signed in." in told
