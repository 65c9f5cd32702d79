"""A form sent twice does its work once: a double tap on a slow phone, or Back and send again."""

from __future__ import annotations

import datetime
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from idempotency.models import IdempotencyRecord
from referrals import services
from referrals.choices import ReferralState
from referrals.models import AnonymousNotification, Referral, ReferralDraft
from tests.api.test_concurrency import run_at_once
from tests.factories import CareProviderFactory, manager, provider_user, responder, submitted_referral
from tests.web.conftest import intake_data, offered, placed, recovery_review_near, signed_in

pytestmark = pytest.mark.django_db

INTAKE = reverse("referrals:intake")
ALREADY_SENT = "That form had already been sent"


def key_in(page: bytes) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', page.decode())
    assert found, "the form carries no key"
    return found.group(1)


def form_key(client: Client, url: str) -> str:
    return key_in(client.get(url, follow=True).content)


def test_a_forms_page_has_its_key_in_its_address_so_back_brings_the_same_key_and_it_posts_elsewhere():
    client = signed_in(responder())
    opened = client.get(INTAKE)
    assert opened.status_code == 302
    key = parse_qs(urlsplit(opened.url).query)["form"][0]
    page = client.get(opened.url).content  # as Back fetches it again
    assert key_in(page) == key and key_in(client.get(opened.url).content) == key
    assert f'action="{INTAKE}?send={key}"'.encode() in page  # not the page's own address


def sent_long_ago() -> None:
    """As if every form was sent more than FORM_REPEAT_MINUTES ago."""
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=2))


def test_back_to_a_form_just_saved_as_a_draft_shows_that_draft_and_later_a_new_form():
    client = signed_in(responder())
    opened = client.get(INTAKE)
    key = parse_qs(urlsplit(opened.url).query)["form"][0]
    client.post(INTAKE, {"form_key": key, "given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()

    back = client.get(opened.url).content.decode()  # Back, a moment later
    assert 'value="Amina"' in back
    assert f'<input type="hidden" name="draft" value="{draft.pk}">' in back

    sent_long_ago()  # the address, offered again by the browser's history another night
    later = client.get(opened.url, follow=True)
    assert key_in(later.content) != key and 'value="Amina"' not in later.content.decode()


def test_a_form_sent_from_another_tab_with_the_same_address_leaves_the_draft_saved_from_it():
    client = signed_in(responder())
    opened = client.get(INTAKE)
    key = parse_qs(urlsplit(opened.url).query)["form"][0]
    client.post(INTAKE, {"form_key": key, "given_name": "Amina", "action": "save_draft"})

    client.post(INTAKE, intake_data(form_key=key, given_name="Berhane"))  # a second tab, another person

    assert Referral.objects.get().given_name == "Berhane"
    assert ReferralDraft.objects.get().data["given_name"] == "Amina"


def test_an_action_forms_address_opened_again_later_records_the_same_note_again():
    referral, provider, _ = placed()
    client = signed_in(provider)
    opened = client.get(reverse("referrals:case_action", args=[referral.pk, "record_progress"]))
    note = {"record_progress-note": "No change.", "form_key": key_in(client.get(opened.url).content)}
    client.post(opened.url, note)
    sent_long_ago()

    note["form_key"] = key_in(client.get(opened.url, follow=True).content)  # from the history, a week on
    client.post(opened.url, note)

    assert referral.transitions.filter(transition="record_progress").count() == 2


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
        "adult": "on",
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
    # Back fetches the form again, without the draft's number in its address: it is still the draft's.
    back = dict(hidden_fields(client.get(f"{INTAKE}?form={key}").content))
    changed = intake_data(
        form_key=key,
        draft=back["draft"],
        draft_version=back["draft_version"],
        action="save_draft",
        given_name="Aminata",
    )
    again = client.post(INTAKE, changed)
    draft = ReferralDraft.objects.get(owner=user)
    assert first.url == again.url == f"{INTAKE}?draft={draft.pk}"
    assert draft.data["given_name"] == "Aminata"


def hidden_fields(page: bytes) -> list[tuple[str, str]]:
    return [
        (name, unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.decode())
        if name != "csrfmiddlewaretoken"
    ]


def test_the_same_note_sent_again_from_the_form_opened_anew_is_asked_about_first():
    referral, provider, _ = placed()
    client = signed_in(provider)
    url = reverse("referrals:case_action", args=[referral.pk, "record_progress"])
    note = {"record_progress-note": "Settled in; seeing a GP on Monday."}
    client.post(url, {**note, "form_key": form_key(client, url)})
    # The form opened anew, with a new key, and the same note typed into it.
    asked = client.post(url, {**note, "form_key": form_key(client, url)})
    assert asked.status_code == 200 and b"You sent this a moment ago" in asked.content
    assert referral.transitions.filter(transition="record_progress").count() == 1

    client.post(url, dict(hidden_fields(asked.content)))
    assert referral.transitions.filter(transition="record_progress").count() == 2


def test_the_recovery_review_sent_again_from_the_form_opened_anew_is_asked_about_first():
    referral, provider, _ = placed()
    recovery_review_near(referral)
    client = signed_in(provider)
    url = reverse("referrals:case_action", args=[referral.pk, "record_progress"])
    note = {"record_progress-note": "Day 30 review: settled, college place from September."}
    client.post(url, {**note, "record_progress-recovery_review": "on", "form_key": form_key(client, url)})
    assert referral.deadlines.get(clock="recovery_review").stopped_at is not None
    # The form opened anew is without its tick box (the review is recorded); the same note typed.
    page = client.get(url, follow=True).content
    assert b"record_progress-recovery_review" not in page
    asked = client.post(url, {**note, "form_key": key_in(page)})
    assert asked.status_code == 200 and b"You sent this a moment ago" in asked.content
    assert referral.transitions.filter(transition="record_progress").count() == 1


def test_two_anonymous_notifications_with_the_same_details_are_both_recorded_once_confirmed():
    client = signed_in(responder())
    url = reverse("referrals:anonymous_notification")
    details = {
        "adult": "on",
        "gender": "male",
        "nationality": "VN",
        "exploitation_types": ["labour"],
        "region": "wales",
    }
    client.post(url, {**details, "form_key": form_key(client, url)})
    asked = client.post(url, {**details, "form_key": form_key(client, url)})
    assert AnonymousNotification.objects.count() == 1
    fields: dict[str, list[str]] = {}
    for name, value in hidden_fields(asked.content):
        fields.setdefault(name, []).append(value)
    assert client.post(url, fields).status_code == 302
    assert AnonymousNotification.objects.count() == 2


def test_an_offer_refused_while_another_was_pending_can_be_sent_again_once_it_is_answered():
    referral, first, boss = offered()
    services.reject_offer(referral_id=referral.pk, actor=provider_user(first), reason="no_capacity")
    client = signed_in(manager())
    url = reverse("referrals:case_action", args=[referral.pk, "offer"])
    mine = CareProviderFactory()
    data = {"offer-provider": mine.pk, "form_key": form_key(client, url)}
    # Meanwhile a colleague offers the person elsewhere, and that offer is turned down.
    colleagues = CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=colleagues.pk)
    assert "already has a pending offer" in client.post(url, data, follow=True).content.decode()
    services.reject_offer(referral_id=referral.pk, actor=provider_user(colleagues), reason="no_capacity")
    client.post(url, data)
    assert referral.offers.filter(provider=mine, state="pending").exists()


@pytest.mark.parametrize("key", ["x" * 250, "a\nb", "short"])
def test_a_form_key_not_of_harbours_making_is_ignored_not_an_error(key):
    client = signed_in(responder())
    assert client.post(INTAKE, intake_data(form_key=key)).status_code == 302
    assert Referral.objects.count() == 1


def test_a_draft_saved_unchanged_again_is_just_saved():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, intake_data(form_key=form_key(client, INTAKE), action="save_draft"))
    draft = ReferralDraft.objects.get(owner=user)
    resumed = f"{INTAKE}?draft={draft.pk}"
    for version in (1, 2):
        data = intake_data(
            form_key=form_key(client, resumed), action="save_draft", draft=draft.pk, draft_version=version
        )
        again = client.post(INTAKE, data)
        assert again.status_code == 302 and again.url == resumed


