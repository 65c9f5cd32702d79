"""The three journeys of SPEC §9 in a real browser: first responder, manager, care provider."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import Page

from notifications.models import Channel, DeliveryState, Event, Notification
from referrals.drafts import save_draft
from referrals.models import Referral, ReferralDraft, TransitionLog, UnsentForm
from tests.factories import (
    PASSWORD,
    CareProviderFactory,
    birthday_years_ago,
    manager,
    placed_since,
    provider_user,
    responder,
)
from tests.notifications.receivers import wait_for
from tests.web.conftest import placed

from .conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REFERENCE = re.compile(r"HBR-\d{4}-\d{6}")


def fill_referral(page: Page, *, given_name: str = "Lule", family_name: str = "Tesfay") -> None:
    """Fill the intake form as a responder would, with a mouse or a finger."""
    page.get_by_label("Given name").fill(given_name)
    page.get_by_label("Family name").fill(family_name)
    page.get_by_label("The person consents to being referred").check()
    page.get_by_label("Date of birth").fill("1996-05-02")
    page.get_by_label("Female", exact=True).check()
    page.get_by_label("Nationality", exact=True).select_option("ER")
    languages = page.get_by_role("group", name="Languages the person speaks")
    languages.get_by_label("Tigrinya", exact=True).check()
    languages.get_by_label("English", exact=True).check()
    page.get_by_label("Labour").check()
    page.get_by_label("UK and overseas").check()
    page.get_by_label("Region where the person is now").select_option("london")
    page.get_by_label("Needs a safe place to stay").check()
    page.get_by_label("Your account").fill(
        "Found at a car wash; <script>alert(1)</script> no pay, documents held."
    )


def inbox_text(journey) -> str:
    journey.go(re.compile(r"^Inbox"), "inbox")
    return journey.page.locator("main").inner_text()


def emails_delivered(reference: str, *events: str) -> None:
    """Wait for the real worker to deliver every email of the case (of those events, if named). Waited for
    before the step that ends what an email tells of: sent after it, the email would no longer be current,
    and not be sent at all."""
    emails = Notification.objects.filter(reference=reference, channel=Channel.EMAIL)
    if events:
        emails = emails.filter(event__in=events)
    wait_for(
        lambda: emails.exists() and not emails.exclude(state=DeliveryState.DELIVERED).exists(), timeout=60
    )


def test_a_referral_goes_from_intake_to_recovery_through_the_three_journeys(journeys, live_harbour):
    police = responder(username="pc-jones")
    boss = manager(username="duty-manager")
    safe_house = CareProviderFactory(name="Harbour House", organisation__name="Harbour House Trust")
    provider_user(safe_house, username="harbour-house")

    # First responder: errors first, then a draft, then the referral.
    officer = journeys("responder")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    officer.submit("Submit referral", "intake errors")
    summary = page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text()
    first_error = summary.get_by_role("link").first
    target = first_error.get_attribute("href").lstrip("#")
    first_error.click()
    assert page.evaluate("document.activeElement.id") == target

    page.get_by_label("Given name").fill("Lule")
    page.get_by_label("Family name").fill("Tesfay")
    officer.submit("Save draft", "draft saved")
    officer.go("Cases", "case list before submitting")
    officer.go("Drafts", "drafts")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("^Resume")).first.click()
    officer.look("draft resumed")
    assert page.get_by_label("Given name").input_value() == "Lule"
    assert page.get_by_label("Family name").input_value() == "Tesfay"

    fill_referral(page)
    officer.submit("Submit referral", "referral submitted")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    assert "<script>" in page.locator("main").inner_text(), "free text is shown escaped, as typed"
    officer.go("Cases", "case list")
    assert reference in page.locator("main").inner_text()

    # Manager: triage, assess, offer to the suggested provider.
    emails_delivered(reference, Event.REFERRAL_RECEIVED)
    duty = journeys("manager")
    duty.sign_in(boss.username)
    page = duty.go("Triage", "triage queue")
    duty.go(reference, "case to assess")
    page.locator("#action-assess").get_by_label("High").check()
    page.locator("#action-assess").get_by_label("Accommodation (safe house)").check()
    duty.submit("Assess", "assessed", within="#action-assess")
    assert "Harbour House" in page.locator(".suggestions").inner_text()
    page.locator("#action-offer").get_by_label("Care provider").select_option(str(safe_house.pk))
    duty.submit("Make the offer", "offered", within="#action-offer")
    assert "Offered to Harbour House" in page.locator("main").inner_text()

    # Provider: the offer in the inbox and the offers page; accept; progress; missing; found; recover.
    house = journeys("provider")
    house.sign_in("harbour-house")
    assert reference in inbox_text(house)
    page = house.go("Offers", "offers waiting")
    house.go(reference, "offered case")
    emails_delivered(reference, Event.OFFER_MADE)
    house.submit("Accept", "accepted", within="#action-accept")
    page.locator("#action-record_progress").get_by_label("Progress note").fill(
        "Settled in; GP registration booked."
    )
    house.submit("Save progress note", "progress recorded", within="#action-record_progress")
    house.go("Report missing", "report missing")
    page.get_by_label("Last seen at").fill(f"{timezone.localtime():%Y-%m-%dT%H:%M}")
    house.submit("Report missing", "reported missing", within="#action-report_missing")
    emails_delivered(reference, Event.PERSON_MISSING)
    house.submit("Mark as found", "found", within="#action-found")
    house.go("Record recovery", "record recovery")
    page.get_by_label("Move-on outcome").select_option("independent_living")
    house.submit("Record recovery", "recovered", within="#action-recover")
    assert Referral.objects.get(reference=reference).state == "recovered"
    house.go("Caseload", "caseload after recovery")

    # What each journey caused reached the others' inboxes.
    officer_inbox = inbox_text(officer)
    for event in ("Referral assessed", "Person placed", "Person reported missing", "recovered"):
        assert event in officer_inbox and reference in officer_inbox
    manager_inbox = inbox_text(duty)
    for event in ("New referral", "Person placed", "Person reported missing"):
        assert event in manager_inbox

    # Manager, later: the caseload report and the case's audit trail.
    page = duty.go("Reports", "caseload report")
    assert page.locator("svg").count() > 0
    duty.page.goto(f"/cases/{Referral.objects.get(reference=reference).pk}/audit/")
    duty.look("case audit trail")
    assert "pc-jones" in page.locator("main").inner_text()

    # The real worker delivered the emails the journey caused.
    emails_delivered(reference)
    assert any(reference in message["Subject"] for message in live_harbour.smtp.messages)


def test_a_referral_can_be_made_and_assessed_without_javascript(journeys):
    police = responder(username="no-js-officer")
    boss = manager(username="no-js-manager")

    officer = journeys("responder-without-javascript", javascript=False)
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    fill_referral(page, given_name="Besa", family_name="Krasniqi")
    officer.submit("Submit referral", "referral submitted")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)

    duty = journeys("manager-without-javascript", javascript=False)
    duty.sign_in(boss.username)
    page = duty.go("Triage", "triage queue")
    duty.go(reference, "case to assess")
    page.locator("#action-assess").get_by_label("Medium").check()
    page.locator("#action-assess").get_by_label("Outreach").check()
    duty.submit("Assess", "assessed", within="#action-assess")
    assert Referral.objects.get(reference=reference).state == "assessed"


def test_the_intake_form_can_be_completed_with_the_keyboard_alone(journeys):
    police = responder(username="keyboard-officer")
    officer = journeys("responder-keyboard")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    keyboard = page.keyboard

    def tab_to(field_id: str) -> None:
        for _ in range(400):
            keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == field_id:
                return
        raise AssertionError(f"#{field_id} cannot be reached with the Tab key")

    tab_to("id_consent")
    keyboard.press("Space")
    tab_to("id_given_name")
    keyboard.type("Hoa")
    tab_to("id_family_name")
    keyboard.type("Nguyen")
    tab_to("id_age_estimate")
    keyboard.type("16")
    tab_to("id_gender_0")  # Tab reaches the radio group; arrow keys choose within it
    keyboard.press("ArrowDown")
    tab_to("id_local_authority")  # a child: the children's services told come first
    keyboard.type("Birmingham City Council")
    tab_to("id_nationality")
    officer.type_to_choose("Viet")
    tab_to(page.get_by_label("Vietnamese", exact=True).get_attribute("id"))  # a checkbox
    keyboard.press("Space")
    tab_to("id_exploitation_types_2")
    keyboard.press("Space")
    tab_to("id_exploitation_location_0")
    keyboard.press("Space")
    tab_to("id_region")
    officer.type_to_choose("West Midlands")
    tab_to("id_account")
    keyboard.type("Found in a cannabis grow house.")
    for _ in range(60):
        keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Submit referral":
            break
    with page.expect_navigation():
        keyboard.press("Enter")
    officer.look("submitted with the keyboard")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    referral = Referral.objects.get(reference=reference)
    assert (referral.nationality, referral.languages, referral.region) == ("VN", ["vi"], "west_midlands")
    assert referral.is_child and referral.gender == "male" and referral.exploitation_types == ["criminal"]
    assert referral.local_authority == "Birmingham City Council"


def test_on_a_phone_languages_ticked_and_chosen_from_the_list_survive_an_error_and_are_both_stored(journeys):
    police = responder(username="phone-languages-officer")
    phone = journeys("responder-languages-phone", viewport=PHONE)
    phone.sign_in(police.username)
    page = phone.go("New referral", "intake form")
    phone.submit("Submit referral", "intake errors")
    no_language = page.get_by_role("alert").get_by_role("link", name=re.compile("at least one language"))
    no_language.click()
    assert page.evaluate("document.activeElement.id") == "id_languages_0"  # the first checkbox

    languages = page.get_by_role("group", name="Languages the person speaks")
    languages.get_by_label("Tigrinya", exact=True).check()
    languages.get_by_label("Other language 1").select_option("it")
    languages.get_by_label("Other language 2").select_option("fr")
    phone.submit("Submit referral", "intake errors again, languages chosen")

    languages = page.get_by_role("group", name="Languages the person speaks")
    ticked = languages.locator("input[type=checkbox]:checked")
    assert [box.get_attribute("value") for box in ticked.all()] == ["ti"]
    chosen = [languages.get_by_label(f"Other language {n}").input_value() for n in (1, 2, 3)]
    assert chosen == ["it", "fr", ""]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    fill_referral(page)  # ticks English too
    phone.submit("Submit referral", "referral submitted")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    assert Referral.objects.get(reference=reference).languages == ["en", "ti", "it", "fr"]


def test_a_keyboard_user_types_other_languages_one_per_list_and_keeps_each(journeys):
    police = responder(username="keyboard-languages-officer")
    officer = journeys("responder-keyboard-languages")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    fill_referral(page)
    page.get_by_label("Other language 1").focus()
    officer.type_to_choose("Italian")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_languages_other_2"
    officer.type_to_choose("French")
    chosen = [page.get_by_label(f"Other language {n}").input_value() for n in (1, 2, 3)]
    assert chosen == ["it", "fr", ""]  # typing in the second list left the first as it was
    officer.look("other languages typed")
    officer.submit("Submit referral", "referral submitted")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    assert Referral.objects.get(reference=reference).languages == ["en", "ti", "it", "fr"]


def test_enter_in_a_field_after_the_duplicates_notice_checks_again_and_submits_nothing(journeys):
    police = responder(username="enter-officer")
    officer = journeys("responder-duplicates")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    fill_referral(page, given_name="Ardit", family_name="Hoxha")
    officer.submit("Submit referral", "first referral")
    page = officer.go("New referral", "intake form again")
    fill_referral(page, given_name="Ardit", family_name="Hoxha")
    officer.submit("Submit referral", "duplicates notice")
    assert page.get_by_role("heading", name="This person may already have been referred").is_visible()
    with page.expect_navigation():
        page.get_by_label("Family name").press("Enter")
    officer.look("enter pressed")
    assert page.get_by_role("heading", name="This person may already have been referred").is_visible()
    assert Referral.objects.filter(organisation=police.organisation).count() == 1


def test_a_likely_duplicate_opens_in_a_new_tab_and_the_form_keeps_what_was_typed(journeys):
    police = responder(username="duplicate-tab-officer")
    officer = journeys("responder-duplicate-tab")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    fill_referral(page, given_name="Besnik", family_name="Krasniqi")
    officer.submit("Submit referral", "first referral")
    earlier = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    page = officer.go("New referral", "intake form again")
    fill_referral(page, given_name="Besnik", family_name="Krasniqi")
    page.get_by_label("Your account").fill("Met at a bus station, typed with care.")
    officer.submit("Submit referral", "duplicates notice")

    with officer.context.expect_page() as opened:
        page.get_by_role("link", name=f"{earlier} (opens in a new tab)").click()
    case_tab = opened.value
    case_tab.wait_for_load_state()
    assert earlier in case_tab.locator("h1").inner_text()
    assert case_tab.evaluate("window.opener") is None  # rel="noopener"
    case_tab.close()

    # The form is where it was, with what was typed and no resubmission to confirm.
    assert page.get_by_role("heading", name="This person may already have been referred").is_visible()
    assert page.get_by_label("Your account").input_value() == "Met at a bus station, typed with care."
    officer.look("form still there after the duplicate's tab")


def test_a_progress_note_typed_as_the_session_ended_is_on_the_form_again_after_signing_in(journeys):
    referral, staff, _ = placed()
    note = "Sleeping better; asked about college courses in the spring."
    carer = journeys("provider-signed-out-mid-note")
    carer.sign_in(staff.username)
    page = carer.page
    page.goto(f"/cases/{referral.pk}/record_progress/")
    carer.look("progress form")
    page.get_by_label("Progress note").fill(note)
    # The idle timeout, while the note was being typed: the server ends the session, the browser keeps
    # its cookie.
    session_key = next(cookie["value"] for cookie in carer.context.cookies() if cookie["name"] == "sessionid")
    Session.objects.filter(session_key=session_key).delete()
    page = carer.submit("Save progress note", "sent after the session ended")
    # Back to the form after signing in, with when what was typed expires.
    assert (
        f"/login/?next=/cases/{referral.pk}/record_progress/%3F" in page.url and "kept_until%3D" in page.url
    )
    assert page.get_by_text(
        "Nothing was sent: sign in again within 60 minutes to see what you typed."
    ).is_visible()
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(PASSWORD)
    page = carer.submit("Sign in", "the note again")
    assert f"/cases/{referral.pk}/record_progress/?kept_until=" in page.url and "&form=" in page.url
    assert page.get_by_label("Progress note").input_value() == note
    assert "check it and send it again" in page.locator(".messages").inner_text()
    assert not TransitionLog.objects.filter(referral=referral, transition="record_progress").exists()
    assert not UnsentForm.objects.exists()
    carer.submit("Save progress note", "the note sent again")
    assert TransitionLog.objects.get(referral=referral, transition="record_progress").input["note"] == note


def test_on_a_phone_a_rejection_sent_after_the_offer_ran_out_keeps_its_note_and_reallocating_warns_first(
    journeys,
):
    from referrals import services
    from tests.web.conftest import offered

    referral, house, _ = offered()
    staff = provider_user(house)
    concern = "Her trafficker's associates live two streets from our London house."
    carer = journeys("phone-provider-late-answer", viewport=PHONE)
    carer.sign_in(staff.username)
    page = carer.page
    page.goto(f"/cases/{referral.pk}/reject/")
    carer.look("rejection form")
    page.get_by_label("Reason for rejecting").select_option("safety_concern")
    page.get_by_label("Note (optional)").fill(concern)
    referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(seconds=1))
    page = carer.submit("Reject", "rejection not recorded", within="main")
    assert (
        "Your rejection was not recorded. This offer ran out unanswered"
        in page.get_by_role("alert").inner_text()
    )
    assert page.get_by_label("Note (optional)").input_value() == concern
    # To copy, not to send again: pressing Reject once more could only be refused again.
    assert not page.get_by_label("Note (optional)").is_editable()
    assert page.get_by_role("button", name="Reject").count() == 0
    assert page.get_by_role("link", name="Back to the case").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not TransitionLog.objects.filter(referral=referral, transition="reject").exists()

    placed_case, _, _ = placed(house)
    services.report_missing(referral_id=placed_case.pk, actor=staff, last_seen_at=timezone.now())
    page.goto(f"/cases/{placed_case.pk}/reallocate/")
    page = carer.look("reallocate a missing person")
    assert "can then no longer open this case" in page.locator(".notice").inner_text()


def test_on_a_phone_an_age_assessment_makes_an_adults_case_a_childs_and_the_safe_house_is_told(journeys):
    house = CareProviderFactory(name="Elm House", supports_children=False)
    referral, staff, _ = placed(house)
    officer = journeys("phone-age-assessment", viewport=PHONE)
    officer.sign_in(referral.submitted_by.username)
    page = officer.page
    page.goto(f"/cases/{referral.pk}/")
    officer.look("case before the age assessment")
    page = officer.go("Correct details", "correction form")
    assert page.get_by_label("Given name").input_value() == referral.given_name
    born = birthday_years_ago(16, days_from_today=40)
    page.get_by_label("Date of birth").fill(born.isoformat())
    page.get_by_label("Local authority whose children's services were told").fill("Newham")
    page.get_by_label("Reason for the correction").select_option("age_assessment")
    page = officer.submit("Save the correction", "details corrected", within="main")
    main = page.locator("main").inner_text()
    assert "Details corrected (age assessment): date of birth" in main
    history = page.get_by_role("region", name="History").inner_text()
    assert born.isoformat() not in history and f"{born:%-d %B %Y}" not in history, "names, never values"
    assert "Elm House, where they are placed, does not support children" in main
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert Referral.objects.get(pk=referral.pk).is_child

    carer = journeys("provider-told-of-correction")
    carer.sign_in(staff.username)
    assert "Details corrected" in inbox_text(carer)


def test_on_a_phone_without_javascript_a_provider_records_when_they_last_saw_the_person(journeys):
    referral, staff, _ = placed()
    placed_since(referral, timezone.now() - datetime.timedelta(days=2))
    carer = journeys("phone-no-script-seen-in-person", viewport=PHONE, javascript=False)
    carer.sign_in(staff.username)
    page = carer.page
    page.goto(f"/cases/{referral.pk}/record_progress/")
    carer.look("progress form")
    page.get_by_label("Progress note").fill("Visited at the house; she is well.")
    seen_at = page.get_by_label("When did you last see them in person? (optional)")
    seen_at.fill("2999-01-01T09:30")
    page = carer.submit("Save progress note", "a time seen in the future refused", within="main")
    summary = page.get_by_role("alert")
    summary.get_by_role("link", name="The time you last saw them cannot be in the future.").click()
    box = seen_at.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    seen = timezone.localtime() - datetime.timedelta(hours=3)
    seen_at.fill(f"{seen:%Y-%m-%dT%H:%M}")
    page = carer.submit("Save progress note", "progress with the time seen", within="main")
    history = page.get_by_role("region", name="History").inner_text()
    assert f"Seen in person at: {seen:%-d %B %Y %H:%M}" in history
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The missing form gives the sighting, and how to correct it, above the time last seen.
    page.goto(f"/cases/{referral.pk}/report_missing/")
    carer.look("missing form with the sighting")
    hint = page.locator("#id_report_missing-last_seen_at_helptext")
    assert hint.inner_text().startswith(f"Last recorded as seen in person at {seen:%H:%M on %-d %B %Y}")
    assert hint.bounding_box()["y"] < page.get_by_label("Last seen at").bounding_box()["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_progress_note_sent_again_after_going_back_is_recorded_once_and_the_same_note_anew_asked_about(
    journeys,
):
    referral, staff, _ = placed()
    note = "Settled in; seeing a GP on Monday."
    carer = journeys("provider-back-and-send-again")
    carer.sign_in(staff.username)
    page = carer.page
    page.goto(f"/cases/{referral.pk}/record_progress/")
    page.get_by_label("Progress note").fill(note)
    carer.submit("Save progress note", "note saved")
    page.go_back()
    carer.look("back on the form, the note put back by the browser")
    assert page.get_by_label("Progress note").input_value() == note
    page = carer.submit("Save progress note", "the same form sent again")
    assert "That form had already been sent" in page.locator(".messages").inner_text()
    assert TransitionLog.objects.filter(referral=referral, transition="record_progress").count() == 1
    page.goto(f"/cases/{referral.pk}/record_progress/")  # the form opened anew, the same note typed
    page.get_by_label("Progress note").fill(note)
    page = carer.submit("Save progress note", "asked before sending again")
    assert page.get_by_role("heading", name="You sent this a moment ago").is_visible()
    assert TransitionLog.objects.filter(referral=referral, transition="record_progress").count() == 1
    carer.submit("Send it again", "sent again on purpose")
    assert TransitionLog.objects.filter(referral=referral, transition="record_progress").count() == 2


def test_a_draft_saved_then_come_back_to_and_saved_again_stays_one_draft(journeys):
    police = responder(username="draft-officer")
    officer = journeys("responder-draft-saved-twice")
    officer.sign_in(police.username)
    page = officer.go("New referral", "intake form")
    page.get_by_label("Given name").fill("Lule")
    page = officer.submit("Save draft", "draft saved")
    assert "Draft saved" in page.get_by_role("status").inner_text()
    assert page.get_by_label("Given name").input_value() == "Lule", "still on the form"
    officer.go("Cases", "case list")
    page.go_back()
    officer.look("back on the draft")
    page.get_by_label("Family name").fill("Tesfay")
    officer.submit("Save draft", "draft saved again")
    page.reload()
    page.get_by_label("Other names (optional)").fill("Lula")
    officer.submit("Save draft", "draft saved after reloading")
    (draft,) = ReferralDraft.objects.filter(owner=police)
    assert (draft.data["given_name"], draft.data["family_name"], draft.data["aliases"]) == (
        "Lule",
        "Tesfay",
        "Lula",
    )


def test_a_draft_open_on_a_phone_and_a_desktop_loses_nothing_typed_on_either(journeys):
    police = responder(username="two-devices-officer")
    phone = journeys("responder-draft-on-the-phone", viewport=PHONE)
    phone.sign_in(police.username)
    page = phone.go("New referral", "intake form")
    fill_referral(page)
    page.get_by_label("Your account").fill("Short note from the scene.")
    phone.submit("Save draft", "draft saved at the scene")
    desktop = journeys("responder-draft-at-the-station")
    desktop.sign_in(police.username)
    desktop.go("Drafts", "drafts")
    station = desktop.go(re.compile("^Resume"), "draft resumed at the station")
    station.get_by_label("Your account").fill("Full account typed at the station.")
    desktop.submit("Save draft", "draft saved at the station")

    page = phone.submit("Submit referral", "submitted from the page still open on the phone")
    assert not Referral.objects.exists()
    notice = page.locator(".messages").inner_text()
    assert "Not submitted: the draft you opened was changed in another tab or on another device" in notice
    assert page.get_by_label("Your account").input_value() == "Short note from the scene."
    page = phone.go("the other draft", "the station's version, opened on the phone")
    assert page.get_by_label("Your account").input_value() == "Full account typed at the station."
    phone.submit("Submit referral", "the station's version submitted")
    assert Referral.objects.get().account == "Full account typed at the station."
    (kept,) = ReferralDraft.objects.filter(owner=police)
    assert kept.data["account"] == "Short note from the scene."


def test_a_referral_sent_while_offline_is_on_the_form_again_after_going_back(journeys):
    police = responder(username="offline-officer")
    phone = journeys("responder-offline", viewport=PHONE)
    phone.sign_in(police.username)
    page = phone.go("New referral", "intake form")
    fill_referral(page)
    # Chromium keeps what was typed for Back by sending it to the page's history entry a moment after the
    # last key, and a navigation at once can lose it on a busy machine: the responder looks it over first.
    phone.look("filled in")
    for button in ("Submit referral", "Save draft"):
        phone.context.set_offline(True)
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_url(lambda url: not url.startswith("http"))  # the browser's own error page
        phone.context.set_offline(False)
        page.go_back()
        phone.look(f"back after {button} while offline")
        assert "/referrals/new/" in page.url, "Back comes to the form, not the page before it"
        # The browser is asked not to remember names (station computers are shared), so it does not
        # put them back either; the account and every choice come back.
        assert page.get_by_label("Given name").input_value() == ""
        assert page.get_by_label("Your account").input_value().startswith("Found at a car wash")
        assert page.get_by_label("Region where the person is now").input_value() == "london"
    assert not Referral.objects.exists() and not ReferralDraft.objects.exists()


def test_a_referral_submitted_after_going_back_from_its_saved_draft_leaves_no_draft(journeys):
    police = responder(username="back-from-draft-officer")
    phone = journeys("responder-back-from-draft", viewport=PHONE)
    phone.sign_in(police.username)
    page = phone.go("New referral", "intake form")
    fill_referral(page)
    phone.submit("Save draft", "draft saved")
    page.go_back()
    phone.look("back on the form before the draft was saved")
    assert page.get_by_label("Given name").input_value() == "Lule"
    phone.submit("Submit referral", "referral submitted")
    reference = REFERENCE.search(page.locator("h1").inner_text()).group(0)
    assert Referral.objects.get(reference=reference).given_name == "Lule"
    assert not ReferralDraft.objects.exists()


def test_going_back_to_a_draft_just_submitted_shows_the_drafts_list(journeys):
    police = responder(username="resume-officer")
    save_draft(owner=police, data={"given_name": "Lule", "family_name": "Tesfay"})
    officer = journeys("responder-back-to-submitted-draft")
    officer.sign_in(police.username)
    page = officer.go("Drafts", "drafts")
    officer.go(re.compile("^Resume"), "draft resumed")
    fill_referral(page)
    officer.submit("Submit referral", "referral submitted")
    page.go_back()
    officer.look("back to the submitted draft")
    assert page.url.endswith("/referrals/drafts/")
    gone = page.get_by_role("alert")  # read first: it has the focus
    assert "That draft is no longer kept" in gone.inner_text()
    assert gone.evaluate("message => message === document.activeElement")
    assert page.get_by_role("heading", name="Your drafts").is_visible()


@pytest.mark.parametrize(
    "page_name",
    [
        "intake form",
        "anonymous notification",
        "anonymous notifications made",
        "case page",
        "case action",
        "case list filter error",
        "provider offers",
        "inbox",
        "audit trail",
        "undelivered",
        "caseload report",
    ],
)
def test_pages_fit_a_phone_screen_without_sideways_scrolling(journeys, page_name):
    from referrals import services
    from tests.factories import submitted_referral

    police = responder(username="phone-officer")
    boss = manager(username="phone-manager")
    house = CareProviderFactory(name="Phone House")
    provider_user(house, username="phone-house")
    referral = submitted_referral(police)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=house.pk)
    Notification.objects.filter(referral=referral).update(
        state=DeliveryState.FAILED, attempts=12, last_error="the receiver refused the connection"
    )

    username, path = {
        "intake form": ("phone-officer", "/referrals/new/"),
        "anonymous notification": ("phone-officer", "/anonymous-notifications/new/"),
        "anonymous notifications made": ("phone-officer", "/anonymous-notifications/"),
        "case page": ("phone-manager", f"/cases/{referral.pk}/"),
        "case action": ("phone-manager", f"/cases/{referral.pk}/withdraw/"),
        # The filter's hint and its error message, beside the other filters.
        "case list filter error": ("phone-manager", "/cases/?reference=HBR-2026-004217+HBR-2026-004218"),
        "provider offers": ("phone-house", "/provider/offers/"),
        "inbox": ("phone-manager", "/inbox/"),
        "audit trail": ("phone-manager", "/audit/"),
        "undelivered": ("phone-manager", "/notifications/undelivered/"),
        "caseload report": ("phone-manager", "/reports/caseload/"),
    }[page_name]
    phone = journeys(f"phone-{page_name.replace(' ', '-')}", viewport=PHONE)
    phone.sign_in(username)
    phone.page.goto(path)
    page = phone.look(page_name)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    controls = page.locator("main input:not([type=hidden]), main select, main textarea, main button, main a")
    for control in controls.all():
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (
            f"{control.evaluate('e => e.outerHTML.slice(0, 120)')} does not fit the screen"
        )


# Each cell of a responsive table on a phone, measured in the page: a label taller than its cell (a label
# laid over the rows below), a value that runs out of its cell, a cell running into the next, or a label
# with nothing beside it.
MEASURE_TABLE_CELLS = """() => {
  const problems = [];
  let labelled = 0;
  for (const row of document.querySelectorAll('table.responsive tbody tr')) {
    const cells = [...row.querySelectorAll(':scope > td')].filter(cell => cell.getClientRects().length);
    cells.forEach((cell, index) => {
      const box = cell.getBoundingClientRect();
      const name = `${cell.dataset.label}: ${cell.textContent.trim().slice(0, 40)}`;
      const label = parseFloat(getComputedStyle(cell, '::before').height) || 0;
      if (label > 0) labelled += 1;
      if (label > 0 && !cell.textContent.trim() && !cell.querySelector('button, input, select, textarea')) {
        problems.push(`${cell.dataset.label}: a label with nothing beside it`);
      }
      if (label > box.height + 0.5) problems.push(`${name}: label ${label}px tall in a cell ${box.height}px tall`);
      const text = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      while (text.nextNode()) {
        if (!text.currentNode.data.trim() || text.currentNode.parentElement.closest('.visually-hidden')) continue;
        const words = document.createRange();
        words.selectNodeContents(text.currentNode);
        const value = words.getBoundingClientRect();
        if (value.bottom > box.bottom + 0.5 || value.right > box.right + 0.5) {
          problems.push(`${name}: "${text.currentNode.data.trim()}" runs out of its cell`);
        }
      }
      const next = cells[index + 1];
      if (next && box.bottom > next.getBoundingClientRect().top + 0.5) problems.push(`${name}: runs into the next cell`);
    });
  }
  return {labelled, problems};
}"""


@pytest.mark.parametrize("font_size", [16, 24], ids=["default font", "large font"])
def test_on_a_phone_table_rows_grow_with_their_labels_and_no_cell_runs_into_another_or_is_bare(
    journeys, font_size
):
    from referrals import services
    from tests.factories import submitted_referral

    police = responder(username="rows-officer")
    boss = manager(username="rows-manager")
    house = CareProviderFactory(name="Rows House")
    staff = provider_user(house, username="rows-house")
    # Every other person may be under 18: the lists flag them as children, beside the state.
    cases = [submitted_referral(police, age_in_doubt=index % 2 == 0).pk for index in range(5)]
    for pk in cases[1:]:
        services.assess_referral(referral_id=pk, actor=boss, risk="low", route="accommodation")
    for pk in cases[2:]:
        services.offer_placement(referral_id=pk, actor=boss, provider_id=house.pk)
    for pk in cases[3:]:
        services.accept_offer(referral_id=pk, actor=staff)
    services.recover_referral(referral_id=cases[4], actor=staff, outcome="independent_living")
    Notification.objects.update(state=DeliveryState.FAILED, attempts=12, last_error="refused")

    pages = {
        "rows-manager": [
            ("triage queue", "/triage/"),  # "Assessment due"
            ("assessed queue", "/assessed/"),
            ("case list", "/cases/"),
            ("case page", f"/cases/{cases[4]}/"),  # offer history and history
            ("audit trail", "/audit/"),  # "Before → after"
            ("undelivered", "/notifications/undelivered/"),
        ],
        "rows-house": [
            ("provider offers", "/provider/offers/"),
            ("provider caseload", "/provider/caseload/"),  # "Next check-in due"
            ("past placements", "/provider/past/"),  # "Placement ended"
        ],
    }
    for username, visits in pages.items():
        phone = journeys(f"phone-rows-{username}-{font_size}px", viewport=PHONE, font_size=font_size)
        phone.sign_in(username)
        for page_name, path in visits:
            phone.page.goto(path)
            page = phone.look(page_name)
            assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == f"{font_size}px"
            measured = page.evaluate(MEASURE_TABLE_CELLS)
            assert measured["labelled"] > 0, f"{page_name}: no labelled cell to measure"
            assert measured["problems"] == [], f"{page_name} at {font_size}px: {measured['problems']}"


# Each chart of the report, measured in the page: a figure that scrolls sideways, a piece of text outside
# what its figure shows, or text drawn smaller than 10.5 px (11 px, the smallest drawn, shrunk to fit).
MEASURE_CHARTS = """() => {
  const problems = [];
  const figures = [...document.querySelectorAll('.chart-figure')];
  for (const figure of figures) {
    const shown = figure.getBoundingClientRect();
    if (figure.scrollWidth > figure.clientWidth) problems.push(`${figure.ariaLabel} scrolls sideways`);
    const svg = figure.querySelector('svg');
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.left < shown.left - 0.5 || box.right > shown.right + 0.5) {
        problems.push(`${figure.ariaLabel}: "${text.textContent}" is cut off`);
      }
      const size = parseFloat(text.getAttribute('font-size')) * scale;
      if (size < 10.5) problems.push(`${figure.ariaLabel}: "${text.textContent}" is ${size.toFixed(1)}px`);
    }
  }
  return {charts: figures.length, problems};
}"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_report_charts_show_all_their_text_legibly_without_scrolling_sideways(journeys, viewport):
    from referrals import services
    from tests.factories import submitted_referral

    boss = manager(username="charts-manager")
    house = CareProviderFactory(name="A provider with a name long enough to need most of the width")
    staff = provider_user(house)
    for index in range(6):
        referral = submitted_referral(emergency=index % 2 == 0)
        if index < 4:
            services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
        if index < 2:
            services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=house.pk)
            services.accept_offer(referral_id=referral.pk, actor=staff)

    reader = journeys(f"report-charts-{viewport['width']}", viewport=viewport)
    reader.sign_in(boss.username)
    page = reader.go("Reports", "caseload report")
    measured = page.evaluate(MEASURE_CHARTS)
    assert measured["charts"] >= 10
    assert measured["problems"] == [], measured["problems"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
