"""The warning a signed-in page gives before its session ends without activity, the request that keeps
the session, and the limit stated on form pages for browsers that run no script."""

import datetime
import math
import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.sessions import REFRESHED_AT
from tests.factories import responder
from tests.web.conftest import placed, signed_in

pytestmark = pytest.mark.django_db

STAY = reverse("stay_signed_in")


def refreshed(client: Client, *, seconds_ago: float, expires_in: datetime.timedelta) -> Session:
    """The session last extended ``seconds_ago``, and ending ``expires_in`` from now."""
    session = client.session
    session[REFRESHED_AT] = time.time() - seconds_ago
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() + expires_in)
    return Session.objects.get(session_key=session.session_key)


def seconds_left_on(html: str) -> int:
    return int(re.search(r'<dialog id="session-warning"[^>]*data-seconds-left="(\d+)"', html)[1])


def test_staying_signed_in_gives_a_whole_idle_period_even_just_after_another_request(settings):
    settings.SESSION_COOKIE_AGE, settings.SESSION_REFRESH_SECONDS = 1800, 60
    client = signed_in(responder())
    session = refreshed(client, seconds_ago=5, expires_in=datetime.timedelta(minutes=2))
    answer = client.get(STAY)
    assert answer.json() == {"seconds_left": 1800}
    expiry = Session.objects.get(pk=session.pk).expire_date
    assert (
        timezone.now() + datetime.timedelta(minutes=29)
        < expiry
        <= timezone.now() + datetime.timedelta(minutes=30)
    )


def test_staying_signed_in_once_the_session_has_ended_says_so():
    assert Client().get(STAY).json() == {"seconds_left": 0}


def test_a_signed_in_page_says_how_long_its_session_has_left_for_its_warning(settings):
    settings.SESSION_COOKIE_AGE, settings.SESSION_REFRESH_SECONDS = 1800, 300
    client = signed_in(responder())
    started = time.time()
    refreshed(client, seconds_ago=100, expires_in=datetime.timedelta(seconds=1700))
    html = client.get(reverse("referrals:case_list")).content.decode()
    # Counted at render, after however long a busy machine took to get there: not extended by this request.
    assert 1700 - math.ceil(time.time() - started) <= seconds_left_on(html) <= 1700
    assert '<script src="/static/js/session-timeout.js" defer></script>' in html
    assert "<script>" not in html
    refreshed(client, seconds_ago=400, expires_in=datetime.timedelta(seconds=1400))
    assert seconds_left_on(client.get(reverse("referrals:case_list")).content.decode()) == 1800  # extended


@pytest.mark.parametrize(("idle_seconds", "warned_before"), [(1800, 120), (240, 120), (120, 60), (61, 30)])
def test_a_page_warns_two_minutes_before_its_session_ends_or_halfway_through_a_shorter_idle_limit(
    settings, idle_seconds, warned_before
):
    # Warned two minutes before a session of two minutes, a page would open with the warning.
    settings.SESSION_COOKIE_AGE = idle_seconds
    html = signed_in(responder()).get(reverse("referrals:case_list")).content.decode()
    assert re.search(r'<dialog id="session-warning"[^>]*data-warn-before="(\d+)"', html)[1] == str(
        warned_before
    )


def test_a_page_signed_out_gives_no_warning():
    html = Client().get(reverse("login")).content.decode()
    assert "session-warning" not in html and "session-timeout.js" not in html


def test_form_pages_state_the_time_limit_and_what_becomes_of_a_form_sent_after_it(settings):
    settings.SESSION_COOKIE_AGE, settings.UNSENT_FORM_LIFETIME_MINUTES = 1200, 45
    limit = "You are signed out after 20 minutes without activity; what you send after that "
    intake = signed_in(responder()).get(reverse("referrals:intake"), follow=True).content.decode()
    assert limit + "is saved as a draft, for you to carry on with once you sign in again." in intake
    kept = "is not recorded, but kept for 45 minutes for you to check and send again once you sign in."
    notification = reverse("referrals:anonymous_notification")
    assert limit + kept in signed_in(responder()).get(notification, follow=True).content.decode()
    referral, staff, _ = placed()
    action = reverse("referrals:case_action", args=[referral.pk, "record_progress"])
    assert limit + kept in signed_in(staff).get(action, follow=True).content.decode()


def test_the_case_page_states_the_time_limit_above_its_forms_in_place_and_only_where_it_has_them(settings):
    settings.SESSION_COOKIE_AGE, settings.UNSENT_FORM_LIFETIME_MINUTES = 1200, 45
    limit = (
        "You are signed out after 20 minutes without activity; what you send after that is not recorded, "
        "but kept for 45 minutes for you to check and send again once you sign in."
    )
    referral, staff, _ = placed()
    case = reverse("referrals:case", args=[referral.pk])
    html = signed_in(staff).get(case).content.decode()
    assert 'id="action-record_progress"' in html
    assert html.index(limit) < html.index('id="action-record_progress"')
    # The referring officer has nothing to send on a placed case: no form, so no limit to state.
    html = signed_in(referral.submitted_by).get(case).content.decode()
    assert 'class="action"' not in html and limit not in html
