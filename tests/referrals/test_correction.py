"""Correcting a referral's details after submission: an age assessment, a misspelt name, a phone number
that changed. Only what changed changes; the state does not; the log names the fields, never values."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from notifications.models import Event, Notification
from referrals import services
from referrals.coming_of_age import tell_of_those_now_18
from referrals.exceptions import HarbourError, NothingToCorrect, NotPermitted, TransitionNotAllowed
from referrals.models import Referral
from tests.api.cases import bring_to
from tests.factories import (
    birthday_years_ago,
    manager,
    referred_as_a_child_turning_18,
    responder,
    submitted_referral,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def correct(referral: Referral, actor, *, reason: str = "typing_error", **fields) -> Referral:
    return services.correct_referral(referral_id=referral.pk, actor=actor, reason=reason, **fields)


def stored(referral: Referral, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM referrals_referral WHERE id = %s", [referral.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_only_the_fields_sent_change_the_encrypted_stay_encrypted_and_the_digests_follow():
    referral = submitted_referral()
    before = (referral.given_name, referral.contact_phone, referral.languages, referral.nationality)
    correct(referral, manager(), family_name="Hailemariam", contact_phone="07700 900999")
    referral.refresh_from_db()
    assert (referral.family_name, referral.contact_phone) == ("Hailemariam", "07700 900999")
    assert (referral.given_name, referral.languages, referral.nationality) == (
        before[0],
        before[2],
        before[3],
    )
    assert "Hailemariam" not in stored(referral, "family_name")
    assert "900999" not in stored(referral, "contact_phone")
    assert (referral.name_digest, referral.birth_date_digest) == referral.person_digests()


def test_a_corrected_date_of_birth_moves_the_birth_date_digest():
    referral = submitted_referral()
    old = referral.birth_date_digest
    correct(referral, manager(), date_of_birth=datetime.date(1996, 3, 14))
    referral.refresh_from_db()
    assert referral.birth_date_digest != old
    assert (referral.name_digest, referral.birth_date_digest) == referral.person_digests()


def test_an_age_assessment_that_finds_an_adult_a_child_makes_the_case_a_childs():
    case = bring_to("placed")
    assert not case.referral.is_child
    correct(
        case.referral,
        case.manager,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(16, days_from_today=40),
        age_in_doubt=True,
        local_authority="Newham",
    )
    referral = case.refresh()
    assert referral.is_child and referral.state == "placed"
    log = referral.transitions.order_by("-at", "-id").first()
    assert (log.transition, log.from_state, log.to_state) == ("correct", "placed", "placed")
    assert log.input == {
        "reason": "age_assessment",
        "note": "",
        "fields": ["date_of_birth", "age_in_doubt", "local_authority"],
    }


def test_a_case_made_a_childs_names_the_local_authority_told():
    referral = submitted_referral()
    with pytest.raises(HarbourError) as refused:
        correct(referral, manager(), reason="age_assessment", age_in_doubt=True)
    assert refused.value.field == "local_authority"
    assert not referral.transitions.filter(transition="correct").exists()


def test_a_child_found_an_adult_keeps_the_local_authority_told_which_cannot_be_added_to_an_adults():
    referral = submitted_referral(age_in_doubt=True, local_authority="Leeds")
    correct(referral, manager(), reason="age_assessment", age_in_doubt=False)
    referral.refresh_from_db()
    assert not referral.is_child and referral.local_authority == "Leeds"
    with pytest.raises(HarbourError) as refused:
        correct(referral, manager(), local_authority_contact="Duty social worker")
    assert refused.value.field == "local_authority_contact"


def test_a_child_now_18_is_corrected_under_a_childs_rules_as_referred():
    """No consent and a local authority: right for the child referred, though 18 by now."""
    referral = referred_as_a_child_turning_18(
        submitted_referral(consent=False, local_authority="Leeds"), days_from_today=-5
    )
    correct(referral, manager(), contact_phone="07700 900555")
    referral.refresh_from_db()
    assert referral.contact_phone == "07700 900555" and referral.is_child


def test_an_age_assessment_that_finds_a_child_an_adult_makes_the_case_an_adults():
    referral = submitted_referral(age_in_doubt=True)
    assert referral.is_child
    correct(
        referral, responder(organisation=referral.organisation), reason="age_assessment", age_in_doubt=False
    )
    referral.refresh_from_db()
    assert not referral.is_child


def test_a_child_referred_without_consent_found_an_adult_is_recorded_as_one_and_may_then_consent():
    referral = submitted_referral(age_in_doubt=True, consent=False)
    responder_ = responder(organisation=referral.organisation)
    correct(referral, responder_, reason="age_assessment", age_in_doubt=False)
    referral.refresh_from_db()
    assert not referral.is_child and not referral.consent
    correct(referral, responder_, reason="new_information", consent=True)
    referral.refresh_from_db()
    assert referral.consent


@pytest.mark.parametrize("state", ["received", "placed"])
def test_an_adults_consent_is_not_corrected_away(state):
    case = bring_to(state)
    with pytest.raises(HarbourError) as refused:
        correct(case.referral, case.manager, consent=False)
    assert refused.value.field == "consent"
    ends = "withdraw the referral" if state == "received" else "records their exit from support"
    assert ends in refused.value.message
    assert case.refresh().consent
    assert not case.referral.transitions.filter(transition="correct").exists()


def test_an_adult_found_a_child_needs_no_consent_and_a_child_found_an_adult_may_not_lose_it():
    referral = submitted_referral()
    correct(
        referral,
        manager(),
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Leeds",
        consent=False,
    )
    referral.refresh_from_db()
    assert referral.is_child and not referral.consent

    consenting = submitted_referral(age_in_doubt=True, local_authority="Leeds")
    with pytest.raises(HarbourError) as refused:
        correct(consenting, manager(), reason="age_assessment", age_in_doubt=False, consent=False)
    assert refused.value.field == "consent"


def test_languages_sent_in_another_order_are_no_correction():
    referral = submitted_referral(languages=["ti", "en"])
    with pytest.raises(NothingToCorrect):
        correct(referral, manager(), languages=["en", "ti"])


def test_the_child_is_worked_out_as_at_the_submission_not_today():
    """Referred 60 days ago by someone whose corrected date of birth made them 17 then and 18 now."""
    referral = referred_as_a_child_turning_18(submitted_referral(), days_from_today=-5)
    Referral.objects.filter(pk=referral.pk).update(is_child=False, date_of_birth=datetime.date(1995, 3, 14))
    correct(
        referral, manager(), reason="age_assessment", date_of_birth=birthday_years_ago(18, days_from_today=-5)
    )
    referral.refresh_from_db()
    assert referral.is_child


def test_a_birthday_moved_later_is_told_of_again_when_it_comes():
    case = bring_to("placed")
    referral = referred_as_a_child_turning_18(case.referral, days_from_today=-5)
    assert tell_of_those_now_18() == 1
    referral.refresh_from_db()
    assert referral.told_now_18

    correct(
        referral,
        case.manager,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(18, days_from_today=100),
    )
    referral.refresh_from_db()
    assert referral.is_child and not referral.told_now_18
    assert tell_of_those_now_18() == 0
    assert tell_of_those_now_18(today=timezone.localdate() + 100 * DAY) == 1


def test_a_correction_that_leaves_the_birthday_past_does_not_tell_of_it_twice():
    case = bring_to("placed")
    referral = referred_as_a_child_turning_18(case.referral, days_from_today=-5)
    tell_of_those_now_18()
    correct(referral, case.manager, given_name="Amena")
    referral.refresh_from_db()
    assert referral.told_now_18
    assert tell_of_those_now_18() == 0


def test_a_correction_that_changes_nothing_is_refused_and_not_logged():
    referral = submitted_referral()
    before = referral.transitions.count()
    with pytest.raises(NothingToCorrect) as refused:
        correct(referral, manager(), given_name=referral.given_name, languages=["ti", "ti", "en"])
    assert refused.value.status_code == 400 and "Nothing changed" in refused.value.message
    assert referral.transitions.count() == before


@pytest.mark.parametrize("state", ["recovered", "declined", "withdrawn", "exited"])
def test_a_closed_case_cannot_be_corrected(state):
    case = bring_to(state)
    with pytest.raises(TransitionNotAllowed) as refused:
        correct(case.referral, case.manager, given_name="Amena")
    assert refused.value.status_code == 409
    assert f"that is {state} is closed. The details of a closed case can no longer be corrected." in (
        refused.value.message
    )
    assert case.refresh().given_name == "Amina"


def test_a_care_provider_may_not_correct_the_person_it_supports():
    case = bring_to("placed")
    with pytest.raises(NotPermitted):
        correct(case.referral, case.provider_user, given_name="Amena")


def test_a_responder_of_another_organisation_does_not_see_the_case():
    with pytest.raises(Referral.DoesNotExist):
        correct(submitted_referral(), responder(), given_name="Amena")


def test_the_rules_hold_of_the_record_as_corrected():
    referral = submitted_referral()  # safe to contact, with a phone number
    with pytest.raises(HarbourError) as refused:
        correct(referral, manager(), safe_to_contact=False)
    assert refused.value.field == "contact_phone"
    with pytest.raises(HarbourError) as refused:
        correct(referral, manager(), date_of_birth=None)
    assert refused.value.field == "date_of_birth"
    correct(referral, manager(), safe_to_contact=False, contact_phone="")
    referral.refresh_from_db()
    assert not referral.safe_to_contact and referral.contact_phone == ""


def test_the_log_and_the_audit_row_hold_field_names_never_values():
    referral = submitted_referral()
    correct(referral, manager(), family_name="Hailemariam", note="Spelling from the passport.")
    log = referral.transitions.get(transition="correct")
    assert log.input["fields"] == ["family_name"]
    assert "Hailemariam" not in str(log.input)
    audit = AuditEvent.objects.filter(referral=referral, what="transition: correct").get()
    assert audit.changes["fields"] == {"after": ["family_name"]}
    assert "Hailemariam" not in str(audit.changes) and "passport" not in str(audit.changes)


def test_the_provider_and_the_managers_are_told_when_the_referrer_corrects():
    case = bring_to("offered")
    correct(case.referral, case.responder, given_name="Amena")
    told = set(
        Notification.objects.filter(referral=case.referral, event=Event.REFERRAL_CORRECTED).values_list(
            "organisation_id", flat=True
        )
    )
    assert told == {case.provider.organisation_id, case.manager.organisation_id}


def test_a_managers_correction_tells_the_placed_provider_and_the_referrer_not_the_managers():
    case = bring_to("placed")
    correct(case.referral, case.manager, given_name="Amena")
    told = set(
        Notification.objects.filter(referral=case.referral, event=Event.REFERRAL_CORRECTED).values_list(
            "organisation_id", flat=True
        )
    )
    assert told == {case.provider.organisation_id, case.referral.organisation_id}


def test_a_child_referred_before_the_local_authority_was_asked_is_corrected_without_naming_one():
    referral = submitted_referral(age_in_doubt=True)  # a child with no local authority on record
    assert referral.is_child and referral.local_authority == ""
    correct(referral, responder(organisation=referral.organisation), aliases="Bobby", safe_to_contact=False,
            contact_phone="")  # fmt: skip
    referral.refresh_from_db()
    assert referral.aliases == "Bobby" and not referral.safe_to_contact
