"""Races on PostgreSQL with real threads (SPEC §4): one winner, clear 409s for the rest, no orphan state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from care_providers.models import OfferState, Placement
from referrals import services
from referrals.choices import ReferralState
from referrals.models import Referral
from tests.api.cases import bring_to, transition_url
from tests.factories import (
    PASSWORD,
    CareProviderFactory,
    manager,
    provider_user,
    referral_fields,
    responder,
    submitted_referral,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
    return client


def run_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; each thread closes its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_acceptances_of_one_offer_give_one_success_and_one_409():
    case = bring_to("offered")
    clients = [client_for(case.provider_user), client_for(provider_user(case.provider))]
    url = transition_url(case.referral.pk, "accept")
    responses = run_at_once([lambda c=c: c.post(url, {}, format="json") for c in clients])
    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["detail"]
    assert case.referral.transitions.filter(transition="accept").count() == 1
    assert Placement.objects.filter(referral=case.referral).count() == 1


def test_ten_acceptances_for_the_last_three_beds_place_exactly_three():
    provider = CareProviderFactory(beds_women=5)
    boss = manager()
    # Two of the five women's beds are already taken.
    for _ in range(2):
        bring_to("placed", provider=provider, boss=boss)
    staff = [provider_user(provider) for _ in range(10)]
    referrals = [bring_to("offered", provider=provider, boss=boss).referral for _ in range(10)]
    clients = [client_for(user) for user in staff]
    calls = [
        lambda c=c, r=r: c.post(transition_url(r.pk, "accept"), {}, format="json")
        for c, r in zip(clients, referrals, strict=True)
    ]
    responses = run_at_once(calls)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 3 + [409] * 7
    for refused in (r for r in responses if r.status_code == 409):
        assert "no free" in refused.json()["detail"]
    active = Placement.objects.filter(provider=provider, ended_at__isnull=True)
    assert active.filter(bed_kind="women").count() == 5 == provider.beds_women
    # No orphan state: every placed referral holds an active placement with a bed, and every active
    # placement belongs to a placed referral.
    for referral in Referral.objects.filter(pk__in=[r.pk for r in referrals]):
        placement = referral.placements.filter(ended_at__isnull=True).first()
        if referral.state == ReferralState.PLACED:
            assert placement is not None and placement.bed_kind == "women"
            assert referral.offers.get().state == OfferState.ACCEPTED
        else:
            assert referral.state == ReferralState.ASSESSED
            assert placement is None
            assert referral.offers.get().state == OfferState.PENDING
    assert (
        not Placement.objects.filter(ended_at__isnull=True)
        .exclude(referral__state__in=[ReferralState.PLACED, ReferralState.MISSING])
        .exists()
    )


def test_two_concurrent_assessments_through_the_api_give_one_success_and_one_409():
    referral = submitted_referral()
    clients = [client_for(manager()), client_for(manager())]
    url = transition_url(referral.pk, "assess")
    body = {"risk": "low", "route": "outreach"}
    responses = run_at_once([lambda c=c: c.post(url, body, format="json") for c in clients])
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert referral.transitions.filter(transition="assess").count() == 1


def test_two_identical_creates_with_one_key_at_once_create_one_referral():
    user = responder()
    client = client_for(user)
    body = referral_fields(date_of_birth="1990-05-01")
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-once-7f3a"}
    responses = run_at_once(
        [lambda: client.post("/api/v1/referrals/", body, format="json", **headers) for _ in range(2)]
    )
    assert Referral.objects.count() == 1
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.status_code for r in responses]
    # The other one either replayed the same answer or was told the key is in use.
    for response in responses:
        assert response.status_code in (201, 409)
        if response.status_code == 201:
            assert response.json()["id"] == Referral.objects.get().pk


def test_concurrent_offers_to_one_referral_leave_one_pending_offer():
    case = bring_to("assessed")
    providers = [CareProviderFactory(), CareProviderFactory()]
    clients = [client_for(manager()), client_for(manager())]
    url = transition_url(case.referral.pk, "offer")
    responses = run_at_once(
        [
            lambda c=c, p=p: c.post(url, {"provider": p.pk}, format="json")
            for c, p in zip(clients, providers, strict=True)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert case.referral.offers.filter(state=OfferState.PENDING).count() == 1
    services.withdraw_referral(referral_id=case.referral.pk, actor=case.manager, reason="duplicate")


def sessions_waiting_for_a_lock() -> int:
    """How many sessions of this database wait for a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until_waiting_for_a_lock(sessions: int = 1) -> None:
    """Until that many sessions of this database wait for a lock; failing after 30 seconds rather than
    hanging."""
    for _ in range(3000):
        if sessions_waiting_for_a_lock() >= sessions:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{sessions} session(s) never waited for a lock")


