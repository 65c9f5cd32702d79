import datetime
import re
from html import unescape
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from accounts.sessions import BROWSER_KEY_COOKIE
from audit.models import AuditEvent
from notifications.models import Event, InboxItem
from referrals import services
from referrals.choices import COMMON_LANGUAGES, ReferralState, language_choices
from referrals.drafts import save_draft
from referrals.local_time import local_time
from referrals.models import AnonymousNotification, Clock, Referral, ReferralDraft, UnsentForm
from referrals.phone_numbers import PHONE_TOO_FEW_DIGITS_MESSAGE, PHONE_TOO_LONG_MESSAGE
from referrals.tasks import purge_expired_drafts
from referrals.unsent_forms import keep_unsent_form, owner_token
from referrals.validation import LANGUAGES_TOO_MANY_MESSAGE, NO_CONSENT_IN_THE_API
from tests.factories import (
    OrganisationFactory,
    manager,
    provider_user,
    referral_fields,
    responder,
    submitted_referral,
)
from tests.web.conftest import DUTY_LINE, intake_data, session_lapses, signed_in

pytestmark = pytest.mark.django_db

INTAKE = reverse("referrals:intake")
NOTIFICATION = reverse("referrals:anonymous_notification")


def error_summary_links(html: str) -> dict[str, str]:
    """The error summary's links: target id → message."""
    summary = re.search(r'<div class="error-summary"[^>]*role="alert".*?</div>', html, re.S)
    assert summary, "no error summary on the page"
    return {anchor: message for anchor, message in re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary[0])}


def language_controls(html: str) -> tuple[set[str], list[str]]:
    """The languages ticked among the checkboxes and those chosen in the lists of the others, in order."""
    ticked = {
        code
        for code, attrs in re.findall(
            r'<input type="checkbox" name="languages" value="([^"]+)"([^>]*)>', html
        )
        if "checked" in attrs
    }
    lists = re.findall(r'<select name="languages"[^>]*>(.*?)</select>', html, re.S)
    chosen = [code for others in lists for code in re.findall(r'<option value="([^"]+)" selected>', others)]
    return ticked, chosen


def test_a_responder_submits_a_referral_and_lands_on_its_case_page():
    user = responder()
    client = signed_in(user)
    response = client.post(INTAKE, intake_data(), follow=True)
    referral = Referral.objects.get()
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert referral.state == ReferralState.RECEIVED
    assert referral.organisation_id == user.organisation_id
    assert referral.languages == ["ti", "en"]
    assert referral.date_of_birth == datetime.date(1995, 3, 14)
    assert referral.reference in response.content.decode()
    assert referral.reference in client.get(reverse("referrals:case_list")).content.decode()


def test_codes_posted_in_another_case_are_stored_as_iso_writes_them():
    client = signed_in(responder())
    response = client.post(
        INTAKE, intake_data(nationality="er", second_nationality="Stateless", languages=["TI"])
    )
    assert response.status_code == 302, response.content.decode()
    referral = Referral.objects.get()
    assert (referral.nationality, referral.second_nationality, referral.languages) == (
        "ER",
        "stateless",
        ["ti"],
    )


def test_the_intake_form_labels_every_input_and_ties_hints_to_them():
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    assert '<html lang="en-GB">' in html
    assert 'href="#main"' in html
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="(id_[^"]+)"', html):
        assert f'for="{input_id}"' in html, f"{input_id} has no label"
    assert re.search(r'id="id_account"[^>]*|aria-describedby="id_account_helptext"', html)
    assert 'aria-describedby="id_account_helptext"' in html
    # The form needs no script; the page's one is the session warning's, from a file, as the CSP asks.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/session-timeout.js" defer>']
    assert "style=" not in html


def test_the_date_of_birth_hint_says_to_give_an_age_estimate_when_only_the_year_or_an_age_is_known():
    """A date input sends a year alone as nothing at all, so the hint says what to do instead."""
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    hint = re.search(r'<div class="hint" id="id_date_of_birth_helptext">(.*?)</div>', html)[1]
    assert "only the year or an approximate age is known" in hint
    assert "give an age estimate instead, and if the person may be under 18, tick" in hint
    assert 'aria-describedby="id_date_of_birth_helptext"' in html


def test_the_common_languages_are_checkboxes_and_every_other_language_is_in_each_list_once():
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    picker = re.search(
        r"<fieldset[^>]*>\s*<legend>Languages the person speaks</legend>.*?</fieldset>", html, re.S
    )
    assert picker, "the languages are not a fieldset whose legend is the field's label"
    checkboxes = re.findall(r'<input type="checkbox" name="languages" value="([^"]+)"', picker[0])
    lists = re.findall(r'<select name="languages" ([^>]*)>(.*?)</select>', picker[0], re.S)
    assert len(lists) == 3
    assert set(checkboxes) == COMMON_LANGUAGES
    for number, (attrs, options) in enumerate(lists, start=1):
        # A single choice each: typing to choose in one list cannot drop what another holds.
        assert "multiple" not in attrs
        assert f'id="id_languages_other_{number}"' in attrs
        assert 'aria-describedby="id_languages_other_helptext"' in attrs
        assert f'<label for="id_languages_other_{number}">Other language {number}</label>' in picker[0]
        listed = re.findall(r'<option value="([^"]*)"', options)
        assert listed[0] == ""  # None
        listed = listed[1:]
        assert len(checkboxes) + len(listed) == len(set(checkboxes) | set(listed))  # none twice
        assert set(checkboxes) | set(listed) == {code for code, _name in language_choices()}
    hint = re.search(r'<div class="hint" id="id_languages_helptext">([^<]+)</div>', picker[0])[1]
    assert "Other language" in hint and "Ctrl" not in hint


def test_lists_left_at_none_add_no_language_and_no_error():
    response = signed_in(responder()).post(INTAKE, intake_data(languages=["ti", "", "fr", ""]))
    assert response.status_code == 302
    assert Referral.objects.get().languages == ["ti", "fr"]


def test_a_draft_keeps_no_empty_language_from_the_lists_left_at_none():
    user = responder()
    signed_in(user).post(INTAKE, {"given_name": "Amina", "languages": ["", "it", ""], "action": "save_draft"})
    assert ReferralDraft.objects.get(owner=user).data["languages"] == ["it"]


def test_more_languages_than_lists_each_have_a_list_when_the_form_comes_back():
    others = ["fr", "it", "uk", "de"]
    response = signed_in(responder()).post(INTAKE, intake_data(given_name="", languages=["ti", *others]))
    assert response.status_code == 400
    assert language_controls(response.content.decode()) == ({"ti"}, others)


def test_a_ticked_language_and_one_chosen_from_the_list_are_both_stored_in_the_order_of_the_page():
    # A browser posts the ticked boxes, then the options chosen in the list, each as languages=code.
    response = signed_in(responder()).post(INTAKE, intake_data(languages=["en", "ti", "fr"]))
    assert response.status_code == 302
    assert Referral.objects.get().languages == ["en", "ti", "fr"]


def test_a_language_posted_twice_is_stored_once_where_it_came_first_as_the_api_stores_it():
    response = signed_in(responder()).post(INTAKE, intake_data(languages=["ti", "fr", "ti", "en", "fr"]))
    assert response.status_code == 302
    assert Referral.objects.get().languages == ["ti", "fr", "en"]


def test_an_exploitation_type_posted_twice_is_stored_once():
    response = signed_in(responder()).post(
        INTAKE, intake_data(exploitation_types=["labour", "sexual", "labour"])
    )
    assert response.status_code == 302
    assert Referral.objects.get().exploitation_types == ["labour", "sexual"]


def test_at_most_20_languages_as_in_the_api():
    languages = sorted(code for code, _name in language_choices())[:21]
    response = signed_in(responder()).post(INTAKE, intake_data(languages=languages))
    assert response.status_code == 400
    assert error_summary_links(response.content.decode())["id_languages_0"] == LANGUAGES_TOO_MANY_MESSAGE
    assert signed_in(responder()).post(INTAKE, intake_data(languages=languages[:20])).status_code == 302


def test_the_form_shown_again_with_an_error_keeps_the_ticked_and_the_chosen_languages():
    response = signed_in(responder()).post(INTAKE, intake_data(given_name="", languages=["ti", "fr", "uk"]))
    assert response.status_code == 400
    assert language_controls(response.content.decode()) == ({"ti"}, ["fr", "uk"])


