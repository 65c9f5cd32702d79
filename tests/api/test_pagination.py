"""Every API list pages by cursor: a client walking it while rows leave and join sees every row that
stayed on it, in its place, exactly once, on PostgreSQL and SQLite alike; a cursor the list did not
give is a 400."""

from __future__ import annotations

import datetime

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from audit.models import AuditEvent
from notifications.models import Event, InboxItem
from referrals import services
from referrals.api.pagination import (
    CURSOR_SALT,
    INVALID_CURSOR,
    PAGE_REFUSED,
    PAGE_SIZE_REFUSED,
    HarbourPagination,
)
from referrals.models import AnonymousNotification, Clock, Deadline, Referral
from tests.factories import CareProviderFactory, manager, responder, submitted_referral

pytestmark = pytest.mark.django_db

ANONYMOUS_FIELDS = {
    "gender": "female",
    "nationality": "AL",
    "exploitation_types": ["sexual"],
    "region": "london",
}


def walk(client, url, between_pages=lambda page: None):
    """Every page of a list by its next links, calling ``between_pages`` with each page's number after it."""
    pages, number = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        number += 1
        between_pages(number)
        url = pages[-1]["next"]
    return pages


def ids(pages):
    return [row["id"] for page in pages for row in page["results"]]


def references(pages):
    return [row["reference"] for page in pages for row in page["results"]]


def overdue_case(clocks):
    """A case whose only open clocks are ``clocks``: {clock: (started_at, due_at)}."""
    referral = submitted_referral(responder())
    Deadline.objects.filter(referral=referral).update(stopped_at=timezone.now())
    for clock, (started, due) in clocks.items():
        Deadline.objects.create(referral=referral, clock=clock, started_at=started, due_at=due)
    return referral


def assess(referral, boss):
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")


def test_walking_received_referrals_while_cases_leave_and_join_sees_every_one_that_stayed_once(api):
    referrer, boss = responder(), manager()
    cases = [submitted_referral(referrer) for _ in range(9)]
    # Submitted at one moment, so that only the tie-breaker tells them apart.
    Referral.objects.update(submitted_at=timezone.now())
    newest_first = sorted(cases, key=lambda case: -case.pk)
    joined = []

    def meanwhile(page):
        if page == 1:
            # Managers assess two cases the client has seen: every later row moves up two places.
            assess(newest_first[0], boss)
            assess(newest_first[1], boss)
        elif page == 2:
            # A new case sorts ahead of the client's place, and one on the next page is assessed.
            joined.append(submitted_referral(referrer))
            assess(newest_first[6], boss)

    pages = walk(api(boss), "/api/v1/referrals/?state=received&page_size=2", meanwhile)
    seen = ids(pages)
    # Every case on the list until the client reached its place, in order, once.
    listed = [case.pk for case in newest_first if case is not newest_first[6]]
    assert seen == listed
    assert joined[0].pk not in seen
    # The count is the filtered list's whole, as it stood when each page was read.
    assert [page["count"] for page in pages] == [9, 7, 7, 7]
    assert all("state=received" in page["next"] and "page_size=2" in page["next"] for page in pages[:-1])


def test_previous_links_walk_back_through_the_same_rows(api):
    referrer = responder()
    for _ in range(5):
        submitted_referral(referrer)
    client = api(referrer)
    forward = walk(client, "/api/v1/referrals/?page_size=2")
    assert forward[0]["previous"] is None and forward[-1]["next"] is None
    back, url = [], forward[-1]["previous"]
    while url:
        back.append(client.get(url).json())
        url = back[-1]["previous"]
    assert ids(reversed(back)) == ids(forward[:-1])
    # The first page, reached back, leads forward again.
    assert ids([client.get(back[-1]["next"]).json()]) == ids([forward[1]])


@pytest.mark.parametrize("endpoint", ["providers", "inbox", "anonymous-notifications"])
def test_every_list_pages_through_rows_that_sort_alike_each_once(api, endpoint):
    boss = manager()
    if endpoint == "providers":
        for _ in range(5):
            CareProviderFactory(name="Same Name House")
    elif endpoint == "inbox":
        InboxItem.objects.bulk_create(
            InboxItem(
                user=boss, event=Event.REFERRAL_ASSESSED, reference="HBR-2026-000001", message="Assessed"
            )
            for _ in range(5)
        )
        InboxItem.objects.update(created_at=timezone.now())
    else:
        for _ in range(5):
            services.submit_anonymous_notification(actor=responder(), **ANONYMOUS_FIELDS)
        AnonymousNotification.objects.update(submitted_at=timezone.now())
    pages = walk(api(boss), f"/api/v1/{endpoint}/?page_size=2")
    seen = ids(pages)
    assert len(pages) == 3 and len(seen) == len(set(seen)) == pages[0]["count"] == 5


