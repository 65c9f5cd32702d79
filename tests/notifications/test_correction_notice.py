"""The notification of a correction of the person's details: the reference, a link and whether the person
is now treated as a child; never the details corrected."""

import json

import pytest

from notifications.delivery import email_content, webhook_payload
from notifications.models import Event, InboxItem, Notification
from referrals import services
from tests.api.cases import bring_to
from tests.factories import birthday_years_ago

from .conftest import personal_data_in

pytestmark = pytest.mark.django_db


def test_the_provider_hears_the_case_was_corrected_and_that_the_person_is_now_a_child():
    case = bring_to("placed")
    new_birthday = birthday_years_ago(16, days_from_today=30)
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.responder,
        reason="age_assessment",
        note="Amina Haile is 16, says the local authority.",
        family_name="Hailemariam",
        date_of_birth=new_birthday,
        local_authority="Newham",
    )
    notifications = Notification.objects.filter(referral=case.referral, event=Event.REFERRAL_CORRECTED)
    assert {row.organisation_id for row in notifications} == {
        case.provider.organisation_id,
        case.manager.organisation_id,
    }
    for notification in notifications:
        subject, body = email_content(notification)
        payload = json.dumps(webhook_payload(notification, 0))
        assert subject == f"Harbour: Details corrected – {case.referral.reference}"
        assert "Treated as a child: Yes" in body
        assert json.loads(payload)["child"] is True
        for text in (subject, body, payload):
            assert personal_data_in(text) == []
            assert "Hailemariam" not in text and new_birthday.isoformat() not in text
            assert "Newham" not in text
    messages = InboxItem.objects.filter(event=Event.REFERRAL_CORRECTED).values_list("message", flat=True)
    assert all(message == f"Details corrected: {case.referral.reference}" for message in messages)


def test_an_adult_corrected_is_said_to_be_no_child_and_other_events_carry_no_such_field():
    case = bring_to("offered")
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", given_name="Amena"
    )
    corrected = Notification.objects.get(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, organisation=case.provider.organisation
    )
    assert "Treated as a child: No" in email_content(corrected)[1]
    assert webhook_payload(corrected, 0)["child"] is False
    offered = Notification.objects.filter(referral=case.referral, event=Event.OFFER_MADE).first()
    assert "child" not in webhook_payload(offered, 0)
    assert "Treated as a child" not in email_content(offered)[1]


def test_a_correction_delivered_late_says_what_it_did_not_what_a_later_one_did():
    case = bring_to("placed")
    services.correct_referral(
        referral_id=case.referral.pk,
        actor=case.manager,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Newham",
    )
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="age_assessment", age_in_doubt=False
    )
    first, second = Notification.objects.filter(
        referral=case.referral, event=Event.REFERRAL_CORRECTED, organisation=case.provider.organisation
    ).order_by("sequence")
    assert webhook_payload(first, 0)["child"] is True
    assert webhook_payload(second, 0)["child"] is False