def test_a_resumed_draft_ticks_and_selects_the_languages_it_was_saved_with():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "languages": ["am", "ti", "it"], "action": "save_draft"})
    draft = ReferralDraft.objects.get(owner=user)
    assert draft.data["languages"] == ["am", "ti", "it"]
    html = client.get(INTAKE, {"draft": draft.pk}, follow=True).content.decode()
    assert language_controls(html) == ({"am", "ti"}, ["it"])


@pytest.mark.parametrize(
    ("overrides", "field", "anchor", "message_part"),
    [
        ({"given_name": ""}, "given_name", "id_given_name", "given name"),
        ({"family_name": ""}, "family_name", "id_family_name", "family name"),
        ({"date_of_birth": "", "age_estimate": ""}, "date_of_birth", "id_date_of_birth", "age estimate"),
        (
            {"date_of_birth": "", "age_estimate": "130"},
            "age_estimate",
            "id_age_estimate",
            "between 0 and 120",
        ),
        ({"date_of_birth": "2099-01-01"}, "date_of_birth", "id_date_of_birth", "in the past"),
        ({"consent": None}, "consent", "id_consent", "anonymous notification"),
        ({"gender": None}, "gender", "id_gender_0", "gender"),
        ({"nationality": "XX"}, "nationality", "id_nationality", "not a nationality code"),
        ({"nationality": "uk"}, "nationality", "id_nationality", "code is GB"),
        ({"languages": None}, "languages", "id_languages_0", "language"),
        ({"languages": ["zz"]}, "languages", "id_languages_0", "valid choice"),
        ({"exploitation_types": None}, "exploitation_types", "id_exploitation_types_0", "exploitation"),
        ({"exploitation_location": None}, "exploitation_location", "id_exploitation_location_0", "where"),
        ({"region": ""}, "region", "id_region", "region"),
        ({"safe_to_contact": None}, "contact_phone", "id_contact_phone", "safe"),
        (
            {"emergency": "on", "needs_accommodation": None},
            "emergency",
            "id_emergency",
            "Needs a safe place to stay",
        ),
        ({"account": "x" * 15_001}, "account", "id_account", "15,000"),
    ],
)
def test_each_intake_error_is_summarised_with_a_link_to_its_field(overrides, field, anchor, message_part):
    response = signed_in(responder()).post(INTAKE, intake_data(**overrides))
    assert response.status_code == 400
    html = response.content.decode()
    links = error_summary_links(html)
    assert anchor in links, links
    assert message_part.lower() in links[anchor].lower()
    assert f'id="{anchor}"' in html
    assert "autofocus" in html
    assert not Referral.objects.exists()


def test_a_child_needs_no_consent():
    response = signed_in(responder()).post(
        INTAKE, intake_data(consent=None, date_of_birth="2012-01-01", local_authority="Kent County Council")
    )
    assert response.status_code == 302
    assert Referral.objects.get().is_child


def test_an_adult_date_of_birth_with_an_under_18_estimate_and_the_age_in_doubt_needs_no_consent():
    response = signed_in(responder()).post(
        INTAKE,
        intake_data(
            consent=None,
            date_of_birth="1990-01-01",
            age_estimate="15",
            age_in_doubt="on",
            local_authority="Kent County Council",
        ),
    )
    assert response.status_code == 302
    assert Referral.objects.get().is_child


def test_the_age_estimate_hint_says_to_tick_the_age_in_doubt_when_it_disagrees_with_the_date_of_birth():
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    hint = re.search(r'<[^>]*id="id_age_estimate_helptext"[^>]*>([^<]+)<', html)[1]
    assert "Only if the date of birth is not known" not in hint
    assert "If one of the two is under 18 and the other is not, tick “may be under 18” below" in hint


def test_no_input_cuts_a_long_paste_short_so_the_server_says_what_to_shorten():
    html = signed_in(responder()).get(INTAKE, follow=True).content.decode()
    assert "maxlength" not in html


def test_a_phone_number_of_up_to_50_characters_is_kept_as_the_api_keeps_it():
    phone = "+44 (0) 7700 900123 ext. 4567, ask for the duty desk"[:50]
    response = signed_in(responder()).post(INTAKE, intake_data(contact_phone=phone))
    assert response.status_code == 302
    assert Referral.objects.get().contact_phone == phone


def test_a_phone_number_over_50_characters_is_refused_with_what_to_do():
    response = signed_in(responder()).post(INTAKE, intake_data(contact_phone="0" * 51))
    assert response.status_code == 400
    message = error_summary_links(response.content.decode())["id_contact_phone"]
    assert message == PHONE_TOO_LONG_MESSAGE  # the API's message too
    assert "50 characters or fewer" in message


def test_a_phone_number_without_7_digits_is_refused_with_what_to_do_as_the_api_refuses_it():
    response = signed_in(responder()).post(INTAKE, intake_data(contact_phone="not a phone ###"))
    assert response.status_code == 400
    message = error_summary_links(response.content.decode())["id_contact_phone"]
    assert message == PHONE_TOO_FEW_DIGITS_MESSAGE  # the API's message too
    assert not Referral.objects.exists()


def test_a_person_aged_120_whose_birthday_is_still_to_come_is_accepted():
    birthday = timezone.localdate() + datetime.timedelta(days=1)
    try:
        date_of_birth = birthday.replace(year=birthday.year - 121)  # 120 today, 121 tomorrow
    except ValueError:  # 29 February in a year that has none
        date_of_birth = datetime.date(birthday.year - 121, 3, 1)
    response = signed_in(responder()).post(INTAKE, intake_data(date_of_birth=date_of_birth.isoformat()))
    assert response.status_code == 302


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"date_of_birth": "", "age_estimate": "12.5"}, id="no-date-of-birth"),
        pytest.param(
            {"date_of_birth": "1990-01-01", "age_estimate": "12.5", "consent": None}, id="no-consent"
        ),
        pytest.param({"date_of_birth": "1990-02-30", "age_estimate": "", "consent": None}, id="unreal-date"),
    ],
)
def test_an_unreadable_age_gets_only_its_own_error(overrides):
    response = signed_in(responder()).post(INTAKE, intake_data(**overrides))
    assert response.status_code == 400
    links = error_summary_links(response.content.decode())
    unreadable = "id_age_estimate" if overrides["age_estimate"] else "id_date_of_birth"
    assert list(links) == [unreadable], links


def test_a_care_provider_or_manager_cannot_open_the_intake_form():
    assert signed_in(manager()).get(INTAKE, follow=True).status_code == 403
    assert signed_in(provider_user()).get(INTAKE, follow=True).status_code == 403


# ------------------------------------------------------------------------------------------- drafts


def test_a_draft_is_saved_without_validation_and_resumes_into_the_form():
    user = responder()
    client = signed_in(user)
    partial = {
        "given_name": "Amina",
        "languages": ["ti", "en"],
        "exploitation_types": ["sexual"],
        "action": "save_draft",
    }
    response = client.post(INTAKE, partial, follow=True)
    draft = ReferralDraft.objects.get(owner=user)
    assert response.redirect_chain[0] == (f"{INTAKE}?draft={draft.pk}", 302)
    assert "Draft saved" in response.content.decode()
    assert not Referral.objects.exists()

    html = client.get(reverse("referrals:drafts")).content.decode()
    assert f"{INTAKE}?draft={draft.pk}" in html
    html = client.get(INTAKE, {"draft": draft.pk}, follow=True).content.decode()
    assert re.search(r'name="given_name"[^>]*value="Amina"', html)
    assert language_controls(html) == ({"en", "ti"}, [])
    assert re.search(r'value="sexual"[^>]*checked', html)
    assert f'name="draft" value="{draft.pk}"' in html


def test_the_draft_is_stored_encrypted():
    user = responder()
    signed_in(user).post(INTAKE, {"given_name": "Zebedee", "action": "save_draft"})
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM referrals_referraldraft")
        (raw,) = cursor.fetchone()
    assert "Zebedee" not in raw


def test_a_saved_draft_stays_on_the_form_so_saving_again_keeps_one_draft():
    user = responder()
    client = signed_in(user)
    response = client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"}, follow=True)
    draft = ReferralDraft.objects.get()
    html = response.content.decode()
    assert re.search(r'name="given_name"[^>]*value="Amina"', html)
    assert f'name="draft" value="{draft.pk}"' in html
    # Reloaded, or come back to: the address still names the draft, so the form still carries it.
    html = client.get(response.redirect_chain[-1][0], follow=True).content.decode()
    assert f'name="draft" value="{draft.pk}"' in html
    saved_again = {"given_name": "Amina", "family_name": "Haile", "action": "save_draft"}
    client.post(
        INTAKE, {**saved_again, "draft": draft.pk, "draft_version": hidden_value(html, "draft_version")}
    )
    assert ReferralDraft.objects.get().data["family_name"] == "Haile"


