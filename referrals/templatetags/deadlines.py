"""A due time in a list, marked when it has passed, so that no deadline passes unseen (SPEC §5)."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .moments import moment

register = template.Library()


@register.filter
def due(due_at: datetime.datetime | None) -> SafeString | str:
    """``12 Dec 2026 10:00`` in local time, with an Overdue tag once that time has passed; "None" for
    no deadline."""
    if due_at is None:
        return "None"
    shown = moment(due_at)
    if due_at <= timezone.now():
        return format_html('{} <span class="tag tag-urgent">Overdue</span>', shown)
    return shown
