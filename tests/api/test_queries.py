"""List endpoints cost the same number of queries for 1 row as for 50 (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from referrals.services import submit_anonymous_notification
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, manager, provider_user, responder

pytestmark = pytest.mark.django_db

STATES = ("received", "assessed", "offered", "placed", "missing", "recovered")


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def make_cases(count, *, referrer, boss, provider):
    for index in range(count):
        bring_to(STATES[index % len(STATES)], responder_user=referrer, boss=boss, provider=provider)


@pytest.mark.parametrize("viewer", ["responder", "manager", "provider"])
def test_the_referral_list_costs_the_same_for_1_and_50_referrals(api, viewer):
    referrer, boss = responder(), manager()
    provider = CareProviderFactory(beds_women=60)
    user = {"responder": referrer, "manager": boss, "provider": provider_user(provider)}[viewer]
    client = api(user)
    # The first referral must be visible to every viewer: an offered one.
    bring_to("offered", responder_user=referrer, boss=boss, provider=provider)
    one, body = queries_for(client, "/api/v1/referrals/")
    assert body["count"] == 1
    make_cases(49, referrer=referrer, boss=boss, provider=provider)
    fifty, body = queries_for(client, "/api/v1/referrals/")
    assert len(body["results"]) == (50 if viewer != "provider" else body["count"]) >= 20
    assert fifty == one


def test_history_costs_the_same_however_long_it_is(api):
    short = bring_to("received")
    long = bring_to("placed")
    client = api(short.manager)
    few, entries = queries_for(client, f"/api/v1/referrals/{short.referral.pk}/history/")
    many, more_entries = queries_for(client, f"/api/v1/referrals/{long.referral.pk}/history/")
    assert len(more_entries) > len(entries)
    assert many == few


def test_the_provider_list_costs_the_same_for_1_and_50_providers(api):
    boss = manager()
    client = api(boss)
    bring_to("placed", boss=boss)
    one, body = queries_for(client, "/api/v1/providers/")
    assert body["count"] == 1
    for _ in range(49):
        CareProviderFactory()
    fifty, body = queries_for(client, "/api/v1/providers/")
    assert body["count"] == 50
    assert fifty == one


def test_the_anonymous_notification_list_costs_the_same_for_1_and_50(api):
    user = responder()
    client = api(user)
    fields = {"gender": "female", "nationality": "AL", "exploitation_types": ["sexual"], "region": "london"}
    submit_anonymous_notification(actor=user, **fields)
    one, _ = queries_for(client, "/api/v1/anonymous-notifications/")
    for _ in range(49):
        submit_anonymous_notification(actor=user, **fields)
    fifty, body = queries_for(client, "/api/v1/anonymous-notifications/")
    assert body["count"] == 50
    assert fifty == one
