"""``{% page_messages %}``: the messages a page brings (``django.contrib.messages``), at the top of its
main content, before its heading."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.messages import constants
from django.forms import BaseForm
from django.template import Context

register = template.Library()


@register.inclusion_tag("includes/messages.html", takes_context=True)
def page_messages(context: Context) -> dict[str, Any]:
    """What went well is a status, read out as it comes. Anything else (a warning, what became of an
    offer, a form sent after the session ended) is under a heading of its own and, as an error summary
    does, takes the focus when the page opens, so that it is read first and never skipped by jumping to
    the page's heading; unless the page has something of its own that takes it, since only one thing
    can."""
    waiting = list(context.get("messages") or ())
    return {
        "done": [message for message in waiting if message.level == constants.SUCCESS],
        "notes": [message for message in waiting if message.level != constants.SUCCESS],
        "take_focus": not _page_takes_focus(context),
    }


def _page_takes_focus(context: Context) -> bool:
    """Whether the page shows an error summary (of a form with errors, or a case action's problem) or the
    intake's likely duplicates, each of which takes the focus."""
    values = context.flatten()
    if values.get("problem") or values.get("duplicates"):
        return True
    return any(isinstance(value, BaseForm) and value.is_bound and value.errors for value in values.values())