def test_saving_again_updates_the_same_draft_and_submitting_deletes_it():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    saved_again = {"given_name": "Amina", "family_name": "Haile", "action": "save_draft"}
    client.post(INTAKE, {**saved_again, "draft": draft.pk, "draft_version": draft.version})
    draft.refresh_from_db()
    assert (draft.data["family_name"], draft.version) == ("Haile", 2)
    response = client.post(INTAKE, intake_data(draft=str(draft.pk), draft_version=str(draft.version)))
    assert response.status_code == 302
    assert not ReferralDraft.objects.exists()
    assert Referral.objects.count() == 1


def assert_draft_gone(response):
    """The drafts list, saying the draft is no longer kept, and naming no one."""
    assert response.redirect_chain[-1] == (reverse("referrals:drafts"), 302)
    html = response.content.decode()
    assert "That draft is no longer kept: it was submitted, discarded or expired." in html
    assert "Amina" not in html


def test_going_back_to_a_draft_just_submitted_lands_on_the_drafts_list():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    client.post(INTAKE, intake_data(draft=str(draft.pk), draft_version=str(draft.version)))
    assert Referral.objects.count() == 1
    assert_draft_gone(client.get(INTAKE, {"draft": draft.pk}, follow=True))


def test_discarding_a_draft_twice_lands_on_the_drafts_list():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    discard = reverse("referrals:draft_discard", args=[ReferralDraft.objects.get().pk])
    client.post(discard, {"draft_version": "1"})
    assert_draft_gone(client.post(discard, {"draft_version": "1"}, follow=True))


def test_only_a_first_responder_has_drafts_to_discard():
    assert signed_in(manager()).get(reverse("referrals:draft_discard", args=[1])).status_code == 403