def test_a_second_offer_rejected_for_the_same_reason_is_rejected_without_asking():
    referral, provider, boss = offered()
    staff = provider_user(provider)
    client = signed_in(staff)
    url = reverse("referrals:case_action", args=[referral.pk, "reject"])
    reject = {"reject-reason": "no_capacity"}
    client.post(url, {**reject, "form_key": form_key(client, url)})
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    again = client.post(url, {**reject, "form_key": form_key(client, url)})
    assert again.status_code == 302
    assert not referral.offers.filter(state="pending").exists()


def test_a_form_whose_key_saved_a_draft_is_still_submitted_once_when_tapped_twice():
    user = responder()
    client = signed_in(user)
    key = form_key(client, INTAKE)
    client.post(INTAKE, intake_data(form_key=key, action="save_draft"))
    # Back to the same form (its key kept by the browser), then Submit tapped twice.
    first = client.post(INTAKE, intake_data(form_key=key))
    again = client.post(INTAKE, intake_data(form_key=key))
    referral = Referral.objects.get()
    assert first.url == again.url == reverse("referrals:case", args=[referral.pk])


def test_a_referral_submitted_from_the_form_its_draft_was_saved_from_takes_the_draft_with_it():
    user = responder()
    client = signed_in(user)
    key = form_key(client, INTAKE)
    client.post(INTAKE, intake_data(form_key=key, action="save_draft"))
    back = dict(hidden_fields(client.get(f"{INTAKE}?form={key}").content))  # Back fetches the form again
    client.post(INTAKE, intake_data(form_key=key, draft=back["draft"], draft_version=back["draft_version"]))
    assert Referral.objects.count() == 1
    assert not ReferralDraft.objects.filter(owner=user).exists()
