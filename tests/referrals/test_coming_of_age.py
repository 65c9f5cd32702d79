"""A child in support who turns 18: the managers and the placed provider are told once, from the day of
the 18th birthday on, with nothing in the notification that says who the person is or when they were
born."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from notifications.delivery import deliver
from notifications.models import Event, InboxItem, Notification
from referrals import services
from referrals.coming_of_age import tell_of_those_now_18
from referrals.models import Referral
from tests.api.cases import bring_to
from tests.factories import aware, birthday_years_ago, submitted_referral
from tests.notifications.conftest import personal_data_in

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def now_18_notices(referral: Referral) -> list[int]:
    rows = Notification.objects.filter(referral=referral, event=Event.PERSON_NOW_18)
    return sorted(rows.values_list("organisation_id", flat=True))


def test_the_18th_birthday_of_someone_born_on_29_february_is_1_march_in_a_year_without_one():
    referral = Referral(
        is_child=True, date_of_birth=datetime.date(2008, 2, 29), submitted_at=aware(2025, 6, 1)
    )
    assert referral.turns_18_on == datetime.date(2026, 3, 1)


def test_a_placed_child_is_told_of_once_from_the_day_after_the_18th_birthday():
    birthday = timezone.localdate() + 10 * DAY
    case = bring_to("placed", date_of_birth=birthday_years_ago(18, days_from_today=10))
    assert case.refresh().is_child and case.referral.turns_18_on == birthday

    assert tell_of_those_now_18(today=birthday - DAY) == 0
    assert now_18_notices(case.referral) == []

    assert tell_of_those_now_18(today=birthday + DAY) == 1
    assert tell_of_those_now_18(today=birthday + DAY) == 0  # the task run twice
    assert tell_of_those_now_18(today=birthday + 2 * DAY) == 0  # and the next day

    told = sorted([case.manager.organisation_id, case.provider.organisation_id])
    assert now_18_notices(case.referral) == told  # one email each
    reference = case.refresh().reference
    messages = InboxItem.objects.filter(event=Event.PERSON_NOW_18).values_list("message", flat=True)
    assert sorted(messages) == [f"Person now 18: {reference}"] * 2  # the manager and the provider's user
    assert case.referral.told_now_18


def test_a_child_not_yet_placed_is_told_of_to_the_managers():
    case = bring_to("assessed", date_of_birth=birthday_years_ago(18, days_from_today=3))
    tell_of_those_now_18(today=timezone.localdate() + 3 * DAY)
    assert now_18_notices(case.referral) == [case.manager.organisation_id]


@pytest.mark.parametrize(
    ("state", "fields"),
    [
        pytest.param("recovered", {"date_of_birth": birthday_years_ago(18, days_from_today=3)}, id="closed"),
        pytest.param(
            "withdrawn", {"date_of_birth": birthday_years_ago(18, days_from_today=3)}, id="withdrawn"
        ),
        pytest.param("placed", {}, id="adult"),
        pytest.param("placed", {"date_of_birth": None, "age_estimate": 17}, id="estimate-only child"),
        # Treated as a child because their age is in doubt, though their date of birth says 30: only an
        # age assessment settles when they are an adult.
        pytest.param("placed", {"age_in_doubt": True}, id="in doubt, adult by date of birth"),
    ],
)
def test_nobody_is_told_of_a_closed_case_an_adult_or_a_child_without_a_date_of_birth(state, fields):
    case = bring_to(state, **fields)
    assert tell_of_those_now_18(today=timezone.localdate() + 3 * 365 * DAY) == 0
    assert now_18_notices(case.referral) == []


def test_a_case_closed_before_the_notice_went_is_not_sent_it_late():
    case = bring_to("placed", date_of_birth=birthday_years_ago(18, days_from_today=3))
    tell_of_those_now_18(today=timezone.localdate() + 3 * DAY)
    services.exit_referral(referral_id=case.referral.pk, actor=case.manager, reason="left_support")
    for row in Notification.objects.filter(event=Event.PERSON_NOW_18):
        deliver(str(row.pk))
    assert not [message for message in mail.outbox if "Person now 18" in message.subject]


def test_the_notice_says_nothing_of_the_persons_birthday_or_who_they_are():
    date_of_birth = birthday_years_ago(18, days_from_today=3)
    case = bring_to("placed", date_of_birth=date_of_birth)
    tell_of_those_now_18(today=timezone.localdate() + 3 * DAY)
    rows = Notification.objects.filter(event=Event.PERSON_NOW_18)
    for row in rows:
        deliver(str(row.pk))

    emails = [message for message in mail.outbox if "Person now 18" in message.subject]
    assert len(emails) == 2
    birthdays = [
        day.strftime(pattern)
        for day in (date_of_birth, case.referral.turns_18_on)
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%-d %b %Y", "%-d %B %Y", "%d %b %Y", "%d %B %Y")
    ]
    for message in emails:
        text = f"{message.subject}\n{message.body}"
        assert personal_data_in(text) == []
        assert not [day for day in birthdays if day in text]
        assert case.referral.reference in text
    for row in rows.values():
        assert row["due_at"] is None and row["last_seen_at"] is None and row["clock"] == ""


def test_no_one_else_sees_the_birthday_in_clear_in_the_database():
    """The case keeps only that it was told of, not when: the time would date the birthday."""
    case = bring_to("placed", date_of_birth=birthday_years_ago(18, days_from_today=3))
    before = Referral.objects.values().get(pk=case.referral.pk)
    tell_of_those_now_18(today=timezone.localdate() + 3 * DAY)
    after = Referral.objects.values().get(pk=case.referral.pk)
    assert {key for key in after if after[key] != before[key]} == {"told_now_18"}


def test_the_check_reads_the_open_childrens_cases_in_batches():
    birthday_now = birthday_years_ago(18, days_from_today=2)
    cases = [submitted_referral(date_of_birth=birthday_now) for _ in range(5)]
    assert tell_of_those_now_18(today=timezone.localdate() + 2 * DAY, batch_size=2) == 5
    assert all(Referral.objects.get(pk=case.pk).told_now_18 for case in cases)
