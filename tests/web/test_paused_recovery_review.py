"""A missing person's recovery review waits for them (``deadlines.pause_clock``): the case page and the
API's deadlines still list it, paused, with the time it will have left once they are found."""

import datetime

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from referrals import services
from referrals.models import Clock, Referral
from tests.factories import responder
from tests.web.conftest import placed, signed_in

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def gone_missing(referral: Referral, staff: User, *, left: datetime.timedelta) -> None:
    """Reported missing, their review paused with ``left`` to run (negative: overdue by as much)."""
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    paused = referral.deadlines.filter(clock=Clock.RECOVERY_REVIEW, paused=True)
    assert paused.update(due_at=F("stopped_at") + left) == 1


def case_deadlines(user: User, referral: Referral) -> list[str]:
    """The case page's "Open deadlines", one line each, tags and all."""
    html = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    section = html.split('id="deadlines-title"')[1].split("</section>")[0]
    return [item.split("</li>")[0].strip() for item in section.split("<li>")[1:]]


def api_deadlines(user: User, referral: Referral) -> list[dict]:
    return signed_in(user).get(f"/api/v1/referrals/{referral.pk}/").json()["deadlines"]


@pytest.mark.parametrize(
    ("left", "words", "hours"),
    [
        (12 * DAY, "12\xa0days left when found", 288.0),
        (11 * DAY + datetime.timedelta(hours=21), "11\xa0days, 21\xa0hours left when found", 285.0),
        (datetime.timedelta(hours=5), "5\xa0hours left when found", 5.0),
        (
            -10 * DAY,
            "already 10\xa0days overdue when they went missing, so overdue again as soon as they are found",
            -240.0,
        ),
    ],
    ids=["days", "days and hours", "hours", "overdue"],
)
def test_the_case_page_and_the_api_show_the_review_paused_while_missing_with_its_time_left(
    left, words, hours
):
    referral, staff, boss = placed()
    gone_missing(referral, staff, left=left)
    referrer = responder(organisation=referral.organisation)
    for viewer in (boss, staff, referrer):
        shown = case_deadlines(viewer, referral)
        assert len(shown) == 2 and shown[0].startswith("Missing: "), viewer
        assert shown[1] == f"Recovery review: paused while missing; {words}", viewer
        missing, review = api_deadlines(viewer, referral)
        assert (missing["clock"], missing["paused"], missing["time_left_hours"]) == ("missing", False, None)
        assert missing["due_at"] is not None
        assert (review["clock"], review["paused"], review["due_at"]) == ("recovery_review", True, None)
        assert review["time_left_hours"] == hours


def test_once_found_the_review_runs_on_with_the_time_it_had_left_and_reads_as_due_again():
    referral, staff, boss = placed()
    gone_missing(referral, staff, left=12 * DAY)
    services.mark_found(referral_id=referral.pk, actor=staff)
    (review,) = [line for line in case_deadlines(boss, referral) if line.startswith("Recovery review")]
    assert review.startswith("Recovery review: due ") and "paused" not in review
    (listed,) = [d for d in api_deadlines(boss, referral) if d["clock"] == "recovery_review"]
    assert (listed["paused"], listed["time_left_hours"]) == (False, None)
    due = datetime.datetime.fromisoformat(listed["due_at"])
    assert abs(due - (timezone.now() + 12 * DAY)) < datetime.timedelta(minutes=1)


def test_a_review_stopped_for_good_by_a_reallocation_while_missing_is_not_shown_as_paused():
    referral, staff, boss = placed()
    gone_missing(referral, staff, left=12 * DAY)
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    assert case_deadlines(boss, referral)[0].startswith("Missing: ")
    assert len(case_deadlines(boss, referral)) == 1
    assert [d["clock"] for d in api_deadlines(boss, referral)] == ["missing"]


def test_the_case_page_reads_the_paused_review_with_the_running_clocks_in_one_query():
    referral, staff, boss = placed()
    gone_missing(referral, staff, left=12 * DAY)
    url = reverse("referrals:case", args=[referral.pk])
    for viewer in (boss, staff):
        client = signed_in(viewer)
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert "paused while missing" in response.content.decode()
        clock_reads = [query["sql"] for query in captured if 'FROM "referrals_deadline"' in query["sql"]]
        assert len(clock_reads) == 1, clock_reads
