"""The case page's "Correct details" action: a form filled in with the case's details, the intake's
errors, the history's words, and the warning for a child placed where children are not supported."""

import datetime
import re
from html import escape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from referrals import services
from referrals.forms import CORRECT_FORM_SECTIONS
from referrals.local_time import MOMENT, local_time
from referrals.models import Clock, Referral
from referrals.templatetags.form_fields import session_limit
from referrals.validation import CORRECTABLE_FIELDS
from tests.factories import (
    CareProviderFactory,
    birthday_years_ago,
    manager,
    provider_user,
    submitted_referral,
)
from tests.web.conftest import DUTY_LINE, offered, placed, signed_in

pytestmark = pytest.mark.django_db


def correct_url(referral: Referral) -> str:
    return reverse("referrals:case_action", args=[referral.pk, "correct"])


def as_posted(referral: Referral, **overrides) -> dict:
    """The correction form as its user sends it: the case's details, with ``overrides``."""
    data = {
        "consent": "on" if referral.consent else "",
        "given_name": referral.given_name,
        "family_name": referral.family_name,
        "aliases": referral.aliases,
        "date_of_birth": referral.date_of_birth.isoformat() if referral.date_of_birth else "",
        "age_estimate": "" if referral.age_estimate is None else str(referral.age_estimate),
        "age_in_doubt": "on" if referral.age_in_doubt else "",
        "gender": referral.gender,
        "local_authority": referral.local_authority,
        "local_authority_contact": referral.local_authority_contact,
        "nationality": referral.nationality,
        "second_nationality": referral.second_nationality,
        "languages": list(referral.languages),
        "interpreter_needed": "on" if referral.interpreter_needed else "",
        "region": referral.region,
        "needs_accommodation": "on" if referral.needs_accommodation else "",
        "emergency": "on" if referral.emergency else "",
        "needs_medical": "on" if referral.needs_medical else "",
        "has_dependants": "on" if referral.has_dependants else "",
        "safe_to_contact": "on" if referral.safe_to_contact else "",
        "contact_phone": referral.contact_phone,
        "reason": "typing_error",
        "note": "",
        "corrected_up_to": str(referral.last_correction()),
        **overrides,
    }
    # An unticked box is not sent at all.
    return {f"correct-{name}": value for name, value in data.items() if value != ""}


def test_the_referrer_and_the_managers_get_the_link_and_a_provider_does_not():
    referral, staff, boss = placed()
    case_url = reverse("referrals:case", args=[referral.pk])
    for user in (referral.submitted_by, boss):
        html = signed_in(user).get(case_url).content.decode()
        assert f'href="{correct_url(referral)}"' in html and "Correct details" in html
    assert f'href="{correct_url(referral)}"' not in signed_in(staff).get(case_url).content.decode()


