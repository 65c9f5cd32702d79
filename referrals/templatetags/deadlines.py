"""A due time in a list, marked when it has passed, so that no deadline passes unseen (SPEC §5); a clock
paused, with the time it will have left."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from referrals.models import Deadline
from referrals.wording import paused_clock_words

from .moments import moment

register = template.Library()


@register.filter
def due(due_at: datetime.datetime | None, remind_at: datetime.datetime | None = None) -> SafeString | str:
    """``12 Dec 2026 10:00`` in local time, with an Overdue tag once that time has passed, and, given the
    clock's reminder time (``{{ case.check_in_due|due:case.check_in_remind_at }}``), a Due soon tag once
    the reminder has gone (SPEC §5); "No deadline" for none."""
    if due_at is None:
        return "No deadline"
    shown = moment(due_at)
    now = timezone.now()
    if due_at <= now:
        return format_html('{} <span class="tag tag-urgent">Overdue</span>', shown)
    if remind_at is not None and remind_at <= now:
        return format_html('{} <span class="tag tag-soon">Due soon</span>', shown)
    return shown


@register.filter
def paused_words(deadline: Deadline) -> str:
    """``{{ deadline|paused_words }}``: "paused while missing; 12 days left when found"."""
    return paused_clock_words(deadline)
