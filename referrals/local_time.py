"""Times as people read them: in the local time zone, with the zone named only where it must be.

On the night the clocks go back (the last Sunday of October) the hour from 01:00 happens twice, first
in BST and then in GMT, so "25 Oct 2026 01:30" names two moments an hour apart: a provider whose
offer's answer is due "01:30" cannot tell which. A time in that hour therefore carries its zone
("01:30 BST", "01:30 GMT"); every other time reads as it always has, without one, so the zone is
never noise.

Every page, message and email that shows a local date and time writes it through ``local_time``
(templates through the ``moment`` filter), so none can show the repeated hour without its zone.
"""

from __future__ import annotations

import datetime
import re

from django.utils import timezone

# A day and time as Django's ``date`` filter writes "j M Y H:i": "3 Mar 2026 06:08".
MOMENT = "%-d %b %Y %H:%M"
# A moment as a message's sentence gives it, which may be read long after: "14:05 on 30 November 2026".
MOMENT_IN_FULL = "%H:%M on %-d %B %Y"
# As a sentence gives a moment near enough to now that its year goes without saying: "14:05 on 30 November".
MOMENT_NEAR = "%H:%M on %-d %B"
# The time of day in a strftime pattern, after which the zone goes.
TIME_OF_DAY = re.compile(r"%H:%M(?::%S)?")


def local_time(value: datetime.datetime, pattern: str) -> str:
    """``value`` in the local time zone, written with the ``strftime`` ``pattern``; with the zone after
    the time of day when that time happens twice (a pattern that names the zone already is kept)."""
    local = timezone.localtime(value)
    if "%Z" not in pattern and happens_twice(local):
        pattern = TIME_OF_DAY.sub(r"\g<0> %Z", pattern)
    return local.strftime(pattern)


def happens_twice(local: datetime.datetime) -> bool:
    """Whether the wall-clock time also names another moment: the same time with the other ``fold``
    (the first or second of a repeated hour) is at another offset from UTC."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
