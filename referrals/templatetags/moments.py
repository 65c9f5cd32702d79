"""``{{ offer.offered_at|moment }}`` reads "3 Mar 2026 06:08", ``{{ placement.started_at|day }}`` "3 Mar 2026":
a time in the local time zone, written as Django's ``date`` filter writes ``"j M Y H:i"`` and ``"j M Y"``;
``{{ event.at|moment:"%-d %b %Y %H:%M:%S" }}`` writes another ``strftime`` pattern. A time in the hour
that happens twice when the clocks go back carries its zone, "25 Oct 2026 01:30 BST" (``local_time``).

Written with ``strftime`` because a page with a history and an offer table formats a time a score of
times, and the ``date`` filter looks up the language's formats and translated month names and the current
time zone on every call: on the case page that was a third of the template's rendering.
"""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

from referrals.local_time import MOMENT, local_time

register = template.Library()


@register.filter
def moment(value: datetime.datetime | None, pattern: str = MOMENT) -> str:
    """The local day and time; empty for no time, as with ``date``."""
    if value is None:
        return ""
    return local_time(value, pattern)


@register.filter
def day(value: datetime.datetime | None) -> str:
    """The local day; empty for no time, as with ``date``."""
    if value is None:
        return ""
    return f"{timezone.localtime(value):%-d %b %Y}"