def test_a_provider_whose_placement_ends_while_its_request_waits_for_the_case_gets_a_409_not_a_403():
    case = bring_to("placed")
    locked, release = threading.Event(), threading.Event()

    def reallocate_while_holding_the_case() -> None:
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(pk=case.referral.pk)
                locked.set()
                release.wait(30)
                services.reallocate_referral(referral_id=case.referral.pk, actor=case.manager, reason="other")
        finally:
            connection.close()

    answers: list[Any] = []

    def recover() -> None:
        try:
            answers.append(
                client_for(case.provider_user).post(
                    transition_url(case.referral.pk, "recover"), {"outcome": "other"}, format="json"
                )
            )
        finally:
            connection.close()

    manager_thread = threading.Thread(target=reallocate_while_holding_the_case)
    manager_thread.start()
    assert locked.wait(30)
    provider_thread = threading.Thread(target=recover)
    provider_thread.start()  # allowed by the API's check, then waits for the case's row
    wait_until_waiting_for_a_lock()
    release.set()
    manager_thread.join(30)
    provider_thread.join(30)
    (answer,) = answers
    assert answer.status_code == 409, answer.json()
    assert "changed" in answer.json()["detail"]
    assert case.refresh().state == ReferralState.ASSESSED


def test_token_requests_for_one_user_at_the_same_moment_each_get_a_token_that_works():
    user = responder()
    credentials = {"username": user.username, "password": PASSWORD}
    issuing, release = threading.Event(), threading.Event()

    def issue_while_the_others_ask() -> None:
        try:
            with transaction.atomic():
                issue_token(user)
                issuing.set()
                release.wait(30)
        finally:
            connection.close()

    answers: list[Any] = [None] * 4

    def ask(index: int) -> None:
        try:
            answers[index] = APIClient().post("/api/v1/auth/token/", credentials, format="json")
        finally:
            connection.close()

    holder = threading.Thread(target=issue_while_the_others_ask)
    holder.start()
    assert issuing.wait(30)
    askers = [threading.Thread(target=ask, args=(index,)) for index in range(len(answers))]
    for asker in askers:
        asker.start()
    wait_until_waiting_for_a_lock(sessions=len(askers))
    release.set()
    for thread in (holder, *askers):
        thread.join(30)
    assert [answer.status_code for answer in answers] == [200] * len(answers), [a.json() for a in answers]
    for token in {answer.json()["token"] for answer in answers}:
        me = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
        assert me.status_code == 200


def test_a_withdrawal_and_an_acceptance_of_one_offer_at_once_give_one_success_and_one_409():
    case = bring_to("offered")
    locked, release = threading.Event(), threading.Event()

    def hold_the_case() -> None:
        """Both requests pass their checks and then wait for the case's row: the race is for the lock."""
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(pk=case.referral.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_case)
    holder.start()
    assert locked.wait(30)
    requests = [
        (case.manager, "revoke_offer", {"reason": "no_answer"}),
        (case.provider_user, "accept", {}),
    ]
    answers: dict[str, Any] = {}

    def send(user, transition: str, body: dict[str, Any]) -> None:
        try:
            answers[transition] = client_for(user).post(
                transition_url(case.referral.pk, transition), body, format="json"
            )
        finally:
            connection.close()

    senders = [threading.Thread(target=send, args=request) for request in requests]
    for sender in senders:
        sender.start()
    wait_until_waiting_for_a_lock(sessions=len(senders))
    release.set()
    for thread in (holder, *senders):
        thread.join(30)

    codes = {transition: answer.status_code for transition, answer in answers.items()}
    assert sorted(codes.values()) == [200, 409], {t: a.json() for t, a in answers.items()}
    loser = next(answer for answer in answers.values() if answer.status_code == 409)
    assert loser.json()["code"] == "offer_not_pending" and loser.json()["detail"]
    referral, offer = case.refresh(), case.referral.offers.get()
    transitions = set(referral.transitions.values_list("transition", flat=True))
    if codes["accept"] == 200:
        assert (referral.state, offer.state) == (ReferralState.PLACED, OfferState.ACCEPTED)
        assert Placement.objects.filter(referral=referral).count() == 1
        assert "revoke_offer" not in transitions
        assert loser.json()["detail"].startswith(f"The offer to {case.provider.name} was accepted")
    else:
        assert (referral.state, offer.state) == (ReferralState.ASSESSED, OfferState.REVOKED)
        assert loser.json()["detail"] == "This offer was withdrawn."
        assert not Placement.objects.filter(referral=referral).exists()
        assert "accept" not in transitions
