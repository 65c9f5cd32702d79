"""A form sent twice does its work once: a double tap on a slow phone, or Back and send again."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from referrals.choices import ReferralState
from referrals.models import AnonymousNotification, Referral, ReferralDraft
from tests.api.test_concurrency import run_at_once
from tests.factories import manager, responder, submitted_referral
from tests.web.conftest import intake_data, placed, signed_in

pytestmark = pytest.mark.django_db

INTAKE = reverse("referrals:intake")
ALREADY_SENT = "That form had already been sent"


def key_in(page: bytes) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', page.decode())
    assert found, "the form carries no key"
    return found.group(1)


def form_key(client: Client, url: str) -> str:
    return key_in(client.get(url).content)


def test_a_referral_sent_twice_is_created_once_and_both_answers_go_to_its_case():
    client = signed_in(responder())
    data = intake_data(form_key=form_key(client, INTAKE))
    first = client.post(INTAKE, data)
    again = client.post(INTAKE, data, follow=True)
    referral = Referral.objects.get()
    assert first.url == again.redirect_chain[0][0] == reverse("referrals:case", args=[referral.pk])
    assert ALREADY_SENT in again.content.decode()


def test_submit_anyway_sent_twice_creates_one_referral():
    user = responder()
    submitted_referral(user)
    client = signed_in(user)
    duplicates_page = client.post(INTAKE, intake_data(form_key=form_key(client, INTAKE)))
    assert b"may already have been referred" in duplicates_page.content
    anyway = intake_data(action="submit_anyway", form_key=key_in(duplicates_page.content))
    client.post(INTAKE, anyway)
    client.post(INTAKE, anyway)
    assert Referral.objects.count() == 2


def test_a_form_sent_again_with_other_values_is_a_request_of_its_own():
    client = signed_in(responder())
    key = form_key(client, INTAKE)
    client.post(INTAKE, intake_data(form_key=key))
    client.post(INTAKE, intake_data(form_key=key, given_name="Bereket"))
    assert sorted(Referral.objects.values_list("given_name", flat=True)) == ["Amina", "Bereket"]


def test_a_form_whose_errors_were_shown_is_corrected_and_sent_with_the_same_key():
    client = signed_in(responder())
    key = form_key(client, INTAKE)
    refused = intake_data(form_key=key, region="")
    assert client.post(INTAKE, refused).status_code == 400
    assert client.post(INTAKE, refused).status_code == 400
    assert client.post(INTAKE, intake_data(form_key=key)).status_code == 302
    assert Referral.objects.count() == 1


def test_a_progress_note_sent_twice_is_recorded_once():
    referral, provider, _ = placed()
    client = signed_in(provider)
    url = reverse("referrals:case_action", args=[referral.pk, "record_progress"])
    data = {"record_progress-note": "Settled in; seeing a GP on Monday.", "form_key": form_key(client, url)}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302
    assert referral.transitions.filter(transition="record_progress").count() == 1


def test_an_assessment_sent_twice_says_it_was_done_not_that_it_failed():
    referral = submitted_referral()
    client = signed_in(manager())
    url = reverse("referrals:case_action", args=[referral.pk, "assess"])
    data = {"assess-risk": "high", "assess-route": "accommodation", "form_key": form_key(client, url)}
    client.post(url, data)
    again = client.post(url, data, follow=True)
    assert again.status_code == 200 and ALREADY_SENT in again.content.decode()
    assert b"There is a problem" not in again.content
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED


def test_an_anonymous_notification_sent_twice_is_recorded_once():
    client = signed_in(responder())
    url = reverse("referrals:anonymous_notification")
    data = {
        "gender": "male",
        "nationality": "VN",
        "exploitation_types": ["labour"],
        "region": "wales",
        "form_key": form_key(client, url),
    }
    client.post(url, data)
    client.post(url, data)
    assert AnonymousNotification.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_referral_sent_twice_at_once_is_created_once():
    user = responder()
    clients = [signed_in(user), signed_in(user)]
    data = intake_data(form_key=form_key(clients[0], INTAKE))
    answers = run_at_once([lambda client=client: client.post(INTAKE, data) for client in clients])
    referral = Referral.objects.get()
    assert [answer.url for answer in answers] == [reverse("referrals:case", args=[referral.pk])] * 2


def test_a_draft_saved_again_from_the_form_shown_by_back_is_updated_not_doubled():
    user = responder()
    client = signed_in(user)
    key = form_key(client, INTAKE)
    first = client.post(INTAKE, intake_data(form_key=key, action="save_draft"))
    # Back: the same form, without the draft's number in its address, changed and saved again.
    again = client.post(INTAKE, intake_data(form_key=key, action="save_draft", given_name="Aminata"))
    draft = ReferralDraft.objects.get(owner=user)
    assert first.url == again.url == f"{INTAKE}?draft={draft.pk}"
    assert draft.data["given_name"] == "Aminata"
