"""No notification carries personal data (SPEC §6): every email and webhook of a whole case is scanned."""

import datetime
import json

import pytest
from django.core import mail
from django.utils import timezone

from notifications.delivery import deliver
from notifications.models import MISSING_EVENTS, DeliveryState, Event, InboxItem, Notification
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.coming_of_age import tell_of_those_now_18
from referrals.models import Deadline
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    birthday_years_ago,
    manager,
    provider_user,
    responder,
    submitted_referral,
)

from .conftest import CHILDRENS_SERVICES, personal_data_in

pytestmark = pytest.mark.django_db


def test_every_email_webhook_and_inbox_item_of_a_whole_case_is_free_of_personal_data(
    webhook_receiver, monkeypatch
):
    # Every event's content is checked, so each is delivered at the end, those no longer current too.
    monkeypatch.setattr("notifications.delivery.why_outdated", lambda notification: "")
    hooks = {"organisation__webhook_url": webhook_receiver.url, "organisation__webhook_secret": "s"}
    referrer = responder(
        organisation=OrganisationFactory(webhook_url=webhook_receiver.url, webhook_secret="s")
    )
    boss = manager()
    first, second = CareProviderFactory(**hooks), CareProviderFactory(**hooks)
    first_staff, second_staff = provider_user(first), provider_user(second)

    case = submitted_referral(referrer)
    services.assess_referral(referral_id=case.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=first.pk)
    services.reject_offer(referral_id=case.pk, actor=first_staff, reason="no_capacity", note="Amina Haile")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=second.pk)
    services.accept_offer(referral_id=case.pk, actor=second_staff)
    services.record_progress(referral_id=case.pk, actor=second_staff, note="Amina settled in")
    services.report_missing(referral_id=case.pk, actor=second_staff, last_seen_at=timezone.now())
    repeat_due = Deadline.objects.get(referral=case, clock="missing").due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    services.mark_found(referral_id=case.pk, actor=second_staff)
    later = max(Deadline.objects.filter(referral=case).values_list("due_at", flat=True))
    sweep_deadlines(now=later - datetime.timedelta(seconds=1))
    sweep_deadlines(now=later + datetime.timedelta(days=1))
    services.reallocate_referral(referral_id=case.pk, actor=boss, reason="needs_changed")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=first.pk)
    expiring = Deadline.objects.get(referral=case, clock="offer_response", stopped_at__isnull=True)
    sweep_deadlines(now=expiring.due_at + datetime.timedelta(minutes=1))
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=second.pk)
    services.revoke_offer(referral_id=case.pk, actor=boss, reason="other", note="Amina Haile, 07700 900123")
    services.offer_placement(referral_id=case.pk, actor=boss, provider_id=second.pk)
    services.withdraw_referral(referral_id=case.pk, actor=boss, reason="other", note="Haile, 07700 900123")

    declined = submitted_referral(referrer)
    services.decline_referral(referral_id=declined.pk, actor=boss, reason="other", note="Amina Haile")
    for outcome in ("recover", "exit"):
        other = submitted_referral(referrer)
        services.assess_referral(referral_id=other.pk, actor=boss, risk="low", route="outreach")
        services.offer_placement(referral_id=other.pk, actor=boss, provider_id=second.pk)
        services.accept_offer(referral_id=other.pk, actor=second_staff)
        if outcome == "recover":
            services.recover_referral(referral_id=other.pk, actor=boss, outcome="independent_living")
        else:
            services.exit_referral(referral_id=other.pk, actor=boss, reason="left_support")

    child = submitted_referral(
        referrer, date_of_birth=birthday_years_ago(18, days_from_today=1), **CHILDRENS_SERVICES
    )
    services.assess_referral(referral_id=child.pk, actor=boss, risk="high", route="accommodation")
    services.offer_placement(referral_id=child.pk, actor=boss, provider_id=second.pk)
    services.accept_offer(referral_id=child.pk, actor=second_staff)
    tell_of_those_now_18(today=timezone.localdate() + datetime.timedelta(days=1))
    services.correct_referral(
        referral_id=child.pk,
        actor=referrer,
        reason="age_assessment",
        note="Amina Haile, born 14/03/1995",
        given_name="Amina",
        family_name="Haile-Tesfay",
        age_in_doubt=True,
    )

    for row in Notification.objects.all():
        deliver(str(row.pk))

    assert not Notification.objects.exclude(state=DeliveryState.DELIVERED).exists()
    expected = set(Event.values) - {Event.DELIVERY_FAILED}
    assert set(Notification.objects.values_list("event", flat=True)) == expected
    assert len(webhook_receiver.received) > 0 and len(mail.outbox) > 0
    for hook in webhook_receiver.received:
        assert personal_data_in(hook.body.decode()) == []
        body = json.loads(hook.body)
        # Whether the person is treated as a child (now, for a correction), which every receiver sees.
        assert set(body) - {"child"} == {
            "id",
            "event",
            "reference",
            "due_at",
            "clock",
            "last_seen_at",
            "link",
            "occurred_at",
            "sequence",
            "timestamp",
        }
        assert ("child" in body) == (body["event"] in (Event.REFERRAL_CORRECTED, *MISSING_EVENTS))
    for message in mail.outbox:
        assert personal_data_in(f"{message.subject}\n{message.body}") == []
    for message in InboxItem.objects.values_list("message", flat=True):
        assert personal_data_in(message) == []