def test_walking_a_case_audit_trail_while_the_case_is_read_repeats_no_event(api):
    boss = manager()
    case = submitted_referral(responder())
    client = api(boss)
    for _ in range(4):
        client.get(f"/api/v1/referrals/{case.pk}/")
    there = list(AuditEvent.objects.filter(referral=case).order_by("-at", "-id").values_list("pk", flat=True))

    def meanwhile(page):
        # Each read is a new event, newest first: ahead of the client's place.
        client.get(f"/api/v1/referrals/{case.pk}/")

    seen = ids(walk(client, f"/api/v1/referrals/{case.pk}/audit/?page_size=2", meanwhile))
    assert len(there) >= 5 and [pk for pk in seen if pk in there] == there
    assert len(seen) == len(set(seen))


def test_a_missing_person_overdue_since_the_same_moment_as_another_case_is_listed_first_and_not_skipped(
    api,
):
    # On every database: SQLite puts NULLs first going up, where the cursor expects them last.
    moment = timezone.now() - datetime.timedelta(hours=5)
    other = overdue_case({Clock.CHECK_IN: (moment - datetime.timedelta(days=1), moment)})
    missing = overdue_case({Clock.MISSING: (moment, timezone.now() + datetime.timedelta(hours=1))})
    pages = walk(api(manager()), "/api/v1/reports/overdue/?page_size=1")
    # The CSV's order: a missing person first among the cases overdue since one moment.
    assert references(pages) == [missing.reference, other.reference]


def test_walking_the_overdue_report_back_gives_the_same_cases(api):
    moment = timezone.now() - datetime.timedelta(hours=5)
    later = timezone.now() + datetime.timedelta(hours=1)
    for _ in range(2):
        overdue_case({Clock.CHECK_IN: (moment - datetime.timedelta(days=1), moment)})
        overdue_case({Clock.MISSING: (moment, later)})
    overdue_case({Clock.CHECK_IN: (moment, moment + datetime.timedelta(minutes=1))})
    client = api(manager())
    forward = walk(client, "/api/v1/reports/overdue/?page_size=2")
    assert len(references(forward)) == len(set(references(forward))) == 5
    back, url = [], forward[-1]["previous"]
    while url:
        back.append(client.get(url).json())
        url = back[-1]["previous"]
    assert references(reversed(back)) == references(forward[:-1])


def test_a_page_starts_its_index_scan_at_the_cursor_in_both_directions(api):
    # A bound written ``a < v OR a = v`` is applied row by row from the start of the index: deep pages
    # of a large list would take as long as an offset.
    for _ in range(3):
        submitted_referral(responder())
    client = api(manager())
    first = client.get("/api/v1/referrals/?page_size=1").json()
    with CaptureQueriesContext(connection) as forward:
        second = client.get(first["next"]).json()
    with CaptureQueriesContext(connection) as back:
        client.get(second["previous"])
    read_forward, read_back = (" ".join(query["sql"] for query in queries) for queries in (forward, back))
    assert '"referrals_referral"."submitted_at" <= ' in read_forward
    assert '"referrals_referral"."submitted_at" >= ' in read_back
    # The column cannot be NULL, so no NULL case joins the bound.
    assert '"submitted_at" IS NULL' not in read_forward + read_back


def test_a_next_link_followed_after_the_rows_beyond_it_left_is_empty_and_leads_back_to_the_last_page(api):
    referrer, boss = responder(), manager()
    cases = [submitted_referral(referrer) for _ in range(3)]
    client = api(boss)
    first = client.get("/api/v1/referrals/?state=received&page_size=2").json()
    assess(cases[0], boss)  # the oldest, the one row of the next page
    body = client.get(first["next"]).json()
    assert (body["count"], body["results"], body["next"]) == (2, [], None)
    last = client.get(body["previous"]).json()
    assert ids([last]) == [cases[2].pk, cases[1].pk]
    assert last["previous"] is None and last["next"] is None