def test_the_form_is_filled_in_with_the_cases_details_and_says_the_session_limit():
    referral = submitted_referral(aliases="Mimi")
    response = signed_in(manager()).get(correct_url(referral), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Correct details</h1>" in html
    assert 'name="correct-given_name" value="Amina"' in html
    assert 'name="correct-aliases" value="Mimi"' in html
    assert 'name="correct-date_of_birth" value="1995-03-14"' in html
    assert 'name="correct-contact_phone" value="07700 900123"' in html
    assert 'for="id_correct-reason"' in html and "Age assessment" in html
    assert escape(session_limit()) in html


def test_errors_are_summarised_and_linked_to_their_fields_with_nothing_lost():
    referral = submitted_referral()
    data = as_posted(referral, given_name="", safe_to_contact="", reason="", note="From the passport.")
    response = signed_in(manager()).post(correct_url(referral), data)
    assert response.status_code == 400
    html = response.content.decode()
    given_name_message = escape("Enter the person's given name.")
    assert f'<a href="#id_correct-given_name">{given_name_message}</a>' in html
    assert '<a href="#id_correct-contact_phone">' in html
    assert '<a href="#id_correct-reason">' in html
    assert "From the passport." in html and 'value="07700 900123"' in html
    referral.refresh_from_db()
    assert referral.given_name == "Amina"


def test_a_correction_goes_back_to_the_case_page_which_names_the_fields_in_the_history():
    referral = submitted_referral()
    client = signed_in(referral.submitted_by)
    data = as_posted(
        referral,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(16, days_from_today=30).isoformat(),
        age_in_doubt="on",
        local_authority="Newham",
    )
    response = client.post(correct_url(referral), data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    html = response.content.decode()
    assert "Details corrected." in html
    assert "Details corrected (age assessment): date of birth, age in doubt" in html
    referral.refresh_from_db()
    assert referral.is_child and referral.age_in_doubt


def test_a_form_sent_unchanged_says_nothing_changed():
    referral = submitted_referral()
    response = signed_in(manager()).post(correct_url(referral), as_posted(referral))
    assert response.status_code == 400
    assert "Nothing changed" in response.content.decode()
    assert not referral.transitions.filter(transition="correct").exists()


def test_a_child_placed_with_a_provider_for_adults_is_corrected_and_the_page_warns():
    adults_only = CareProviderFactory(supports_children=False)
    referral, staff, boss = placed(adults_only)
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(15, days_from_today=100),
        local_authority="Newham",
    )
    referral.refresh_from_db()
    assert referral.is_child
    for user in (boss, staff):
        html = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
        assert 'id="provider-misfit"' in html
        assert f"{escape(adults_only.name)}, where they are placed, does not support children" in html
        assert "reallocate" in html


def test_no_warning_where_the_provider_supports_children():
    referral, _staff, boss = placed(CareProviderFactory(supports_children=True), age_in_doubt=True)
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert 'id="provider-misfit"' not in html


def test_a_correction_sent_after_the_case_closed_comes_back_with_what_was_typed():
    referral = submitted_referral()
    boss = manager()
    client = signed_in(boss)
    page = client.get(correct_url(referral), follow=True)
    assert page.status_code == 200
    services.decline_referral(referral_id=referral.pk, actor=boss, reason="not_eligible")
    response = client.post(correct_url(referral), as_posted(referral, family_name="Hailemariam"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "Your correction was not recorded" in html
    assert 'value="Hailemariam"' in html
    assert "The details of a closed case can no longer be corrected. Copy what you need" in html
    # What was chosen, as the form words it, unticked boxes too, to copy.
    assert "<dt>Languages the person speaks</dt><dd>Tigrinya, English</dd>" in html
    assert "<dt>Nationality</dt><dd>Eritrea</dd>" in html
    assert "<dt>Needs medical care</dt><dd>No</dd>" in html
    referral.refresh_from_db()
    assert referral.family_name == "Haile"


def test_a_refused_correction_gives_what_was_sent_in_the_order_of_the_forms_sections():
    referral = submitted_referral()
    boss = manager()
    services.decline_referral(referral_id=referral.pk, actor=boss, reason="not_eligible")
    response = signed_in(boss).post(
        correct_url(referral), as_posted(referral, note="Spelling from the passport")
    )
    assert response.status_code == 409
    sent = response.content.decode().split('id="sent-title"')[1]
    # Each field once, as a choice in words or as it was typed: the reason before its note, the names
    # before the age, the region before the needs and the phone.
    order = [
        sent.index(mark)
        for mark in (
            "<dt>Reason for the correction</dt>",
            'name="correct-note"',
            'name="correct-given_name"',
            "<dt>Gender</dt>",
            'name="correct-date_of_birth"',
            "<dt>The person consents",
            "<dt>Nationality</dt>",
            "<dt>Region where the person is now",
            "<dt>Needs medical care</dt>",
            'name="correct-contact_phone"',
        )
    ]
    assert order == sorted(order)


def test_an_age_assessment_finding_a_child_an_adult_keeps_the_local_authority_the_form_sends_back():
    referral = submitted_referral(
        age_in_doubt=True,
        age_estimate=17,
        date_of_birth=None,
        consent=False,
        local_authority="Kent County Council",
        local_authority_contact="Duty social worker",
    )
    data = as_posted(
        referral,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(19, days_from_today=-40).isoformat(),
        age_estimate="",
        age_in_doubt="",
        consent="on",
    )
    response = signed_in(manager()).post(correct_url(referral), data)
    assert response.status_code == 302, response.content.decode()
    referral.refresh_from_db()
    assert not referral.is_child and referral.consent
    assert (referral.local_authority, referral.local_authority_contact) == (
        "Kent County Council",
        "Duty social worker",
    )


def test_a_date_of_birth_that_makes_an_adult_beside_an_estimate_that_makes_a_child_is_refused():
    referral = submitted_referral(age_in_doubt=True, age_estimate=17, date_of_birth=None)
    data = as_posted(
        referral,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(19, days_from_today=-40).isoformat(),
        age_in_doubt="",
    )
    response = signed_in(manager()).post(correct_url(referral), data)
    assert response.status_code == 400
    assert "disagree on whether the person was under 18" in response.content.decode()
    referral.refresh_from_db()
    assert referral.age_in_doubt and not referral.transitions.filter(transition="correct").exists()


def test_a_case_submitted_with_ages_that_disagree_has_its_date_of_birth_corrected_once_its_age_is_in_doubt():
    # Submitted before the intake refused a date of birth and an estimate that disagree: a child aged 30.
    referral = submitted_referral(
        consent=False,
        date_of_birth=birthday_years_ago(30, days_from_today=-40),
        age_estimate=16,
        local_authority="Kent County Council",
    )
    corrected_birth = (referral.date_of_birth + datetime.timedelta(days=1)).isoformat()
    client = signed_in(manager())

    response = client.post(correct_url(referral), as_posted(referral, date_of_birth=corrected_birth))
    assert response.status_code == 400
    assert (
        "The date of birth and the age estimate of 16 disagree on whether the person was under 18 when "
        "referred. If you believe they may be a child, tick “may be under 18” (age in doubt) to keep both."
    ) in response.content.decode()

    response = client.post(
        correct_url(referral), as_posted(referral, date_of_birth=corrected_birth, age_in_doubt="on")
    )
    assert response.status_code == 302, response.content.decode()
    referral.refresh_from_db()
    assert referral.date_of_birth.isoformat() == corrected_birth
    assert referral.is_child and referral.age_in_doubt and referral.age_estimate == 16


def test_a_provider_only_offered_the_person_reads_which_details_were_corrected_not_the_note():
    referral, provider, boss = offered()
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="typing_error",
        family_name="Smyth",
        note="Smyth, not Smith",
    )
    case_url = reverse("referrals:case", args=[referral.pk])
    html = signed_in(provider_user(provider)).get(case_url).content.decode()
    assert "Details corrected (typing error): family name" in html
    assert "Smyth" not in html
    assert "Smyth, not Smith" in signed_in(boss).get(case_url).content.decode()


def test_a_correction_in_the_history_reads_as_the_state_it_left_the_case_in():
    referral = submitted_referral()
    services.correct_referral(referral_id=referral.pk, actor=manager(), reason="typing_error", aliases="Mimi")
    html = signed_in(manager()).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "Details corrected (typing error): other names" in html
    assert "Received → Received" not in html


def test_the_correction_page_of_a_closed_case_says_its_details_can_no_longer_be_corrected():
    referral = submitted_referral()
    boss = manager()
    services.decline_referral(referral_id=referral.pk, actor=boss, reason="not_eligible")
    response = signed_in(boss).get(correct_url(referral), follow=True)
    assert "The details of a closed case can no longer be corrected." in response.content.decode()


def test_the_audit_trail_names_the_details_corrected_as_the_history_does():
    referral = submitted_referral()
    boss = manager()
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Leeds",
    )
    html = signed_in(boss).get(reverse("referral-audit", args=[referral.pk])).content.decode()
    assert "age in doubt, local authority" in html
    assert "whatever their stated age" not in html


def test_the_form_asks_why_first_then_every_correctable_detail_once_under_a_heading():
    names = [name for _, names in CORRECT_FORM_SECTIONS for name in names]
    assert names[:2] == ["reason", "note"]
    assert sorted(names) == sorted({*CORRECTABLE_FIELDS, "reason", "note"})
    html = signed_in(manager()).get(correct_url(submitted_referral()), follow=True).content.decode()
    headings = [heading for heading, _ in CORRECT_FORM_SECTIONS]
    assert all(f"<h2>{escape(heading)}</h2>" in html for heading in headings)
    assert html.index('name="correct-reason"') < html.index('name="correct-given_name"')


def test_an_adult_found_by_an_age_assessment_without_consent_is_asked_for_it_on_the_case_page():
    referral, staff, boss = placed(age_in_doubt=True, consent=False, local_authority="Leeds")
    case_url = reverse("referrals:case", args=[referral.pk])
    assert 'id="consent-missing"' not in signed_in(boss).get(case_url).content.decode()
    services.correct_referral(
        referral_id=referral.pk, actor=boss, reason="age_assessment", age_in_doubt=False
    )
    pages = {
        user: signed_in(user).get(case_url).content.decode() for user in (boss, staff, referral.submitted_by)
    }
    assert all('id="consent-missing"' in page for page in pages.values())
    assert "if they do not, record their exit from support" in pages[boss]
    assert f"Phone the managers on {DUTY_LINE} to tell them whether they give it." in pages[staff]
    assert (
        f"phone the managers on {DUTY_LINE}, who record their exit from support"
        in pages[referral.submitted_by]
    )
    services.correct_referral(referral_id=referral.pk, actor=boss, reason="new_information", consent=True)
    assert 'id="consent-missing"' not in signed_in(boss).get(case_url).content.decode()


def test_unticking_an_adults_consent_is_refused_and_points_to_withdrawing_the_referral():
    referral = submitted_referral()
    response = signed_in(manager()).post(correct_url(referral), as_posted(referral, consent=""))
    assert response.status_code == 400
    assert escape("withdraw the referral with the reason “Consent withdrawn”") in response.content.decode()
    referral.refresh_from_db()
    assert referral.consent and not referral.transitions.filter(transition="correct").exists()


def test_an_emergency_that_is_no_longer_one_is_corrected():
    referral = submitted_referral(needs_accommodation=True, emergency=True)
    data = as_posted(referral, reason="new_information", emergency="")
    assert signed_in(manager()).post(correct_url(referral), data).status_code == 302
    referral.refresh_from_db()
    assert referral.needs_accommodation and not referral.emergency


def test_a_form_opened_before_another_correction_does_not_undo_it():
    referral = submitted_referral(family_name="Haile")
    officer = signed_in(referral.submitted_by)
    page = officer.get(correct_url(referral), follow=True).content.decode()
    assert f'name="correct-corrected_up_to" value="{referral.last_correction()}"' in page
    stale = as_posted(referral, contact_phone="07700 900777")
    services.correct_referral(
        referral_id=referral.pk, actor=manager(), reason="typing_error", family_name="Hailemariam"
    )

    response = officer.post(correct_url(referral), stale)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Your correction was not recorded. Someone corrected this person" in html
    assert "Open “Correct details” again" in html
    assert "None" not in re.findall(r"<dt>([^<]*)</dt>", html), "the form's hidden field is not a choice"
    assert 'value="07700 900777"' in html
    referral.refresh_from_db()
    assert (referral.family_name, referral.contact_phone) == ("Hailemariam", "07700 900123")

    fresh = as_posted(referral, contact_phone="07700 900777")
    assert officer.post(correct_url(referral), fresh).status_code == 302
    referral.refresh_from_db()
    assert (referral.family_name, referral.contact_phone) == ("Hailemariam", "07700 900777")


def test_a_need_of_a_safe_place_corrected_against_the_route_points_the_manager_to_a_new_assessment():
    referral = submitted_referral(needs_accommodation=True)
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    case_url = reverse("referrals:case", args=[referral.pk])
    assert 'id="route-misfit"' not in signed_in(boss).get(case_url).content.decode()
    services.correct_referral(
        referral_id=referral.pk,
        actor=referral.submitted_by,
        reason="new_information",
        needs_accommodation=False,
    )
    html = signed_in(boss).get(case_url).content.decode()
    assert "does not need a safe place to stay, and the route is accommodation" in html
    assert 'id="route-misfit"' not in signed_in(referral.submitted_by).get(case_url).content.decode()


def test_a_correction_that_moves_the_placement_clock_says_so_in_the_history_and_the_page_shows_its_due_time():
    referral = submitted_referral(needs_accommodation=True)
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    was_due = referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True).due_at
    data = as_posted(referral, reason="new_information", emergency="on")
    assert signed_in(referral.submitted_by).post(correct_url(referral), data).status_code == 302
    due = referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True).due_at
    assert due < was_due
    case_url = reverse("referrals:case", args=[referral.pk])
    for user in (boss, referral.submitted_by):
        html = signed_in(user).get(case_url).content.decode()
        assert (
            "Details corrected (new information): emergency. Now an emergency: the placement is due "
            f"{local_time(due, '%-d %B %Y %H:%M')}"
        ) in html
        assert f"Placement: due {local_time(due, MOMENT)}" in html
        assert local_time(was_due, MOMENT) not in html
    # The audit trail has the new due time, and of the person nothing but the fields' names.
    audited = AuditEvent.objects.filter(referral_id=referral.pk, what="transition: correct").get()
    assert audited.changes["placement_due"] == {"after": due.isoformat()}
    assert audited.changes["fields"] == {"after": ["emergency"]}


