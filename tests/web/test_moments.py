"""Times written in Python (``moment``, ``day``) read as Django's ``date`` filter writes them."""

import datetime

import pytest
from django.template import Context, Template

from referrals.templatetags.deadlines import due
from referrals.templatetags.moments import day, moment

UTC = datetime.UTC


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 1, 3, 6, 8, tzinfo=UTC),  # winter: London is on UTC; a one-digit day
        datetime.datetime(2026, 7, 14, 23, 30, tzinfo=UTC),  # summer time: already the 15th in London
        datetime.datetime(2026, 9, 30, 0, 0, tzinfo=UTC),
        datetime.datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # the minute before the clocks go forward
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
