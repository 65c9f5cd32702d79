"""Times written in Python (``moment``, ``day``) read as Django's ``date`` filter writes them, but for the
hour that happens twice when the clocks go back, whose times name their zone wherever they are shown."""

import datetime

import pytest
from django.template import Context, Template

from notifications.delivery import email_content
from notifications.models import Event, Notification
from notifications.services import inbox_message
from referrals.templatetags.deadlines import due
from referrals.templatetags.moments import day, moment
from referrals.wording import moment_in_words
from reports.tables import page_value

UTC = datetime.UTC
# The clocks go back at 02:00 BST on 25 October 2026: 01:00 to 02:00 happens twice, an hour apart.
HALF_PAST_ONE_BST = datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
HALF_PAST_ONE_GMT = datetime.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 1, 3, 6, 8, tzinfo=UTC),  # winter: London is on UTC; a one-digit day
        datetime.datetime(2026, 7, 14, 23, 30, tzinfo=UTC),  # summer time: already the 15th in London
        datetime.datetime(2026, 9, 30, 0, 0, tzinfo=UTC),
        datetime.datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # the minute before the clocks go forward
        datetime.datetime(2026, 10, 24, 23, 59, tzinfo=UTC),  # 00:59 BST, before the hour that repeats
        datetime.datetime(2026, 10, 25, 2, 0, tzinfo=UTC),  # 02:00 GMT, once the repeated hour is over
    ],
)
def test_a_time_reads_as_the_date_filter_writes_it_in_local_time(value: datetime.datetime) -> None:
    written = Template('{{ value|date:"j M Y H:i" }}|{{ value|date:"j M Y" }}').render(
        Context({"value": value})
    )
    assert f"{moment(value)}|{day(value)}" == written


def test_no_time_reads_as_nothing() -> None:
    assert moment(None) == day(None) == ""


def test_a_due_time_in_a_list_is_in_local_time() -> None:
    summer = datetime.datetime(2099, 7, 14, 8, 0, tzinfo=UTC)  # 09:00 in London
    assert due(summer) == "14 Jul 2099 09:00"
    assert Template("{% load deadlines %}{{ value|due }}").render(Context({"value": summer})) == due(summer)


def test_the_two_half_past_ones_of_the_night_the_clocks_go_back_read_apart() -> None:
    assert moment(HALF_PAST_ONE_BST) == "25 Oct 2026 01:30 BST"
    assert moment(HALF_PAST_ONE_GMT) == "25 Oct 2026 01:30 GMT"
    seconds = Template('{% load moments %}{{ value|moment:"%-d %b %H:%M:%S" }}')
    assert seconds.render(Context({"value": HALF_PAST_ONE_GMT})) == "25 Oct 01:30:00 GMT"


def test_every_message_showing_a_time_in_the_repeated_hour_names_its_zone() -> None:
    assert inbox_message(Event.OFFER_MADE, "HBR-1", HALF_PAST_ONE_BST) == (
        "Placement offered: HBR-1 (due 25 Oct 2026 01:30 BST)"
    )
    assert moment_in_words(HALF_PAST_ONE_GMT.isoformat()) == "25 October 2026 01:30 GMT"
    assert page_value(HALF_PAST_ONE_BST, "datetime") == "25 Oct 2026 01:30 BST"
    _, body = email_content(Notification(event=Event.OFFER_MADE, reference="HBR-1", due_at=HALF_PAST_ONE_GMT))
    assert "Due: 25 Oct 2026 01:30 GMT\n" in body  # the zone an email always names, once
