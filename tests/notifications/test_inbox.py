"""The in-app inbox on the web and the API, and the managers' page of undelivered notifications."""

import contextlib
import datetime
import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from notifications.models import (
    MISSING_EVENTS,
    Channel,
    DeliveryAttempt,
    DeliveryState,
    Event,
    InboxItem,
    Notification,
)
from notifications.sweep import sweep_deadlines
from referrals import services
from referrals.models import Clock, Deadline
from tests.api.cases import bring_to
from tests.api.test_concurrency import sessions_waiting_for_a_lock
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    contractor,
    manager,
    responder,
    submitted_referral,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _password_only_sign_in(settings):
    settings.REQUIRE_MFA = False


def give(user, count, **fields):
    fields.setdefault("event", Event.REFERRAL_ASSESSED)
    return InboxItem.objects.bulk_create(
        InboxItem(
            user=user, reference=f"HBR-2026-{n:06d}", message=f"Referral assessed: HBR-2026-{n:06d}", **fields
        )
        for n in range(count)
    )


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_lists_only_the_users_own_items_in_the_spec_shape():
    me, someone_else = responder(), responder()
    give(me, 2)
    give(someone_else, 3)
    response = api_for(me).get("/api/v1/inbox/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and set(body) == {"count", "next", "previous", "results"}
    assert set(body["results"][0]) == {"id", "event", "reference", "message", "created_at", "read"}
    assert body["results"][0]["read"] is False


def test_the_api_inbox_costs_the_same_queries_for_one_item_as_for_fifty(django_assert_num_queries):
    me = responder()
    give(me, 1)
    client = api_for(me)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/inbox/")
    give(me, 49)
    with CaptureQueriesContext(connection) as fifty:
        response = client.get("/api/v1/inbox/")
    assert len(response.json()["results"]) == 50
    assert len(fifty) == len(one)


def test_marking_an_item_read_on_the_api():
    me = responder()
    (item,) = give(me, 1)
    response = api_for(me).post(f"/api/v1/inbox/{item.pk}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    item.refresh_from_db()
    assert item.read_at is not None


def test_another_users_item_is_a_404_on_the_api():
    me, someone_else = responder(), responder()
    (theirs,) = give(someone_else, 1)
    assert api_for(me).post(f"/api/v1/inbox/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_api_inbox_needs_authentication():
    assert APIClient().get("/api/v1/inbox/").status_code == 401


def test_the_inbox_page_lists_items_and_the_header_counts_unread(client):
    me = responder()
    give(me, 3)
    client.force_login(me)
    response = client.get(reverse("notifications:inbox"))
    assert response.status_code == 200
    assert response.context["inbox_unread"] == 3
    assert "HBR-2026-000002" in response.text
    assert '3<span class="visually-hidden"> unread' in response.text


def test_a_long_inbox_is_paged_as_every_other_list_is(client):
    me = responder()
    give(me, 51)
    client.force_login(me)
    first = client.get(reverse("notifications:inbox")).text
    assert '<nav class="pagination"' in first and "Page 1 of 2 (51 in all)" in first
    assert 'href="?page=2" rel="next">Next page</a>' in first


def test_the_inbox_page_costs_the_same_queries_for_one_item_as_for_fifty(client):
    me = responder()
    give(me, 1)
    client.force_login(me)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("notifications:inbox"))
    give(me, 49)
    with CaptureQueriesContext(connection) as fifty:
        client.get(reverse("notifications:inbox"))
    assert len(fifty) == len(one)


def test_marking_one_read_returns_to_that_item_in_the_inbox_not_the_top(client):
    me = responder()
    first, *_ = give(me, 3)
    client.force_login(me)
    page = client.get(reverse("notifications:inbox")).content.decode()
    back = f"{reverse('notifications:inbox')}#item-{first.pk}"
    assert f'id="item-{first.pk}"' in page and f'value="{back}"' in page
    response = client.post(reverse("notifications:inbox-item-read", args=[first.pk]), {"next": back})
    assert response.url == back


def test_marking_one_and_all_read_on_the_web(client):
    me = responder()
    first, *rest = give(me, 3)
    client.force_login(me)
    response = client.post(reverse("notifications:inbox-item-read", args=[first.pk]))
    assert response.status_code == 302
    assert InboxItem.objects.filter(user=me, read_at__isnull=True).count() == 2
    client.post(reverse("notifications:inbox-read-all"))
    assert not InboxItem.objects.filter(user=me, read_at__isnull=True).exists()
    assert client.get(reverse("notifications:inbox")).context["inbox_unread"] == 0


def test_following_an_inbox_item_to_its_case_reads_it(client):
    referral = submitted_referral()
    me = referral.submitted_by
    (about_it,) = give(me, 1, referral=referral)
    client.force_login(me)
    html = client.get(reverse("notifications:inbox")).content.decode()
    opening = reverse("notifications:inbox-item-open", args=[about_it.pk])
    assert opening in html
    response = client.get(opening)
    assert response["Location"] == reverse("referrals:case", args=[referral.pk])
    about_it.refresh_from_db()
    assert about_it.read


def test_the_inbox_links_only_cases_the_user_may_still_open(client):
    mine, theirs = submitted_referral(), submitted_referral()
    me = mine.submitted_by
    give(me, 1, referral=mine)
    give(me, 1, referral=theirs)  # e.g. an offer since rejected: the case is no longer the user's
    client.force_login(me)
    items = {item.referral_id: item for item in InboxItem.objects.filter(user=me)}
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert reverse("notifications:inbox-item-open", args=[items[mine.pk].pk]) in html
    assert reverse("notifications:inbox-item-open", args=[items[theirs.pk].pk]) not in html
    assert items[theirs.pk].message in html


def test_another_users_item_cannot_be_marked_read_on_the_web(client):
    me, someone_else = responder(), responder()
    (theirs,) = give(someone_else, 1)
    client.force_login(me)
    assert client.post(reverse("notifications:inbox-item-read", args=[theirs.pk])).status_code == 404


def test_the_mark_read_redirect_stays_on_this_site(client):
    me = responder()
    (item,) = give(me, 1)
    client.force_login(me)
    response = client.post(
        reverse("notifications:inbox-item-read", args=[item.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("notifications:inbox")


@contextlib.contextmanager
def mock_publish():
    """Stands in for the broker: the ids handed to Celery."""
    published: list[str] = []
    with mock.patch(
        "notifications.tasks.deliver_notification.apply_async",
        lambda args, **options: published.append(args[0]),
    ):
        yield published


def undelivered_rows(count, state=DeliveryState.FAILED, age=datetime.timedelta(hours=1), organisation=None):
    rows = Notification.objects.bulk_create(
        Notification(
            event=Event.OFFER_MADE,
            channel=Channel.WEBHOOK,
            organisation=organisation or contractor(),
            reference=f"HBR-2026-{n:06d}",
            state=state,
            created_at=timezone.now() - age,
            last_error="HTTP 500",
        )
        for n in range(count)
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(notification=row, succeeded=False, detail="HTTP 500") for row in rows
    )
    return rows


def test_managers_see_failed_and_long_pending_notifications_with_their_attempts(client):
    boss = manager()
    undelivered_rows(1)
    undelivered_rows(1, state=DeliveryState.PENDING)
    fresh = undelivered_rows(1, state=DeliveryState.PENDING, age=datetime.timedelta(seconds=5))
    undelivered_rows(1, state=DeliveryState.DELIVERED)
    client.force_login(boss)
    response = client.get(reverse("notifications:undelivered"))
    assert response.status_code == 200
    shown = list(response.context["notifications"])
    assert {row.state for row in shown} == {DeliveryState.FAILED, DeliveryState.PENDING}
    assert len(shown) == 2 and fresh[0] not in shown
    assert "HTTP 500" in response.text


def test_a_notification_waiting_for_its_next_retry_is_shown_at_once(client):
    (retrying,) = undelivered_rows(1, state=DeliveryState.PENDING, age=datetime.timedelta(seconds=5))
    Notification.objects.filter(pk=retrying.pk).update(attempts=2)
    client.force_login(manager())
    response = client.get(reverse("notifications:undelivered"))
    assert [row.pk for row in response.context["notifications"]] == [retrying.pk]
    assert "Every notification has been delivered" not in response.text


def test_an_empty_undelivered_page_says_how_many_are_being_delivered_not_that_all_were(client, settings):
    # The first minutes of a broker outage: pending, but not yet old enough to be listed.
    settings.NOTIFICATION_STUCK_MINUTES = 10
    org = contractor()
    Notification.objects.bulk_create(
        Notification(
            event=Event.OFFER_MADE,
            channel=Channel.EMAIL,
            organisation=org,
            created_at=timezone.now() - datetime.timedelta(minutes=2),
        )
        for _ in range(3)
    )
    client.force_login(manager())
    response = client.get(reverse("notifications:undelivered"))
    assert list(response.context["notifications"]) == []
    assert "No notification has failed or waited more than 10 minutes." in response.text
    assert "3 notifications are being delivered now." in response.text
    assert "Every notification has been delivered" not in response.text


def test_an_empty_undelivered_page_with_nothing_pending_says_every_notification_was_delivered(client):
    undelivered_rows(1, state=DeliveryState.DELIVERED)
    client.force_login(manager())
    with CaptureQueriesContext(connection) as empty:
        response = client.get(reverse("notifications:undelivered"))
    assert "Every notification has been delivered." in response.text
    assert "being delivered now" not in response.text
    # The list's count, the count of those no longer current, then the one count of pending rows,
    # besides the session and the user.
    assert sum('FROM "notifications_notification"' in query["sql"] for query in empty) == 3


def test_a_manager_sends_a_failed_notification_again_and_it_is_audited(
    client, django_capture_on_commit_callbacks
):
    boss = manager()
    (failed,) = undelivered_rows(1)
    Notification.objects.filter(pk=failed.pk).update(attempts=12)
    client.force_login(boss)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("notifications:resend", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.last_error) == (DeliveryState.PENDING, 0, "")
    assert len(queued) == 1  # handed to Celery after commit
    assert AuditEvent.objects.filter(actor=boss, what__startswith="notification sent again").exists()


def test_a_manager_sends_all_failed_notifications_to_one_organisation_by_one_channel_again_audited(
    client, django_capture_on_commit_callbacks
):
    boss = manager()
    failed = undelivered_rows(3)
    organisation = failed[0].organisation
    by_email = Notification.objects.create(
        event=Event.OFFER_MADE, channel=Channel.EMAIL, organisation=organisation, state=DeliveryState.FAILED
    )
    elsewhere = Notification.objects.create(
        event=Event.OFFER_MADE,
        channel=Channel.WEBHOOK,
        organisation=CareProviderFactory().organisation,
        state=DeliveryState.FAILED,
    )
    client.force_login(boss)
    page = client.get(reverse("notifications:undelivered")).text
    assert f'action="{reverse("notifications:resend-all")}"' in page and "Send all again" in page

    with mock_publish() as published, django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(
            reverse("notifications:resend-all"), {"organisation": organisation.pk, "channel": "webhook"}
        )
    assert response.status_code == 302
    assert len(queued) == 1 and sorted(published) == sorted(str(row.pk) for row in failed)
    states = dict(Notification.objects.values_list("pk", "state"))
    assert [states[row.pk] for row in failed] == [DeliveryState.PENDING] * 3
    assert (states[by_email.pk], states[elsewhere.pk]) == (DeliveryState.FAILED, DeliveryState.FAILED)
    assert (
        AuditEvent.objects.filter(actor=boss, what="notification sent again: offer.made by webhook").count()
        == 3
    )
    assert "3 sent again" in client.get(reverse("notifications:undelivered")).text


def test_only_a_manager_can_send_all_failed_notifications_again_by_a_form_post(client):
    (failed,) = undelivered_rows(1)
    form = {"organisation": failed.organisation_id, "channel": "webhook"}
    url = reverse("notifications:resend-all")
    client.force_login(responder())
    assert client.post(url, form).status_code == 403
    client.force_login(manager())
    assert client.get(url, form).status_code == 405
    assert client.post(url, {**form, "channel": "carrier pigeon"}).status_code == 400
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager())
    assert strict.post(url, form).status_code == 403
    failed.refresh_from_db()
    assert failed.state == DeliveryState.FAILED
    assert not AuditEvent.objects.filter(what__startswith="notification sent again").exists()


def test_only_a_manager_can_send_a_notification_again(client):
    (failed,) = undelivered_rows(1)
    client.force_login(responder())
    assert client.post(reverse("notifications:resend", args=[failed.pk])).status_code == 403
    failed.refresh_from_db()
    assert failed.state == DeliveryState.FAILED


def test_sending_again_a_notification_already_sent_again_says_so_on_the_undelivered_page(
    client, django_capture_on_commit_callbacks
):
    # Two tabs, two managers or a double press: the first "Send again" sends it, the second is told.
    (failed,) = undelivered_rows(1)
    client.force_login(manager())
    url = reverse("notifications:resend", args=[failed.pk])
    client.post(url)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(url, follow=True)
    assert response.redirect_chain == [(reverse("notifications:undelivered"), 302)]
    assert "This notification was already sent again" in response.text
    assert "Page not found" not in response.text
    assert queued == []
    assert AuditEvent.objects.filter(what__startswith="notification sent again").count() == 1


def test_sending_again_a_delivered_notification_says_it_was_delivered(client):
    (delivered,) = undelivered_rows(1, state=DeliveryState.DELIVERED)
    client.force_login(manager())
    response = client.post(reverse("notifications:resend", args=[delivered.pk]), follow=True)
    assert response.redirect_chain == [(reverse("notifications:undelivered"), 302)]
    assert "This notification has already been delivered." in response.text
    delivered.refresh_from_db()
    assert delivered.state == DeliveryState.DELIVERED


def test_sending_again_a_notification_that_does_not_exist_is_a_404(client):
    client.force_login(manager())
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(reverse("notifications:resend", args=[missing])).status_code == 404


def test_the_undelivered_page_costs_the_same_queries_for_one_row_as_for_fifty(client):
    client.force_login(manager())
    undelivered_rows(1)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("notifications:undelivered"))
    undelivered_rows(49)
    with CaptureQueriesContext(connection) as fifty:
        client.get(reverse("notifications:undelivered"))
    assert len(fifty) == len(one)


def test_an_item_telling_of_failed_deliveries_opens_the_undelivered_notifications_to_that_organisation(
    client,
):
    boss = manager()
    police, council = OrganisationFactory(), OrganisationFactory()
    to_police = undelivered_rows(51, organisation=police)
    undelivered_rows(1, organisation=council)
    (item,) = give(
        boss, 1, event=Event.DELIVERY_FAILED, referral=submitted_referral(), notification=to_police[0]
    )
    client.force_login(boss)
    opening = reverse("notifications:inbox-item-open", args=[item.pk])
    assert (
        f'<a href="{opening}">Undelivered notifications</a>'
        in client.get(reverse("notifications:inbox")).text
    )

    response = client.get(opening)
    assert response["Location"] == f"{reverse('notifications:undelivered')}?organisation={police.pk}"
    item.refresh_from_db()
    assert item.read
    page = client.get(response["Location"])
    assert f"Only those to {police.name} are shown." in page.text
    assert {row.organisation for row in page.context["notifications"]} == {police}
    assert page.context["page"].paginator.count == 51
    assert f'href="?organisation={police.pk}&amp;page=2"' in page.text  # the next page keeps to it


@pytest.mark.parametrize(("organisation", "status"), [("police", 400), ("0", 404)])
def test_the_undelivered_notifications_to_an_organisation_that_is_not_one_are_refused(
    client, organisation, status
):
    client.force_login(manager())
    response = client.get(reverse("notifications:undelivered"), {"organisation": organisation})
    assert response.status_code == status


def test_only_managers_see_undelivered_notifications(client):
    client.force_login(responder())
    assert client.get(reverse("notifications:undelivered")).status_code == 403


@pytest.mark.parametrize("ending", ["accept", "reject", "expire", "withdraw", "revoke_offer"])
def test_an_offer_answered_expired_or_withdrawn_no_longer_waits_unread_in_the_providers_inbox(ending):
    case = bring_to("offered")
    waiting = InboxItem.objects.filter(
        referral_id=case.referral.pk,
        user=case.provider_user,
        event__in=(Event.OFFER_MADE, Event.DEADLINE_REMINDER),
        read_at__isnull=True,
    )
    offer = case.referral.offers.get()
    sweep_deadlines(now=offer.response_due_at - datetime.timedelta(minutes=1))  # the answer is due soon
    assert waiting.filter(event=Event.DEADLINE_REMINDER).exists()
    pk = case.referral.pk
    if ending == "accept":
        services.accept_offer(referral_id=pk, actor=case.provider_user)
    elif ending == "reject":
        services.reject_offer(referral_id=pk, actor=case.provider_user, reason="no_capacity")
    elif ending == "expire":
        services.expire_offer(offer_id=case.referral.offers.get().pk)
    elif ending == "withdraw":
        services.withdraw_referral(referral_id=pk, actor=case.manager, reason="duplicate")
    else:
        services.revoke_offer(referral_id=pk, actor=case.manager, reason="no_answer")
    assert not waiting.exists()


@pytest.mark.parametrize("alert", ["Person reported missing", "Person still missing"])
def test_a_missing_person_stands_out_in_the_inbox(client, alert):
    case = bring_to("missing")
    repeat_due = case.referral.deadlines.get(clock=Clock.MISSING).due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    client.force_login(case.manager)
    page = client.get(reverse("notifications:inbox")).content.decode()
    row = next(row for row in page.split("</tr>") if alert in row)
    assert '<span class="tag tag-urgent">Urgent</span>' in row


def row_of(page: str, text: str) -> str:
    return next(row for row in page.split("</tr>") if text in row)


URGENT = '<span class="tag tag-urgent">Urgent</span>'


@pytest.mark.parametrize("ended", ["found", "exit"])
def test_a_missing_persons_alerts_are_no_longer_shown_urgent_once_they_are_found_or_leave_support(
    client, ended
):
    case = bring_to("missing")
    repeat_due = case.referral.deadlines.get(clock=Clock.MISSING).due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    if ended == "found":
        services.mark_found(referral_id=case.referral.pk, actor=case.manager)
    else:
        services.exit_referral(referral_id=case.referral.pk, actor=case.manager, reason="lost_contact")
    for reader in (case.manager, case.responder):
        client.force_login(reader)
        page = client.get(reverse("notifications:inbox")).content.decode()
        for alert in ("Person reported missing", "Person still missing"):
            # Still saying what it was, read, and no longer urgent.
            row = row_of(page, alert)
            assert f"{alert}: {case.referral.reference}" in row and "Read" in row
            assert URGENT not in row
        # The API says the same: read.
        results = api_for(reader).get("/api/v1/inbox/").json()["results"]
        alerts = [item for item in results if item["event"] in MISSING_EVENTS]
        assert {item["event"] for item in alerts} == set(MISSING_EVENTS)
        assert all(item["read"] for item in alerts)


@pytest.mark.parametrize("event", [Event.PERSON_MISSING, Event.STILL_MISSING, Event.DEADLINE_BREACHED])
def test_an_alert_its_reader_has_read_is_no_longer_shown_urgent_and_only_for_them(client, event):
    me, colleague = manager(), manager()
    (mine,) = give(me, 1, event=event)
    give(colleague, 1, event=event)

    def shown_urgent(user) -> bool:
        client.force_login(user)
        return URGENT in row_of(
            client.get(reverse("notifications:inbox")).content.decode(), "HBR-2026-000000"
        )

    def read_on_the_api(user) -> bool:
        return api_for(user).get("/api/v1/inbox/").json()["results"][0]["read"]

    assert shown_urgent(me) and not read_on_the_api(me)
    client.post(reverse("notifications:inbox-item-read", args=[mine.pk]))
    assert not shown_urgent(me) and read_on_the_api(me)
    assert shown_urgent(colleague) and not read_on_the_api(colleague)


def unread(referral, event):
    return InboxItem.objects.filter(referral=referral, event=event, read_at__isnull=True)


@pytest.mark.parametrize("dealt_with", ["assess", "decline", "withdraw"])
def test_a_new_referral_no_longer_waits_unread_for_any_manager_once_one_has_dealt_with_it(dealt_with):
    one, other = manager(), manager()
    case = bring_to("received", boss=one)
    assert {item.user for item in unread(case.referral, Event.REFERRAL_RECEIVED)} >= {one, other}
    deadline = case.referral.deadlines.get()
    sweep_deadlines(now=deadline.due_at + datetime.timedelta(minutes=1))  # the assessment is late
    pk = case.referral.pk
    if dealt_with == "assess":
        services.assess_referral(referral_id=pk, actor=one, risk="low", route="accommodation")
    elif dealt_with == "decline":
        services.decline_referral(referral_id=pk, actor=one, reason="not_eligible")
    else:
        services.withdraw_referral(referral_id=pk, actor=case.responder, reason="duplicate")
    assert not unread(case.referral, Event.REFERRAL_RECEIVED).exists()
    # A missed deadline stays news until each manager reads it.
    assert {item.user for item in unread(case.referral, Event.DEADLINE_BREACHED)} >= {one, other}


@pytest.mark.parametrize("came_to_nothing", ["reject", "expire"])
@pytest.mark.parametrize("then", ["offer again", "withdraw"])
def test_an_offer_that_came_to_nothing_no_longer_waits_unread_once_the_case_moves_on(came_to_nothing, then):
    one, other = manager(), manager()
    case = bring_to("offered", boss=one)
    pk = case.referral.pk
    if came_to_nothing == "reject":
        services.reject_offer(referral_id=pk, actor=case.provider_user, reason="no_capacity")
    else:
        services.expire_offer(offer_id=case.referral.offers.get().pk)
    event = Event.OFFER_REJECTED if came_to_nothing == "reject" else Event.OFFER_EXPIRED
    assert {item.user for item in unread(case.referral, event)} >= {one, other}
    if then == "offer again":
        services.offer_placement(referral_id=pk, actor=other, provider_id=CareProviderFactory().pk)
    else:
        services.withdraw_referral(referral_id=pk, actor=one, reason="referred_elsewhere")
    assert not unread(case.referral, event).exists()


@pytest.mark.parametrize("then", ["offer again", "withdraw"])
def test_a_reallocation_no_longer_waits_unread_for_the_managers_once_the_person_is_offered_again(then):
    one, other = manager(), manager()
    case = bring_to("placed", boss=one)
    pk = case.referral.pk
    services.reallocate_referral(referral_id=pk, actor=case.provider_user, reason="needs_changed")
    assert {item.user for item in unread(case.referral, Event.REFERRAL_REALLOCATED)} >= {one, other}
    if then == "offer again":
        services.offer_placement(referral_id=pk, actor=other, provider_id=CareProviderFactory().pk)
    else:
        services.withdraw_referral(referral_id=pk, actor=one, reason="referred_elsewhere")
    # The managers' to do is done; the referrer's news waits until read.
    assert {item.user for item in unread(case.referral, Event.REFERRAL_REALLOCATED)} == {case.responder}


@pytest.mark.parametrize("ended", ["found", "exit", "found once reallocated", "exit once reallocated"])
def test_a_missing_persons_alerts_no_longer_wait_unread_once_they_are_found_or_leave_support(ended):
    one, other = manager(), manager()
    case = bring_to("missing", boss=one)
    pk = case.referral.pk
    repeat_due = case.referral.deadlines.get(clock=Clock.MISSING).due_at
    sweep_deadlines(now=repeat_due + datetime.timedelta(seconds=1))
    alerts = InboxItem.objects.filter(referral=case.referral, event__in=MISSING_EVENTS, read_at__isnull=True)
    told = {case.responder, one, other}
    assert {item.user for item in alerts.filter(event=Event.PERSON_MISSING)} >= told
    assert {item.user for item in alerts.filter(event=Event.STILL_MISSING)} >= told
    if ended.endswith("once reallocated"):
        services.reallocate_referral(referral_id=pk, actor=one, reason="safety_concern")
        assert alerts.count() >= 2 * len(told)  # still missing: still to act on
    if ended.startswith("found"):
        services.mark_found(referral_id=pk, actor=one)
    else:
        services.exit_referral(referral_id=pk, actor=one, reason="lost_contact")
    assert not alerts.exists()
    # The news of how it ended is itself unread, as news is.
    news = Event.REFERRAL_EXITED if ended.startswith("exit") else Event.PERSON_FOUND
    assert {item.user for item in unread(case.referral, news)} >= told


def test_an_offer_past_its_answer_time_closed_by_the_next_offer_leaves_no_unread_expiry():
    boss = manager()
    case = bring_to("offered", boss=boss)
    case.referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    services.offer_placement(referral_id=case.referral.pk, actor=boss, provider_id=CareProviderFactory().pk)
    assert InboxItem.objects.filter(referral=case.referral, event=Event.OFFER_EXPIRED, user=boss).exists()
    assert not unread(case.referral, Event.OFFER_EXPIRED).exists()


def failed_by_email(case, event):
    """The case's ``event`` by email, failed after every retry."""
    row = Notification.objects.get(referral=case.referral, event=event, channel=Channel.EMAIL)
    Notification.objects.filter(pk=row.pk).update(state=DeliveryState.FAILED, last_error="HTTP 500")
    return row


def test_a_failed_offer_no_longer_pending_is_left_off_the_undelivered_list_counted_and_not_sent_again(
    client, django_capture_on_commit_callbacks
):
    case = bring_to("offered")
    offered = failed_by_email(case, Event.OFFER_MADE)
    client.force_login(case.manager)
    before = client.get(reverse("notifications:undelivered")).text
    assert reverse("notifications:resend", args=[offered.pk]) in before
    services.reject_offer(referral_id=case.referral.pk, actor=case.provider_user, reason="no_capacity")
    page = client.get(reverse("notifications:undelivered")).text
    # Nothing to do about it: not a row on the page a manager checks for receivers that need attention.
    assert reverse("notifications:resend", args=[offered.pk]) not in page
    assert case.referral.reference not in page
    assert "Send all again" not in page
    assert "1 undelivered notification is no longer current, so not shown." in page
    assert "No notification still current has failed" in page

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("notifications:resend", args=[offered.pk]), follow=True)
    assert "This notification is no longer current (offer closed): it is not sent again." in response.text
    assert queued == []
    offered.refresh_from_db()
    assert offered.state == DeliveryState.FAILED
    assert not AuditEvent.objects.filter(what__startswith="notification sent again").exists()


def test_send_all_again_skips_the_notifications_no_longer_current_and_says_how_many(
    client, django_capture_on_commit_callbacks
):
    provider = CareProviderFactory()
    answered, waiting = bring_to("offered", provider=provider), bring_to("offered", provider=provider)
    closed, pending = failed_by_email(answered, Event.OFFER_MADE), failed_by_email(waiting, Event.OFFER_MADE)
    services.reject_offer(referral_id=answered.referral.pk, actor=answered.provider_user, reason="unsuitable")
    client.force_login(manager())
    with mock_publish() as published, django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("notifications:resend-all"),
            {"organisation": provider.organisation_id, "channel": "email"},
            follow=True,
        )
    assert (
        "1 sent again. They are retried as before if the receiver still fails. 1 skipped: no longer current."
        in (response.text)
    )
    assert published == [str(pending.pk)]
    states = dict(Notification.objects.values_list("pk", "state"))
    assert (states[closed.pk], states[pending.pk]) == (DeliveryState.FAILED, DeliveryState.PENDING)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_marking_all_read_while_a_colleague_assesses_the_case_they_tell_of_deadlocks_neither():
    """An assessment marks the case's reminders read, then its "new referral" items, for every manager;
    "mark all read" goes through the reader's items in the order they came. Each holding what the other
    wants next, PostgreSQL would abort one of them (a page saying the service is unavailable)."""
    managers = {manager(), manager()}
    referral = submitted_referral()
    clock = Deadline.objects.get(referral=referral, clock=Clock.ASSESSMENT)
    sweep_deadlines(now=clock.remind_at + datetime.timedelta(seconds=1))
    reminders = InboxItem.objects.filter(referral=referral, event=Event.DEADLINE_REMINDER).order_by("pk")
    # The reader is the manager whose reminder the assessment marks read first.
    reader = reminders.first().user
    (colleague,) = managers - {reader}
    others_reminder = reminders.last()
    held, release = threading.Event(), threading.Event()

    def hold_the_colleagues_reminder() -> None:
        """So that the assessment stops between the reader's reminder and the rest: the moment at which
        the reader marks all read."""
        try:
            with transaction.atomic():
                InboxItem.objects.select_for_update().filter(pk=others_reminder.pk).exists()
                held.set()
                release.wait(30)
        finally:
            connection.close()

    outcomes: dict[str, Any] = {}

    def in_thread(name: str, work) -> threading.Thread:
        def run() -> None:
            try:
                outcomes[name] = work()
            except Exception as error:  # noqa: BLE001 - handed to the assertions
                outcomes[name] = error
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def read_all():
        client = Client()
        client.force_login(reader)
        return client.post(reverse("notifications:inbox-read-all")).status_code

    holder = threading.Thread(target=hold_the_colleagues_reminder)
    holder.start()
    assert held.wait(30)
    assessing = in_thread(
        "assess",
        lambda: (
            services.assess_referral(
                referral_id=referral.pk, actor=colleague, risk="low", route="outreach"
            ).state
        ),
    )
    while assessing.is_alive() and sessions_waiting_for_a_lock() < 1:
        threading.Event().wait(0.01)
    reading = in_thread("read_all", read_all)
    while reading.is_alive() and sessions_waiting_for_a_lock() < 2:
        threading.Event().wait(0.01)
    release.set()
    for thread in (holder, assessing, reading):
        thread.join(30)

    assert outcomes == {"assess": "assessed", "read_all": 302}
    assert not InboxItem.objects.filter(user=reader, read_at__isnull=True).exists()
