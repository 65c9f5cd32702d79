"""A web request that PostgreSQL aborts to break a deadlock lost a race: the page says so (409), as the
API does, not that the database is unavailable. Real threads on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from notifications.models import Event, InboxItem
from referrals.choices import ReferralState
from referrals.models import Clock, Deadline, Referral
from tests.api.test_concurrency import wait_until_waiting_for_a_lock
from tests.factories import manager, submitted_referral

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_assessment_aborted_to_break_a_deadlock_is_told_it_lost_a_race_and_can_be_sent_again():
    boss = manager()
    referral = submitted_referral()
    news = InboxItem.objects.get(referral=referral, user=boss, event=Event.REFERRAL_RECEIVED)
    clock = Deadline.objects.get(referral=referral, clock=Clock.ASSESSMENT)
    holding, wanting_the_case, clock_free = threading.Event(), threading.Event(), threading.Event()

    def hold_the_news_then_want_the_case() -> None:
        """The other side of the deadlock: holds the item an assessment marks read, then wants the case
        the assessment holds. It waits long before looking for a deadlock, so the assessment finds it."""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '60s'")
                InboxItem.objects.select_for_update().filter(pk=news.pk).exists()
                holding.set()
                assert wanting_the_case.wait(30)
                Referral.objects.select_for_update().filter(pk=referral.pk).exists()
        finally:
            connection.close()

    def hold_the_clock() -> None:
        """Stops the assessment between taking the case and marking the item read."""
        try:
            with transaction.atomic():
                Deadline.objects.select_for_update().filter(pk=clock.pk).exists()
                holding.set()
                assert clock_free.wait(30)
        finally:
            connection.close()

    answers: dict[str, Any] = {}

    def assess() -> None:
        try:
            client = Client(raise_request_exception=False)
            client.force_login(boss)
            url = reverse("referrals:case_action", args=[referral.pk, "assess"])
            answers["assess"] = client.post(url, {"assess-risk": "high", "assess-route": "outreach"})
        finally:
            connection.close()

    other_side = threading.Thread(target=hold_the_news_then_want_the_case)
    other_side.start()
    assert holding.wait(30)
    holding.clear()
    clock_holder = threading.Thread(target=hold_the_clock)
    clock_holder.start()
    assert holding.wait(30)
    assessing = threading.Thread(target=assess)
    assessing.start()
    wait_until_waiting_for_a_lock()  # the assessment holds the case, waits for its clock
    wanting_the_case.set()
    wait_until_waiting_for_a_lock(sessions=2)
    clock_free.set()  # the assessment goes on to the item: a deadlock, which it finds
    for thread in (clock_holder, assessing, other_side):
        thread.join(30)

    answer = answers["assess"]
    assert answer.status_code == 409, answer.status_code
    assert "Someone else changed this at the same moment" in answer.content.decode()
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECEIVED
    assert not referral.transitions.filter(transition="assess").exists()

    client = Client()
    client.force_login(boss)
    again = client.post(
        reverse("referrals:case_action", args=[referral.pk, "assess"]),
        {"assess-risk": "high", "assess-route": "outreach"},
    )
    assert again.status_code == 302
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
