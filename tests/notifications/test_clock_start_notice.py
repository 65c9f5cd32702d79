"""What the alerts of an event that starts a clock say (SPEC §6: the event, the reference, the due time and
a link): the managers' new referral, when its assessment is due and whether it is a child's or an
emergency; the referrer's assessed referral, when its placement is due; the provider of a person found,
when their check-in is due. Never personal data."""

import json

import pytest
from django.core import mail

from notifications.delivery import EMAIL_MOMENT, deliver
from notifications.models import Event, InboxItem, Notification
from referrals import services
from referrals.local_time import MOMENT, local_time
from referrals.models import Clock
from tests.api.cases import bring_to
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    birthday_years_ago,
    contractor,
    manager,
    responder,
    submitted_referral,
)

from .conftest import CHILDRENS_SERVICES, personal_data_in

pytestmark = pytest.mark.django_db


def managers_with_a_webhook(url):
    managers = contractor()
    managers.webhook_url, managers.webhook_secret = url, "the managers' secret"
    managers.save()
    return manager()


def delivered(referral, event):
    """The case's ``event``, delivered by every channel: its email and its webhook's payload."""
    for row in Notification.objects.filter(referral=referral, event=event):
        deliver(str(row.pk))
    return mail.outbox


def test_an_emergency_childs_new_referral_tells_the_managers_so_and_when_the_assessment_is_due(
    webhook_receiver,
):
    boss = managers_with_a_webhook(webhook_receiver.url)
    referral = submitted_referral(
        emergency=True, date_of_birth=birthday_years_ago(15, days_from_today=40), **CHILDRENS_SERVICES
    )
    due = referral.deadlines.get(clock=Clock.ASSESSMENT).due_at

    item = InboxItem.objects.get(user=boss, referral=referral)
    assert item.message == (
        f"New referral: {referral.reference}, emergency: needs a place to stay today, a child "
        f"(assessment due {local_time(due, MOMENT)})"
    )
    (email,) = delivered(referral, Event.REFERRAL_RECEIVED)
    assert f"Assessment due: {local_time(due, EMAIL_MOMENT)}\n" in email.body
    assert "Treated as a child: Yes\n" in email.body
    assert "Emergency: Yes, needs a place to stay today\n" in email.body
    (hook,) = webhook_receiver.received
    payload = json.loads(hook.body)
    assert (payload["due_at"], payload["child"], payload["emergency"]) == (due.isoformat(), True, True)
    for text in (item.message, email.subject, email.body):
        assert personal_data_in(text) == []


def test_a_routine_adults_new_referral_says_neither_in_the_inbox_and_no_to_both_by_email_and_webhook(
    webhook_receiver,
):
    boss = managers_with_a_webhook(webhook_receiver.url)
    referral = submitted_referral()
    due = referral.deadlines.get(clock=Clock.ASSESSMENT).due_at

    item = InboxItem.objects.get(user=boss, referral=referral)
    assert item.message == f"New referral: {referral.reference} (assessment due {local_time(due, MOMENT)})"
    (email,) = delivered(referral, Event.REFERRAL_RECEIVED)
    assert "Treated as a child: No\n" in email.body and "Emergency: No\n" in email.body
    (hook,) = webhook_receiver.received
    payload = json.loads(hook.body)
    assert (payload["due_at"], payload["child"], payload["emergency"]) == (due.isoformat(), False, False)


def test_the_referrer_told_of_the_assessment_learns_when_the_placement_is_due(webhook_receiver):
    referrer = responder(
        organisation=OrganisationFactory(webhook_url=webhook_receiver.url, webhook_secret="s")
    )
    referral = submitted_referral(referrer, emergency=True)
    services.assess_referral(referral_id=referral.pk, actor=manager(), risk="high", route="accommodation")
    due = referral.deadlines.get(clock=Clock.PLACEMENT).due_at

    item = InboxItem.objects.get(user=referrer, event=Event.REFERRAL_ASSESSED)
    assert (
        item.message == f"Referral assessed: {referral.reference} (placement due {local_time(due, MOMENT)})"
    )
    (email,) = delivered(referral, Event.REFERRAL_ASSESSED)
    assert f"Placement due: {local_time(due, EMAIL_MOMENT)}\n" in email.body
    (hook,) = webhook_receiver.received
    payload = json.loads(hook.body)
    assert payload["due_at"] == due.isoformat()
    # What a correction says of an emergency is its own: an assessment holds neither flag.
    assert "child" not in payload and "emergency" not in payload
    assert "Emergency" not in email.body


def test_the_provider_a_manager_tells_the_person_is_found_learns_when_their_check_in_is_due(
    webhook_receiver,
):
    provider = CareProviderFactory(
        organisation__webhook_url=webhook_receiver.url, organisation__webhook_secret="the provider's secret"
    )
    case = bring_to("missing", provider=provider)
    services.mark_found(referral_id=case.referral.pk, actor=case.manager)
    due = case.referral.deadlines.get(clock=Clock.CHECK_IN, stopped_at__isnull=True).due_at

    item = InboxItem.objects.get(user=case.provider_user, event=Event.PERSON_FOUND)
    assert item.message == (
        f"Missing person found: {case.referral.reference} (check-in due {local_time(due, MOMENT)})"
    )
    for row in Notification.objects.filter(event=Event.PERSON_FOUND, organisation=provider.organisation):
        deliver(str(row.pk))
    (email,) = mail.outbox
    assert f"Check-in due: {local_time(due, EMAIL_MOMENT)}\n" in email.body
    (hook,) = webhook_receiver.received
    assert json.loads(hook.body)["due_at"] == due.isoformat()
    for text in (item.message, email.subject, email.body, hook.body.decode()):
        assert personal_data_in(text) == []