def test_drafts_expire_after_the_lifetime_and_are_purged(settings):
    settings.DRAFT_LIFETIME_DAYS = 30
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    assert draft.expires_at - draft.updated_at == datetime.timedelta(days=30)
    ReferralDraft.objects.filter(pk=draft.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert "Amina" not in client.get(reverse("referrals:drafts")).content.decode()
    assert_draft_gone(client.get(INTAKE, {"draft": draft.pk}, follow=True))
    assert purge_expired_drafts() == 1
    assert not ReferralDraft.objects.exists()


def test_a_draft_can_be_discarded_and_is_private_to_its_owner():
    owner, colleague = responder(), responder()
    signed_in(owner).post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    other = signed_in(colleague)
    # Told exactly what a stale link of their own would tell them: nothing of the owner's draft.
    assert_draft_gone(other.get(INTAKE, {"draft": draft.pk}, follow=True))
    assert_draft_gone(other.get(reverse("referrals:draft_discard", args=[draft.pk]), follow=True))
    assert_draft_gone(other.post(reverse("referrals:draft_discard", args=[draft.pk]), follow=True))
    assert ReferralDraft.objects.exists()
    mine = signed_in(owner)
    asked = mine.get(reverse("referrals:draft_discard", args=[draft.pk]))  # the link asks first
    assert "Discard this draft?" in asked.content.decode() and ReferralDraft.objects.exists()
    mine.post(reverse("referrals:draft_discard", args=[draft.pk]), {"draft_version": draft.version})
    assert not ReferralDraft.objects.exists()


def test_discarding_a_draft_with_only_a_given_name_names_it_as_the_drafts_list_does():
    client = signed_in(responder())
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    asked = unescape(client.get(reverse("referrals:draft_discard", args=[draft.pk])).content.decode())
    assert "The draft for Amina, last saved" in asked


# A draft open on two devices of the same officer: the phone at the scene, the desktop at the station.


def opened(client: Client, draft: ReferralDraft) -> dict[str, str]:
    """The draft's number and version as its form carries them, opened on the client's device now."""
    page = client.get(INTAKE, {"draft": draft.pk}, follow=True).content.decode()
    return {name: hidden_value(page, name) for name in ("draft", "draft_version")}


def saved_at(draft: ReferralDraft) -> str:
    draft.refresh_from_db()
    return local_time(draft.updated_at, "%H:%M")


def test_a_draft_saved_from_a_page_older_than_another_devices_save_is_kept_as_a_new_draft_beside_it():
    user = responder()
    phone, desktop = signed_in(user), signed_in(user)
    phone.post(INTAKE, {"given_name": "Elena", "family_name": "Marin", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    on_phone = opened(phone, draft)
    at_station = {
        "given_name": "Elena",
        "family_name": "Marin",
        "account": "Long account.",
        "nationality": "RO",
    }
    desktop.post(INTAKE, {**at_station, **opened(desktop, draft), "action": "save_draft"})

    at_scene = {
        "given_name": "Elena",
        "family_name": "Marin",
        "safe_to_contact": "on",
        "contact_phone": "07700 900123",
    }
    response = phone.post(INTAKE, {**at_scene, **on_phone, "action": "save_draft"}, follow=True)

    draft.refresh_from_db()
    assert (draft.data["account"], draft.data["nationality"], draft.version) == ("Long account.", "RO", 2)
    kept = ReferralDraft.objects.exclude(pk=draft.pk).get()
    assert (kept.data["contact_phone"], kept.data.get("account")) == ("07700 900123", None)
    assert response.redirect_chain[0] == (f"{INTAKE}?draft={kept.pk}", 302)
    html = unescape(response.content.decode())
    assert (
        "Saved as a new draft: the draft you opened was changed in another tab or on another device at "
        f"{saved_at(draft)}" in html
    )
    assert f'what you saved is <a href="{INTAKE}?draft={kept.pk}">this draft</a>' in html
    assert (
        f'and newer than the one you started from, is <a href="{INTAKE}?draft={draft.pk}">the other draft</a>'
        in html
    )
    differ = "Nationality; It is safe for the care provider to phone the person directly; Contact phone (optional); Your account"
    assert f"They differ in: {differ}." in html
    assert "Draft saved." not in html
    event = AuditEvent.objects.get(what__startswith=f"draft {kept.pk}: kept")
    assert (
        event.what == f"draft {kept.pk}: kept apart from draft {draft.pk}, changed since the form was loaded"
    )


@pytest.mark.parametrize("version", [None, "", "abc", "²", "99999999999"])
def test_a_draft_saved_from_a_form_that_does_not_say_its_version_is_kept_as_a_new_draft(version):
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Elena", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    loaded = {"draft": draft.pk} | ({} if version is None else {"draft_version": version})
    response = client.post(INTAKE, {"given_name": "Ioana", **loaded, "action": "save_draft"})
    assert response.status_code == 302
    assert ReferralDraft.objects.get(pk=draft.pk).data["given_name"] == "Elena"
    assert ReferralDraft.objects.exclude(pk=draft.pk).get().data["given_name"] == "Ioana"


def test_a_referral_submitted_from_a_page_older_than_another_devices_save_is_refused_and_loses_nothing():
    user = responder()
    phone, desktop = signed_in(user), signed_in(user)
    phone.post(INTAKE, intake_data(account="Short note from the scene.", action="save_draft"))
    draft = ReferralDraft.objects.get()
    on_phone = opened(phone, draft)
    full = intake_data(account="Full account typed at the station.", crime_reference="CRIS-4455")
    desktop.post(INTAKE, {**full, **opened(desktop, draft), "action": "save_draft"})

    response = phone.post(
        INTAKE, {**intake_data(account="Short note from the scene."), **on_phone}, follow=True
    )

    assert not Referral.objects.exists()
    draft.refresh_from_db()
    assert (draft.data["account"], draft.data["crime_reference"]) == (
        "Full account typed at the station.",
        "CRIS-4455",
    )
    kept = ReferralDraft.objects.exclude(pk=draft.pk).get()
    assert kept.data["account"] == "Short note from the scene."
    assert response.redirect_chain[-1][0].startswith(f"{INTAKE}?draft={kept.pk}")
    html = unescape(response.content.decode())
    assert (
        "Not submitted: the draft you opened was changed in another tab or on another device at "
        f"{saved_at(draft)}" in html
    )
    assert f'what you sent is <a href="{INTAKE}?draft={kept.pk}">this draft</a>' in html
    assert (
        f'<a href="{INTAKE}?draft={draft.pk}">the other draft</a>. They differ in: Your account; Crime reference (optional).'
        in html
    )
    assert "Compare them, submit the one you want and discard the other." in html
    assert "Short note from the scene.</textarea>" in html  # what was sent, on the form again

    # The desktop's version is the one submitted: that draft goes, the phone's stays.
    desktop.post(INTAKE, {**full, **opened(desktop, draft)})
    assert Referral.objects.get().crime_reference == "CRIS-4455"
    assert list(ReferralDraft.objects.all()) == [kept]


def test_a_draft_saved_on_another_device_while_its_referral_is_being_submitted_is_kept(monkeypatch):
    user = responder()
    phone = signed_in(user)
    phone.post(INTAKE, intake_data(account="Short note from the scene.", action="save_draft"))
    draft = ReferralDraft.objects.get()
    on_phone = opened(phone, draft)
    submit_referral = services.submit_referral

    def saved_elsewhere_meanwhile(**kwargs):
        save_draft(owner=user, data={"account": "Full account."}, draft_id=draft.pk, version=draft.version)
        return submit_referral(**kwargs)

    monkeypatch.setattr(services, "submit_referral", saved_elsewhere_meanwhile)
    response = phone.post(
        INTAKE, {**intake_data(account="Short note from the scene."), **on_phone}, follow=True
    )

    assert Referral.objects.get().account == "Short note from the scene."
    assert ReferralDraft.objects.get(pk=draft.pk).data["account"] == "Full account."
    html = unescape(response.content.decode())
    assert (
        "The draft it was submitted from was changed in another tab or on another device meanwhile, so it "
        "is kept" in html
    )
    assert f'<a href="{INTAKE}?draft={draft.pk}">open the changed draft</a>' in html


def test_a_draft_changed_on_another_device_since_its_discard_page_was_opened_is_not_discarded():
    user = responder()
    phone, desktop = signed_in(user), signed_in(user)
    phone.post(INTAKE, {"given_name": "Elena", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    discard = reverse("referrals:draft_discard", args=[draft.pk])
    asked = phone.get(discard).content.decode()
    desktop.post(
        INTAKE,
        {"given_name": "Elena", "account": "Long account.", **opened(desktop, draft), "action": "save_draft"},
    )

    response = phone.post(discard, {"draft_version": hidden_value(asked, "draft_version")}, follow=True)

    assert ReferralDraft.objects.get().data["account"] == "Long account."
    html = unescape(response.content.decode())
    assert (
        "The draft was not discarded: it was changed in another tab or on another device at "
        f"{saved_at(draft)}" in html
    )


def test_a_draft_changed_on_another_device_is_kept_when_an_anonymous_notification_is_sent_instead():
    user = responder()
    phone, desktop = signed_in(user), signed_in(user)
    typed = intake_data(consent=None)
    phone.post(INTAKE, {**typed, "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    refused = phone.post(INTAKE, {**typed, **opened(phone, draft)}).content.decode()
    desktop.post(
        INTAKE, {**typed, "account": "Long account.", **opened(desktop, draft), "action": "save_draft"}
    )
    button = re.search(r'value="(from_referral)" formaction="([^"]+)"', refused)
    sent = {**typed, "action": button[1], "owner": hidden_value(refused, "owner")}
    for name in ("form_key", "draft", "draft_version"):
        sent[name] = hidden_value(refused, name)
    html = phone.post(button[2], sent).content.decode()
    notification = {name: typed[name] for name in ("gender", "nationality", "region", "exploitation_types")}
    notification["adult"] = "on"
    for name in ("form_key", "owner", "draft", "draft_version"):
        notification[name] = hidden_value(html, name)

    response = phone.post(button[2], notification, follow=True)

    assert AnonymousNotification.objects.exists()
    assert ReferralDraft.objects.get().data["account"] == "Long account."
    assert (
        "changed in another tab or on another device after you opened it, so it is kept"
        in response.content.decode()
    )


def test_a_responder_moved_to_another_organisation_keeps_nothing_typed_for_or_told_of_the_old_one():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    referral = submitted_referral(actor=user)
    withdraw = reverse("referrals:case_action", args=[referral.pk, "withdraw"])
    unsent = keep_unsent_form(owner=user, form=withdraw, data={"withdraw-note": ["Amina went home."]})
    InboxItem.objects.create(user=user, event=Event.REFERRAL_DECLINED, referral_id=referral.pk)

    user.organisation = OrganisationFactory()
    user.save()

    assert "Amina" not in client.get(reverse("referrals:drafts")).content.decode()
    assert_draft_gone(client.get(INTAKE, {"draft": draft.pk}, follow=True))
    assert_draft_gone(client.get(reverse("referrals:draft_discard", args=[draft.pk]), follow=True))
    assert not ReferralDraft.objects.exists()
    assert not UnsentForm.objects.exists()
    event = AuditEvent.objects.get(what="drafts and unsent forms deleted: organisation changed")
    assert (event.actor, event.changes) == (user, {"drafts": [draft.pk], "unsent_forms": [unsent.pk]})
    assert not InboxItem.objects.filter(user=user).exists()  # it told of the old organisation's cases
    assert AuditEvent.objects.filter(what="inbox emptied: organisation changed").exists()


def test_a_deactivated_responders_drafts_and_unsent_forms_are_deleted_and_reactivation_keeps_new_ones():
    user = responder()
    signed_in(user).post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    unsent = keep_unsent_form(owner=user, form=INTAKE, data={"given_name": ["Amina"]})
    draft = ReferralDraft.objects.get()

    user.is_active = False
    user.save()

    assert not ReferralDraft.objects.exists() and not UnsentForm.objects.exists()
    event = AuditEvent.objects.get(what="drafts and unsent forms deleted: deactivated")
    assert event.changes == {"drafts": [draft.pk], "unsent_forms": [unsent.pk]}
    user.is_active = True
    user.save()
    signed_in(user).post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    user.save()  # nothing changed: the new draft stays
    assert ReferralDraft.objects.count() == 1


def test_an_intake_opened_before_a_move_and_sent_after_the_session_ended_is_not_kept():
    user = responder()
    client = signed_in(user)
    owner = owner_field(client)  # the form was open in a tab when the admin moved them
    user.organisation = OrganisationFactory()
    user.save()
    session_lapses(client)

    response = client.post(INTAKE, {"owner": owner, "given_name": "Amina", "action": "save_draft"})

    assert response.status_code == 302
    assert not ReferralDraft.objects.exists()


# ------------------------------------------------------------------------------------- duplicates


def test_likely_duplicates_are_shown_before_submitting_then_submit_anyway_goes_through():
    user = responder()
    earlier = submitted_referral(actor=user)
    client = signed_in(user)

    response = client.post(INTAKE, intake_data())
    html = response.content.decode()
    assert response.status_code == 200
    assert "may already have been referred" in html
    assert earlier.reference in html
    assert 'value="submit_anyway"' in html
    assert Referral.objects.count() == 1

    response = client.post(INTAKE, intake_data(action="submit_anyway"))
    assert response.status_code == 302
    assert Referral.objects.count() == 2


@pytest.mark.parametrize("from_a_draft", [False, True], ids=["new form", "draft"])
def test_likely_duplicates_say_what_to_do_if_it_is_the_same_person_and_what_becomes_of_the_form(from_a_draft):
    user = responder()
    submitted_referral(actor=user)
    client = signed_in(user)
    data = intake_data()
    if from_a_draft:
        client.post(INTAKE, intake_data(action="save_draft"))
        draft = ReferralDraft.objects.get()
        data.update(draft=draft.pk, draft_version=draft.version)
    html = client.post(INTAKE, data).content.decode()
    assert (
        "If it is the same person, do not submit this form: open their referral and use “Correct details”"
        in html
    )
    # What "Correct details" cannot hold has somewhere to go.
    assert (
        f"A new account, exploitation or crime reference is not a detail it holds: phone the managers on "
        f"{DUTY_LINE} with it, quoting the referral’s reference." in html
    )
    kept = (
        f'it stays under <a href="{reverse("referrals:drafts")}">Drafts</a> until '
        f"{timezone.localtime(draft.expires_at):%-d %B %Y}, where you can discard it."
        if from_a_draft
        else "Nothing typed into this form is kept once you leave the page."
    )
    assert kept in html


def test_a_likely_duplicates_link_opens_in_a_new_tab_and_says_so():
    user = responder()
    earlier = submitted_referral(actor=user)
    html = signed_in(user).post(INTAKE, intake_data()).content.decode()
    case_url = reverse("referrals:case", args=[earlier.pk])
    link = re.search(rf'<a href="{case_url}"([^>]*)>([^<]+)</a>', html)
    assert link, "no link to the likely duplicate"
    assert 'target="_blank"' in link[1] and 'rel="noopener"' in link[1]
    assert link[2] == f"{earlier.reference} (opens in a new tab)"


@pytest.mark.parametrize(
    ("state", "submitted_days_ago", "closed_days_ago", "shown"),
    [
        ("placed", 400, None, True),  # in support for over a year: still the likeliest double referral
        ("exited", 400, 30, True),  # left support a month ago
        ("exited", 400, 120, False),  # closed before the window
    ],
)
def test_a_case_open_at_any_time_in_the_last_ninety_days_is_a_likely_duplicate(
    state, submitted_days_ago, closed_days_ago, shown
):
    user = responder()
    earlier = submitted_referral(actor=user)
    now = timezone.now()
    closed_at = now - datetime.timedelta(days=closed_days_ago) if closed_days_ago is not None else None
    Referral.objects.filter(pk=earlier.pk).update(
        state=state, submitted_at=now - datetime.timedelta(days=submitted_days_ago), closed_at=closed_at
    )
    html = signed_in(user).post(INTAKE, intake_data()).content.decode()
    assert (earlier.reference in html) is shown
    assert ("open in the last 90 days" in html) is shown


def test_another_organisations_referral_is_not_shown_as_a_duplicate():
    earlier = submitted_referral(actor=responder())
    response = signed_in(responder()).post(INTAKE, intake_data())
    assert response.status_code == 302
    assert Referral.objects.exclude(pk=earlier.pk).count() == 1


def test_managers_see_a_referral_from_another_organisation_as_a_possible_duplicate():
    earlier = submitted_referral(actor=responder())
    later = submitted_referral(actor=responder())  # the same person, referred by a second organisation
    unrelated = submitted_referral(actor=responder(), family_name="Someone-Else")
    page = signed_in(manager()).get(reverse("referrals:case", args=[later.pk])).content.decode()
    assert "This person may have been referred more than once" in page
    assert earlier.reference in page and unrelated.reference not in page
    # A responder is not shown another organisation's case.
    own = signed_in(later.submitted_by).get(reverse("referrals:case", args=[later.pk])).content.decode()
    assert "referred more than once" not in own and earlier.reference not in own


def test_a_case_open_for_months_is_shown_to_managers_as_the_responder_was_shown_it():
    earlier = submitted_referral(actor=responder())
    services.assess_referral(referral_id=earlier.pk, actor=manager(), risk="low", route="outreach")
    Referral.objects.filter(pk=earlier.pk).update(submitted_at=timezone.now() - datetime.timedelta(days=130))
    later = submitted_referral(actor=responder())
    boss = signed_in(manager())
    page = boss.get(reverse("referrals:case", args=[later.pk])).content.decode()
    assert earlier.reference in page
    # This one is received: it is declined as the duplicate, from a link with the reason chosen.
    decline = reverse("referrals:case_action", args=[later.pk, "decline"]) + "?reason=duplicate"
    assert f'href="{decline}"' in page
    form = boss.get(decline, follow=True).content.decode()
    assert re.search(r'<option value="duplicate" selected>', form)
    # The earlier one lists the later, and offers no step to close itself: the later one is closed.
    page = boss.get(reverse("referrals:case", args=[earlier.pk])).content.decode()
    assert later.reference in page
    assert "?reason=duplicate" not in page


def test_an_assessed_later_referral_is_withdrawn_as_the_duplicate():
    earlier = submitted_referral(actor=responder())
    later = submitted_referral(actor=responder())
    services.assess_referral(referral_id=later.pk, actor=manager(), risk="low", route="outreach")
    page = signed_in(manager()).get(reverse("referrals:case", args=[later.pk])).content.decode()
    assert earlier.reference in page
    assert reverse("referrals:case_action", args=[later.pk, "withdraw"]) + "?reason=duplicate" in page


def test_the_earlier_referral_is_declined_as_the_duplicate_when_the_later_is_already_placed():
    from tests.api.cases import bring_to

    earlier = submitted_referral(actor=responder())
    later = bring_to("placed", responder_user=responder()).referral  # the same person, since placed
    boss = signed_in(manager())
    page = boss.get(reverse("referrals:case", args=[earlier.pk])).content.decode()
    assert later.reference in page
    assert reverse("referrals:case_action", args=[earlier.pk, "decline"]) + "?reason=duplicate" in page
    assert "?reason=duplicate" not in boss.get(reverse("referrals:case", args=[later.pk])).content.decode()


def test_a_namesake_with_another_date_of_birth_and_nationality_is_not_a_possible_duplicate():
    namesake = submitted_referral(date_of_birth=datetime.date(1980, 1, 2), nationality="VN")
    referral = submitted_referral()
    page = signed_in(manager()).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "referred more than once" not in page and namesake.reference not in page


# ------------------------------------------------------------------------------ anonymous notification


def test_an_anonymous_notification_records_only_the_four_fields():
    user = responder()
    response = signed_in(user).post(
        reverse("referrals:anonymous_notification"),
        {
            "adult": "on",
            "gender": "male",
            "nationality": "VN",
            "exploitation_types": ["labour", "criminal"],
            "region": "wales",
            "given_name": "Should be ignored",
        },
    )
    assert response.status_code == 302
    notification = AnonymousNotification.objects.get()
    assert (notification.gender, notification.nationality, notification.region) == ("male", "VN", "wales")
    assert notification.exploitation_types == ["labour", "criminal"]
    assert notification.organisation_id == user.organisation_id
    assert not Referral.objects.exists()


NOTIFICATION_FIELDS = {
    "adult": "on",
    "gender": "male",
    "nationality": "VN",
    "exploitation_types": ["labour"],
    "region": "wales",
}


def test_an_anonymous_notification_gives_its_number_and_time_and_is_listed_for_the_organisation():
    user = responder()
    elsewhere = services.submit_anonymous_notification(
        actor=responder(), gender="female", nationality="AL", exploitation_types=["sexual"], region="london"
    )
    client = signed_in(user)
    response = client.post(NOTIFICATION, NOTIFICATION_FIELDS, follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:anonymous_notifications")
    notification = AnonymousNotification.objects.get(organisation=user.organisation)
    html = response.content.decode()
    recorded = local_time(notification.submitted_at, "%H:%M on %-d %B %Y")
    assert f"Anonymous notification number {notification.pk} recorded at {recorded}." in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert f'<td data-label="Number">{notification.pk}</td>' in rows
    assert "Viet" in rows and "Wales" in rows and "Labour" in rows
    # Another organisation's notification is not this one's to see.
    assert f'<td data-label="Number">{elsewhere.pk}</td>' not in rows


def test_the_anonymous_notifications_list_costs_the_same_queries_for_one_as_for_fifty():
    user = responder()
    client = signed_in(user)
    url = reverse("referrals:anonymous_notifications")

    def queries() -> int:
        client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    fields = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    services.submit_anonymous_notification(actor=user, **fields)
    one = queries()
    for _ in range(49):
        services.submit_anonymous_notification(actor=user, **fields)
    assert queries() == one


def test_only_first_responders_and_managers_list_anonymous_notifications():
    provider_staff = provider_user()
    response = signed_in(provider_staff).get(reverse("referrals:anonymous_notifications"))
    assert response.status_code == 403


def test_a_manager_finds_any_organisations_notification_by_the_number_its_responder_quotes():
    fields = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    quoted, other = (services.submit_anonymous_notification(actor=responder(), **fields) for _ in range(2))
    url = reverse("referrals:anonymous_notifications")
    client = signed_in(manager())

    def numbers(response) -> list[str]:
        assert response.status_code == 200
        return re.findall(r'<td data-label="Number">(\d+)</td>', response.content.decode())

    assert numbers(client.get(url)) == [str(other.pk), str(quoted.pk)]
    found = client.get(url, {"number": f" {quoted.pk} "})
    assert numbers(found) == [str(quoted.pk)]
    assert f'<td data-label="Organisation">{quoted.organisation.name}</td>' in found.content.decode()
    for typed in ("12a", "9" * 30, str(other.pk + 1000)):
        missing = client.get(url, {"number": typed})
        assert (
            numbers(missing) == [] and "No anonymous notification has the number" in missing.content.decode()
        )
    # A responder finds only their own organisation's.
    assert numbers(signed_in(responder()).get(url, {"number": quoted.pk})) == []


def hidden_value(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', html)[1]


def test_a_date_of_birth_and_an_estimate_that_disagree_are_refused_until_the_age_is_in_doubt():
    client = signed_in(responder())
    typed = intake_data(date_of_birth="1996-03-14", age_estimate="16", local_authority="Kent County Council")

    response = client.post(INTAKE, typed)
    assert response.status_code == 400
    html = response.content.decode()
    assert error_summary_links(html)["id_age_estimate"] == (
        "The date of birth and the age estimate of 16 disagree on whether the person is under 18. If you "
        "believe they may be a child, tick “may be under 18” (age in doubt) to keep both. Otherwise put right "
        "whichever is wrong, or clear the estimate if the date of birth is right."
    )
    assert not Referral.objects.exists()

    assert client.post(INTAKE, {**typed, "age_in_doubt": "on"}).status_code == 302
    referral = Referral.objects.get()
    assert referral.is_child and (referral.date_of_birth, referral.age_estimate) == (
        datetime.date(1996, 3, 14),
        16,
    )


def test_while_the_ages_disagree_a_local_authority_is_not_demanded_as_for_a_child():
    response = signed_in(responder()).post(INTAKE, intake_data(date_of_birth="2000-01-01", age_estimate="12"))
    assert response.status_code == 400
    assert list(error_summary_links(response.content.decode())) == ["id_age_estimate"]


def test_an_adult_who_does_not_consent_is_notified_anonymously_without_typing_the_four_fields_again():
    client = signed_in(responder())
    typed = intake_data(consent=None, exploitation_types=["labour", "criminal"])
    refused = client.post(INTAKE, typed).content.decode()
    button = re.search(
        r'<button type="submit" name="action" value="([a-z_]+)" formaction="([^"]+)"[^>]*>'
        r"Make an anonymous notification instead</button>",
        refused,
    )
    assert button, "no way on to an anonymous notification beside the consent error"
    # Pressed, the button sends the whole form, as typed, to its own address.
    sent = {**typed, "action": button[1], "owner": hidden_value(refused, "owner")}
    page = client.post(button[2], {**sent, "form_key": hidden_value(refused, "form_key")})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Anonymous notification (duty to notify)</h1>" in html
    assert re.search(r'name="gender" value="female"[^>]*checked', html)
    assert '<option value="ER" selected>' in html and '<option value="london" selected>' in html
    assert set(re.findall(r'name="exploitation_types" value="([^"]+)"[^>]*checked', html)) == {
        "labour",
        "criminal",
    }
    for personal in ("Amina", "Haile", "1995-03-14", "07700 900123", "car wash"):
        assert personal not in html
    assert "error-summary" not in html  # not yet sent: nothing to refuse
    assert not (
        AnonymousNotification.objects.exists()
        or Referral.objects.exists()
        or ReferralDraft.objects.exists()
        or UnsentForm.objects.exists()
    )
    assert not [event for event in AuditEvent.objects.all() if "Amina" in f"{event.what} {event.changes}"]

    assert not re.search(r'name="adult"[^>]*checked', html)  # the responder confirms it, not the referral
    notification = {
        "form_key": hidden_value(html, "form_key"),
        "owner": hidden_value(html, "owner"),
        "adult": "on",
    }
    for name in ("gender", "nationality", "region"):
        notification[name] = typed[name]
    notification["exploitation_types"] = typed["exploitation_types"]
    assert client.post(button[2], notification).status_code == 302
    recorded = AnonymousNotification.objects.get()
    assert (recorded.gender, recorded.nationality, recorded.region) == ("female", "ER", "london")
    assert recorded.exploitation_types == ["labour", "criminal"]


def test_a_draft_of_the_referral_an_adult_did_not_consent_to_goes_when_the_notification_is_sent():
    client = signed_in(responder())
    typed = intake_data(consent=None)
    client.post(INTAKE, {**typed, "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    loaded = {"draft": draft.pk, "draft_version": draft.version}
    refused = client.post(INTAKE, {**typed, **loaded}).content.decode()
    button = re.search(r'value="(from_referral)" formaction="([^"]+)"', refused)
    sent = {**typed, **loaded, "action": button[1], "owner": hidden_value(refused, "owner")}

    html = client.post(button[2], {**sent, "form_key": hidden_value(refused, "form_key")}).content.decode()

    assert "the draft saved from it is deleted when you send the notification" in html
    # The responder's own statement, pointed out, never ticked for them.
    assert "tick “The person is 18 or over and their age is not in doubt” if it is so" in html
    assert re.search(r'name="adult"', html) and not re.search(r'name="adult"[^>]*checked', html)
    notification = {name: typed[name] for name in ("gender", "nationality", "region", "exploitation_types")}
    notification["adult"] = "on"
    for name in ("form_key", "owner", "draft", "draft_version"):
        notification[name] = hidden_value(html, name)
    assert client.post(button[2], notification).status_code == 302
    assert AnonymousNotification.objects.exists() and not ReferralDraft.objects.exists()


def test_refused_for_want_of_consent_the_way_on_to_a_notification_is_beside_the_consent_error():
    client = signed_in(responder())
    client.post(INTAKE, {**intake_data(consent=None), "action": "save_draft"})
    draft = ReferralDraft.objects.get()

    html = client.post(INTAKE, {**intake_data(consent=None), **opened(client, draft)}).content.decode()

    # The lead's link and the summary's lead to the button, right under the consent field's error.
    assert 'make an <a href="#notify-instead">anonymous notification</a> instead' in html
    assert error_summary_links(html)["id_consent"].startswith("An adult must consent to be referred.")
    consent = html.index('id="id_consent"')
    button = html.index('id="notify-instead"')
    assert consent < button < html.index("<h2>The person</h2>")
    assert (
        "nothing else, and the draft is deleted once it is sent."
        in html[button : html.index("<h2>The person</h2>")]
    )
    assert html.count(">Make an anonymous notification instead</button>") == 1
    # Enter in a field still submits the referral: the form's first button does, before that one.
    buttons = re.findall(r'<button type="submit" name="action" value="([a-z_]+)"', html)
    assert buttons[:2] == ["submit", "from_referral"]


def test_the_intake_link_to_a_notification_carries_the_open_draft_which_goes_once_it_is_sent():
    user = responder()
    client = signed_in(user)
    assert (
        f'<a href="{NOTIFICATION}">anonymous notification</a>'
        in client.get(INTAKE, follow=True).content.decode()
    )
    typed = intake_data(
        consent=None, gender="male", nationality="AL", exploitation_types=["labour", "criminal"]
    )
    client.post(INTAKE, {**typed, "action": "save_draft"})
    draft = ReferralDraft.objects.get()

    form = client.get(INTAKE, {"draft": draft.pk}, follow=True).content.decode()
    link = f"{NOTIFICATION}?draft={draft.pk}"
    assert f'<a href="{link}">anonymous notification</a>' in form
    response = client.get(link, follow=True)

    html = response.content.decode()
    assert "<h1>Anonymous notification (duty to notify)</h1>" in html
    assert "taken from your draft; the draft is deleted when you send the notification" in html
    assert re.search(r'name="gender" value="male"[^>]*checked', html)
    assert '<option value="AL" selected>' in html and '<option value="london" selected>' in html
    assert set(re.findall(r'name="exploitation_types" value="([^"]+)"[^>]*checked', html)) == {
        "labour",
        "criminal",
    }
    for personal in ("Amina", "Haile", "1995-03-14", "07700 900123", "car wash"):
        assert personal not in html
    assert AuditEvent.objects.filter(actor=user, what__endswith=": anonymous notification form").count() == 1
    notification = {
        name: hidden_value(html, name) for name in ("form_key", "owner", "draft", "draft_version")
    }
    notification.update(
        adult="on", gender="male", nationality="AL", region="london", exploitation_types="labour"
    )

    assert client.post(response.redirect_chain[-1][0], notification).status_code == 302
    assert AnonymousNotification.objects.exists() and not ReferralDraft.objects.exists()


def test_the_way_on_to_an_anonymous_notification_is_offered_only_for_want_of_consent():
    client = signed_in(responder())
    for refused in (
        intake_data(gender=None),
        intake_data(consent=None, date_of_birth="2012-01-01", region=""),
    ):
        html = client.post(INTAKE, refused).content.decode()
        assert "Make an anonymous notification instead" not in html


def test_an_anonymous_notification_keeps_an_exploitation_type_posted_twice_once():
    response = signed_in(responder()).post(
        reverse("referrals:anonymous_notification"),
        {
            "adult": "on",
            "gender": "male",
            "nationality": "VN",
            "exploitation_types": ["labour", "criminal", "labour"],
            "region": "wales",
        },
    )
    assert response.status_code == 302
    assert AnonymousNotification.objects.get().exploitation_types == ["labour", "criminal"]


def test_an_incomplete_anonymous_notification_shows_the_error_summary():
    response = signed_in(responder()).post(
        reverse("referrals:anonymous_notification"), {"adult": "on", "gender": "male"}
    )
    assert response.status_code == 400
    links = error_summary_links(response.content.decode())
    assert set(links) == {"id_nationality", "id_exploitation_types_0", "id_region"}
    assert not AnonymousNotification.objects.exists()


def test_an_anonymous_notification_is_sent_only_once_the_person_is_confirmed_an_adult():
    client = signed_in(responder())
    url = reverse("referrals:anonymous_notification")
    form = client.get(url, follow=True).content.decode()
    assert re.search(
        r'<input type="checkbox" name="adult" aria-describedby="id_adult_helptext" id="id_adult">', form
    )
    assert "The person is 18 or over and their age is not in doubt" in form
    hint = re.search(r'<div class="hint" id="id_adult_helptext">(.*?)</div>', form)[1]
    assert "A child, or anyone whose age is in doubt, must be referred instead" in hint
    assert f'<a href="{INTAKE}">make a referral</a>' in hint
    details = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    response = client.post(url, details)
    assert response.status_code == 400
    html = response.content.decode()
    unticked = "Confirm that the person is 18 or over and their age is not in doubt."
    assert set(error_summary_links(html)) == {"id_adult"}
    assert error_summary_links(html)["id_adult"].startswith(unticked)
    box = re.search(r'<input type="checkbox" name="adult"([^>]*)>', html)[1]
    assert 'aria-invalid="true"' in box and 'aria-describedby="id_adult_helptext id_adult_error"' in box
    assert '<p class="error-message" id="id_adult_error">' in html
    assert not AnonymousNotification.objects.exists()
    assert client.post(url, {**details, "adult": "on"}).status_code == 302
    assert AnonymousNotification.objects.exists()


def test_with_duplicates_shown_the_forms_default_button_checks_again_rather_than_submitting_anyway():
    user = responder()
    submitted_referral(actor=user)
    html = signed_in(user).post(INTAKE, intake_data()).content.decode()
    form = html[html.index('<form method="post" action="' + INTAKE) :]
    # Enter in a field presses the first submit button in the form.
    first_button = re.search(r'<button type="submit" name="action" value="([^"]+)"', form)
    assert first_button[1] == "submit"


def owner_field(client) -> str:
    return re.search(r'name="owner" value="([^"]+)"', client.get(INTAKE, follow=True).content.decode())[1]


def test_what_was_typed_when_the_session_ended_is_kept_as_a_draft_for_after_sign_in():
    user = responder()
    client = signed_in(user)
    owner = owner_field(client)
    session_lapses(client)  # the idle timeout ended the session while the form was open
    response = client.post(INTAKE, intake_data(owner=owner, account="Typed at length before the timeout."))
    draft = ReferralDraft.objects.get(owner=user)
    kept = AuditEvent.objects.get(what=f"draft {draft.pk}: kept from a lapsed session")
    assert kept.actor == user
    resume = f"{INTAKE}?draft={draft.pk}"
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(resume)}"
    assert draft.data["account"] == "Typed at length before the timeout."
    assert not Referral.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "What you typed is saved as a draft: sign in to carry on." in page
    client.force_login(user)
    assert "Typed at length before the timeout." in client.get(resume, follow=True).content.decode()


def draft_open_as_the_session_lapses(client) -> tuple[ReferralDraft, str]:
    """A draft of Amina Haile saved, then opened again, and the session ending before it is sent: the
    draft and the form's owner value."""
    client.post(INTAKE, {"given_name": "Amina", "family_name": "Haile", "action": "save_draft"})
    saved = ReferralDraft.objects.get()
    page = client.get(f"{INTAKE}?draft={saved.pk}", follow=True).content.decode()
    owner = re.search(r'name="owner" value="([^"]+)"', page)[1]
    session_lapses(client)
    return saved, owner


def test_a_draft_sent_after_the_session_ended_is_kept_as_a_new_draft_leaving_the_saved_one_as_it_was():
    client = signed_in(responder())
    saved, owner = draft_open_as_the_session_lapses(client)
    response = client.post(
        f"{INTAKE}?draft={saved.pk}",
        {"owner": owner, "draft": saved.pk, "given_name": "Overwritten", "action": "save_draft"},
    )
    kept = ReferralDraft.objects.exclude(pk=saved.pk).get()
    assert response["Location"] == f"{reverse('login')}?next={quote(f'{INTAKE}?draft={kept.pk}')}"
    assert ReferralDraft.objects.get(pk=saved.pk).data["given_name"] == "Amina"
    assert kept.data["given_name"] == "Overwritten"


def test_a_draft_sent_unchanged_after_the_session_ended_keeps_no_second_copy():
    client = signed_in(responder())
    saved, owner = draft_open_as_the_session_lapses(client)
    response = client.post(
        f"{INTAKE}?draft={saved.pk}",
        {
            "owner": owner,
            "draft": saved.pk,
            "given_name": "Amina",
            "family_name": "Haile",
            "action": "save_draft",
        },
    )
    assert ReferralDraft.objects.get() == saved
    assert response["Location"] == f"{reverse('login')}?next={quote(f'{INTAKE}?draft={saved.pk}')}"


def test_the_drafts_list_tells_two_drafts_of_one_person_apart_by_the_second_saved_in_each_links_name():
    user = responder()
    client = signed_in(user)
    for account in ("First version.", "Second version."):
        client.post(
            INTAKE,
            {"given_name": "Amina", "family_name": "Haile", "account": account, "action": "save_draft"},
        )
    older, newer = ReferralDraft.objects.order_by("pk")
    ReferralDraft.objects.filter(pk=older.pk).update(
        updated_at=newer.updated_at - datetime.timedelta(seconds=7)
    )
    older.refresh_from_db()
    html = client.get(reverse("referrals:drafts")).content.decode()
    names = re.findall(r'>Resume<span class="visually-hidden">([^<]*)</span>', html)
    assert names == [
        f" the draft for Amina Haile, saved {local_time(draft.updated_at, '%-d %b %Y %H:%M:%S')}"
        for draft in (newer, older)
    ]
    assert len(set(names)) == 2


def test_a_copied_owner_value_keeps_no_draft_from_a_browser_that_never_signed_in():
    user = responder()
    owner = owner_field(signed_in(user))
    stranger = Client()
    stranger.get(reverse("login"))
    response = stranger.post(INTAKE, {"owner": owner, "given_name": "Planted", "action": "submit"})
    assert response["Location"].startswith(reverse("login"))
    assert not ReferralDraft.objects.exists()


@pytest.mark.parametrize("owner", ["", "forged", "a manager"])
def test_without_a_first_responders_signature_an_expired_form_keeps_nothing(owner):
    client = signed_in(responder())
    if owner == "a manager":  # signed, but for someone who does not refer, in this browser
        client.get(INTAKE, follow=True)
        owner = owner_token(manager(), INTAKE, client.cookies[BROWSER_KEY_COOKIE].value)
    session_lapses(client)
    response = client.post(INTAKE, intake_data(owner=owner))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not ReferralDraft.objects.exists()


def test_a_draft_that_expires_while_the_form_is_open_does_not_lose_the_referral():
    user = responder()
    client = signed_in(user)
    client.post(INTAKE, {"given_name": "Amina", "action": "save_draft"})
    draft = ReferralDraft.objects.get()
    ReferralDraft.objects.filter(pk=draft.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.post(INTAKE, intake_data(draft=str(draft.pk)))
    assert response.status_code == 302
    assert Referral.objects.filter(organisation=user.organisation).count() == 1


# A browser sends each line break of a textarea as "\r\n"; a JSON client sends "\n".
ACCOUNT_IN_LINES = "\n".join(["Made to work unpaid."] * 700)  # 14,699 characters; 15,398 with "\r\n"


def test_an_account_with_line_breaks_is_counted_and_stored_as_through_the_api():
    assert len(ACCOUNT_IN_LINES) < 15_000 < len(ACCOUNT_IN_LINES.replace("\n", "\r\n"))
    user = responder()
    response = signed_in(user).post(INTAKE, intake_data(account=ACCOUNT_IN_LINES.replace("\n", "\r\n")))
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
    fields = api_intake(account=ACCOUNT_IN_LINES, given_name="Selam")
    assert api.post("/api/v1/referrals/", fields, format="json").status_code == 201
    assert [referral.account for referral in Referral.objects.all()] == [ACCOUNT_IN_LINES] * 2


def test_an_account_too_long_says_by_how_much_counting_each_line_break_once():
    too_long = ACCOUNT_IN_LINES + "\r\n" + "x" * 400  # 15,100 characters, each line break one
    response = signed_in(responder()).post(INTAKE, intake_data(account=too_long))
    assert web_error(response, "account") == (
        "The account must be at most 15,000 characters; it is 15,100 characters: remove 100."
    )


def test_the_responders_case_page_shows_state_reference_deadlines_and_history():
    user = responder()
    referral = submitted_referral(actor=user)
    html = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert referral.reference in html
    assert "Received" in html
    assert "Assessment: due" in html
    assert "Submit" in html
    assert "/withdraw/" in html


# ------------------------------------------------------------- the same messages on the web and the API


def api_errors(url: str, body: dict) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(responder()).key}")
    response = client.post(url, body, format="json")
    assert response.status_code == 400, response.json()
    return response.json()


def web_error(response, field: str) -> str:
    assert response.status_code == 400
    message = re.search(
        rf'<p class="error-message" id="id_{field}_error"><span class="visually-hidden">Error: </span>(.*?)</p>',
        response.content.decode(),
    )
    assert message, f"no error on {field}"
    return unescape(message[1])


def api_intake(**overrides) -> dict:
    fields = referral_fields()
    fields["date_of_birth"] = fields["date_of_birth"].isoformat()
    for key, value in overrides.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = value
    return fields


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("given_name", None, "Enter the person's given name."),
        ("given_name", "", "Enter the person's given name."),
        ("given_name", "x" * 101, "The given name must be at most 100 characters; shorten it."),
        ("family_name", "", "Enter the person's family name."),
        ("aliases", "x" * 201, "The other names must be at most 200 characters; shorten it."),
        ("date_of_birth", "2000-02-30", "Enter the date of birth as a real date"),
        ("age_estimate", "twelve", "Enter the age estimate as a whole number of years"),
        ("gender", None, "Choose the person's gender, or unknown."),
        ("nationality", "", "Choose the person's nationality, or stateless or unknown."),
        ("languages", None, "Choose at least one language the person speaks."),
        ("exploitation_types", None, "Choose at least one type of exploitation."),
        ("exploitation_location", None, "Choose where the exploitation happened."),
        ("region", "", "Choose the region where the person is now."),
        (
            "account",
            "x" * 15_001,
            "The account must be at most 15,000 characters; it is 15,001 characters: remove 1.",
        ),
        ("crime_reference", "x" * 51, "The crime reference must be at most 50 characters; shorten it."),
        ("responder_reference", "x" * 51, "Your reference must be at most 50 characters; shorten it."),
    ],
)
def test_a_missing_blank_too_long_or_unreadable_field_gets_the_same_message_on_the_web_and_the_api(
    field, value, says
):
    web = web_error(signed_in(responder()).post(INTAKE, intake_data(**{field: value})), field)
    api = api_errors("/api/v1/referrals/", api_intake(**{field: value}))
    assert api[field] == [web]
    assert web.startswith(says)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("gender", None, "Choose the person's gender, or unknown."),
        ("nationality", "", "Choose the person's nationality, or stateless or unknown."),
        ("exploitation_types", None, "Choose at least one type of exploitation."),
        ("region", "", "Choose the region where you met the person."),
    ],
)
def test_an_anonymous_notification_gets_the_same_message_on_the_web_and_the_api(field, value, says):
    body = {"gender": "male", "nationality": "VN", "exploitation_types": ["labour"], "region": "wales"}
    if value is None:
        del body[field]
    else:
        body[field] = value
    web = web_error(signed_in(responder()).post(reverse("referrals:anonymous_notification"), body), field)
    api = api_errors("/api/v1/anonymous-notifications/", body)
    assert api[field] == [web] == [says]


def test_the_consent_error_says_to_tick_age_in_doubt_if_the_person_may_be_under_18():
    web = web_error(signed_in(responder()).post(INTAKE, intake_data(consent=None)), "consent")
    api = api_errors("/api/v1/referrals/", api_intake(consent=False))
    # The same rule, in the API's own words: its fields, not the form's boxes.
    assert api["consent"] == [NO_CONSENT_IN_THE_API]
    assert "set consent to true" in api["consent"][0] and "set age_in_doubt to true" in api["consent"][0]
    assert "If the person may be under 18, tick “may be under 18” (age in doubt)" in web
    assert "no consent is needed" in web
    assert web.endswith("make an anonymous notification (duty to notify) instead.")


def emergency_hint(html: str) -> str:
    return unescape(re.search(r'<div class="hint" id="id_emergency_helptext">(.*?)</div>', html, re.S)[1])


def test_the_emergency_hint_says_the_placement_is_due_a_day_after_the_assessment_and_whom_to_phone_tonight():
    """A responder at 2 a.m. must not read that a bed follows within a day: the day starts only once the
    managers have assessed the referral, which may take the whole assessment clock."""
    hint = emergency_hint(signed_in(responder()).get(INTAKE, follow=True).content.decode())
    assert "Shortens the placement deadline" not in hint
    assert (
        "their assessment may take up to 5\xa0working days, and the placement is due 1\xa0day after it. "
        "If the person needs a place to stay tonight, phone the managers' 24-hour duty line on "
        f"{unescape(DUTY_LINE)}." in hint
    )
    assert hint.endswith("Tick 'Needs a safe place to stay' too.")


def test_the_emergency_hint_gives_the_deadlines_as_configured(settings):
    settings.DEADLINE_ASSESSMENT_WORKING_DAYS = 1
    settings.DEADLINE_PLACEMENT_EMERGENCY_HOURS = 12
    hint = emergency_hint(signed_in(responder()).get(INTAKE, follow=True).content.decode())
    assert "may take up to 1\xa0working day, and the placement is due 12\xa0hours after it." in hint


def test_the_correction_form_makes_no_claim_that_an_emergency_is_placed_within_a_day():
    referral = submitted_referral()
    url = reverse("referrals:case_action", args=[referral.pk, "correct"])
    html = signed_in(referral.submitted_by).get(url, follow=True).content.decode()
    hint = unescape(re.search(r'<div class="hint" id="id_correct-emergency_helptext">(.*?)</div>', html)[1])
    assert hint == "Tick 'Needs a safe place to stay' too."


def important_notice(html: str) -> str:
    notice = re.search(
        r'<div class="notice"[^>]*>\s*<h2 id="messages-title">Important</h2>(.*?)</div>', html, re.S
    )
    return notice[1] if notice else ""


def test_submitting_an_emergency_says_no_place_is_arranged_yet_when_the_assessment_is_due_and_whom_to_phone():
    client = signed_in(responder())
    html = client.post(INTAKE, intake_data(emergency="on"), follow=True).content.decode()
    referral = Referral.objects.get()
    due = local_time(referral.deadlines.get(clock=Clock.ASSESSMENT).due_at, "%-d %b %Y %H:%M")
    notice = important_notice(html)
    assert DUTY_LINE in notice  # to tap to call
    assert (
        f"{referral.reference} is an emergency, but no place is arranged yet: the managers' assessment is due "
        f"by {due}, and the placement 1\xa0day after it. If the person needs a place to stay tonight, phone "
        f"the managers' 24-hour duty line on 020 7946 0321 and quote {referral.reference}."
    ) in unescape(re.sub(r"<[^>]+>", "", notice))
    # The same due time as the case page it lands on gives the assessment.
    assert f"Assessment: due {due}" in html
    assert "Managers have been told." in html


def test_submitting_a_referral_that_is_no_emergency_says_nothing_of_a_place_tonight():
    html = signed_in(responder()).post(INTAKE, intake_data(), follow=True).content.decode()
    assert "Managers have been told." in html
    assert "tonight" not in html.split("<footer")[0] and important_notice(html) == ""