def test_a_list_left_without_rows_links_nowhere_even_from_a_cursor(api):
    referrer, boss = responder(), manager()
    cases = [submitted_referral(referrer) for _ in range(2)]
    client = api(boss)
    first = client.get("/api/v1/referrals/?state=received&page_size=1").json()
    for case in cases:
        assess(case, boss)
    body = client.get(first["next"]).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def signed(payload):
    return signing.dumps(payload, salt=CURSOR_SALT)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        signed({"p": [1], "b": False})[:-1] + "x",  # tampered with
        signed({"p": ["2026-01-01T00:00:00+00:00"], "b": False}),  # of a list ordered otherwise
        signed({"p": ["yesterday", "one"], "b": False}),
        signed({"p": 5, "b": False}),
        signed({"position": None}),
    ],
    # Signed cursors hold the time of signing: named by what they are, so parallel runs collect alike.
    ids=["not a cursor", "tampered with", "ordered otherwise", "not a time", "not a list", "no position"],
)
def test_a_cursor_the_list_did_not_give_is_a_400_on_cursor(api, cursor):
    submitted_referral(responder())
    response = api(manager()).get("/api/v1/referrals/", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": [INVALID_CURSOR]}


@pytest.mark.parametrize("url", ["/api/v1/referrals/", "/api/v1/inbox/", "/api/v1/reports/overdue/"])
def test_a_page_number_is_a_400_that_says_to_follow_the_links(api, url):
    response = api(manager()).get(url, {"page": 2})
    assert response.status_code == 400
    assert response.json() == {"page": [PAGE_REFUSED]}


def test_page_one_is_the_first_page_and_its_next_link_leads_on(api):
    """A client written for page numbers starts at page 1 and keeps the parameter: it reads on."""
    boss = manager()
    cases = [submitted_referral(responder()) for _ in range(3)]
    pages = walk(api(boss), "/api/v1/referrals/?page=1&page_size=2")
    assert len(pages) == 2
    assert sorted(ids(pages)) == sorted(case.pk for case in cases)


def test_the_schema_describes_the_cursor_of_every_list(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    lists = [
        "referrals",
        "referrals/{id}/audit",
        "anonymous-notifications",
        "providers",
        "inbox",
        "reports/overdue",
    ]
    for path in lists:
        operation = schema["paths"][f"/api/v1/{path}/"]["get"]
        parameters = {parameter["name"] for parameter in operation["parameters"]}
        assert {"cursor", "page_size"} <= parameters and "page" not in parameters, path
        assert "400" in operation["responses"], path


@pytest.mark.parametrize("size", ["abc", "0", "-5", "1.5", "", " 5", "+5", "٣", "1e2"])
@pytest.mark.parametrize("url", ["/api/v1/referrals/", "/api/v1/inbox/", "/api/v1/reports/overdue/"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400_not_the_default(api, url, size):
    submitted_referral(responder())
    response = api(manager()).get(url, {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": [PAGE_SIZE_REFUSED]}
    assert PAGE_SIZE_REFUSED == "Give page_size as a whole number from 1 to 200."


@pytest.mark.parametrize(("size", "rows"), [("1", 1), ("02", 2), ("3", 3), ("201", 3), ("9" * 5000, 3)])
def test_a_page_size_from_1_is_taken_however_large(api, size, rows):
    referrer = responder()
    for _ in range(3):
        submitted_referral(referrer)
    response = api(manager()).get("/api/v1/referrals/", {"page_size": size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize(("size", "taken"), [("199", 199), ("200", 200), ("201", 200), ("9" * 5000, 200)])
def test_a_page_size_over_the_maximum_pages_by_the_maximum(size, taken):
    request = Request(APIRequestFactory().get("/api/v1/referrals/", {"page_size": size}))
    assert HarbourPagination().get_page_size(request) == taken


def test_the_schema_says_a_page_size_is_a_whole_number_from_1(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    (page_size,) = [
        parameter
        for parameter in schema["paths"]["/api/v1/referrals/"]["get"]["parameters"]
        if parameter["name"] == "page_size"
    ]
    assert page_size["schema"] == {"type": "integer", "minimum": 1}
    assert "at most 200 (a larger number gives 200)" in page_size["description"]
