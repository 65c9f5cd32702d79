"""The referral create costs a fixed, small number of queries and answers what it stored (SPEC §3, §9)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import InboxItem, Notification
from notifications.services import manager_recipients
from referrals.models import Deadline, Referral
from tests.factories import OrganisationFactory, contractor, manager, referral_fields, responder

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals/"
# Token; the Idempotency-Key's savepoint (in the test's transaction), record and answer; the manager
# organisations with their users; the case number; the referral, transition log, audit row and
# assessment clock; the inbox items and the outbox rows (a new case's first event needs no look-up of
# the one before). (The year's first submission also makes the year's reference sequence, so each test
# submits once before counting.)
CREATE_QUERIES = 13


def payload() -> dict:
    fields = referral_fields()
    fields["date_of_birth"] = fields["date_of_birth"].isoformat()
    return fields


def create(client, **headers):
    return client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()), **headers)


def test_a_create_costs_a_fixed_number_of_queries_however_many_managers(api, django_assert_max_num_queries):
    manager()
    client = api(responder())
    assert create(client).status_code == 201
    with django_assert_max_num_queries(CREATE_QUERIES):
        assert create(client).status_code == 201
    for _ in range(5):
        manager()
    second = OrganisationFactory(kind="contractor", webhook_url="https://hooks.example.test/in")
    manager(organisation=second)
    with CaptureQueriesContext(connection) as captured:
        response = create(client)
    assert response.status_code == 201
    assert len(captured) <= CREATE_QUERIES
    # Six managers of the first organisation and one of the second each get an inbox item.
    assert InboxItem.objects.filter(referral_id=response.json()["id"]).count() == 7


def test_the_create_answer_shows_the_clock_as_stored(api):
    user = responder()
    client = api(user)
    body = create(client).json()
    stored = Deadline.objects.get(referral_id=body["id"])
    assert stored.stopped_at is None
    assert len(body["deadlines"]) == 1
    assert body["pending_offer"] is None and body["placement"] is None
    detail = client.get(f"{URL}{body['id']}/").json()
    assert body["deadlines"] == detail["deadlines"]
    assert body == detail


def test_references_count_up_within_the_year(api):
    client = api(responder())
    first = create(client).json()["reference"]
    second = create(client).json()["reference"]
    year = timezone.localdate(Referral.objects.get(reference=first).submitted_at).year
    assert first.startswith(f"HBR-{year}-") and second.startswith(f"HBR-{year}-")
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def test_manager_recipients_are_the_active_users_of_every_contractor_organisation():
    boss, retired = manager(), manager(is_active=False)
    quiet = OrganisationFactory(kind="contractor", name="No users yet")
    responder()
    with CaptureQueriesContext(connection) as captured:
        recipients = {org.pk: org.active_user_ids for org in manager_recipients()}
    assert len(captured) == 1
    assert recipients == {contractor().pk: [boss.pk], quiet.pk: []}
    assert retired.pk not in recipients[contractor().pk]


def test_a_contractor_without_users_still_gets_its_outbox_rows(api):
    quiet = OrganisationFactory(kind="contractor", notification_emails=["duty@quiet.test"])
    body = create(api(responder())).json()
    assert Notification.objects.filter(referral_id=body["id"], organisation=quiet).count() == 1
