"""What a page says of what happened before it came (``django.contrib.messages``), as a screen reader
user meets it."""

import re

import pytest
from django.urls import reverse

from tests.factories import responder

from .conftest import signed_in

pytestmark = pytest.mark.django_db

GONE = "That draft is no longer kept"


def test_a_message_to_heed_takes_the_focus_under_a_heading_before_the_pages_own():
    client = signed_in(responder())
    html = client.get(reverse("referrals:draft_discard", args=[123456]), follow=True).content.decode()
    note = re.search(
        r'<div class="notice"([^>]*)>\s*<h2 id="messages-title">Important</h2>(.*?)</div>', html, re.S
    )
    assert note and GONE in note[2]
    assert 'tabindex="-1"' in note[1] and "autofocus" in note[1]
    assert html.index(GONE) < html.index("<h1>")
    assert html.count("autofocus") == 1


def test_what_went_well_is_a_status_and_leaves_the_focus_alone():
    client = signed_in(responder())
    html = client.post(
        reverse("referrals:intake"), {"given_name": "Amina", "action": "save_draft"}, follow=True
    ).content.decode()
    status = re.search(r'<div role="status">(.*?)</div>', html, re.S)
    assert status and "Draft saved" in status[1]
    assert "autofocus" not in html


def test_the_error_summary_keeps_the_focus_from_a_message_on_the_same_page():
    client = signed_in(responder())
    client.get(reverse("referrals:draft_discard", args=[123456]))  # a message waiting for the next page
    html = client.post(reverse("referrals:intake"), {"action": "submit"}).content.decode()
    assert GONE in html and "There is a problem" in html
    assert html.count("autofocus") == 1
    assert re.search(r'<div class="error-summary"[^>]*autofocus', html)