def test_a_case_no_longer_needing_a_place_today_is_flagged_an_emergency_nowhere():
    boss = manager()
    waiting = submitted_referral(emergency=True)
    provider = CareProviderFactory()
    staff = provider_user(provider)
    offered_to, *_ = offered(provider, emergency=True)
    assessed = submitted_referral(emergency=True)
    services.assess_referral(referral_id=assessed.pk, actor=boss, risk="high", route="accommodation")
    pages = {
        waiting: (boss, reverse("referrals:triage")),
        assessed: (boss, reverse("referrals:assessed")),
        offered_to: (staff, reverse("care_providers:offers")),
    }
    tag = '<span class="tag tag-urgent">Emergency</span>'
    for referral, (user, page) in pages.items():
        assert tag in signed_in(user).get(page).content.decode()
    for referral, correction in (
        (waiting, {"needs_accommodation": "", "emergency": ""}),
        (assessed, {"emergency": ""}),
        (offered_to, {"needs_accommodation": "", "emergency": ""}),
    ):
        data = as_posted(referral, reason="new_information", **correction)
        assert signed_in(boss).post(correct_url(referral), data).status_code == 302
    for referral, (user, page) in pages.items():
        html = signed_in(user).get(page).content.decode()
        assert referral.reference in html and tag not in html, page
        case_page = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
        assert re.search(r"<dt>Emergency</dt>\s*<dd>No</dd>", case_page), referral
        api = signed_in(user).get(f"/api/v1/referrals/{referral.pk}/").json()
        assert api["emergency"] is False


def test_the_placed_provider_reads_which_details_the_referrer_corrected_and_why_not_its_note():
    referral, staff, boss = placed()
    services.correct_referral(
        referral_id=referral.pk,
        actor=referral.submitted_by,
        reason="new_information",
        safe_to_contact=False,
        contact_phone="",
        note="The exploiter holds her phone now",
    )
    case_url = reverse("referrals:case", args=[referral.pk])
    html = signed_in(staff).get(case_url).content.decode()
    assert (
        "Details corrected (new information): safe to contact, contact phone. "
        "No longer safe to contact directly — do not phone the person" in html
    )
    assert "The referring organisation" in html
    assert "exploiter" not in html
    assert "The exploiter holds her phone now" in signed_in(boss).get(case_url).content.decode()


def test_a_provider_that_never_had_the_case_gets_a_404_after_a_referrers_correction():
    referral, _staff, _boss = placed()
    services.correct_referral(
        referral_id=referral.pk, actor=referral.submitted_by, reason="typing_error", family_name="Smyth"
    )
    response = signed_in(provider_user()).get(reverse("referrals:case", args=[referral.pk]))
    assert response.status_code == 404
