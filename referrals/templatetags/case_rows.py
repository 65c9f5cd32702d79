"""``{% detail_items details %}`` and ``{% transition_rows history %}``: the two long lists of the case
page, the person's details and the case's history, written out in Python.

Written in Python rather than as loops in the template for the reason ``field_group`` is: the page
shows a score of details and a row per transition, and the template engine's work on every value
(looking it up, localising it, escaping it) made these two loops a quarter of its rendering. The
markup is fixed and every value is escaped, as the template would.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from .moments import moment

register = template.Library()


@register.simple_tag
def detail_items(details: list[tuple[str, str]]) -> SafeString:
    """An item of the summary list (``dl``) for each detail: its label and its value."""
    return mark_safe(  # noqa: S308  every value is escaped
        "\n".join(
            f"<div><dt>{conditional_escape(label)}</dt><dd>{conditional_escape(value)}</dd></div>"
            for label, value in details
        )
    )


@register.simple_tag
def transition_rows(history: list[dict[str, Any]]) -> SafeString:
    """A row of the history table for each transition (``views.history_rows``): when, what was done,
    the state it led to, by whom, and what was given with it."""
    escape = conditional_escape
    rows = []
    for row in history:
        given = "".join(
            f'<span class="history-input">{escape(key)}: {escape(value)}</span> '
            for key, value in row["input"]
        )
        # With nothing given the cell is empty and unlabelled, so a phone shows no bare "Details".
        details = f'<td data-label="Details">{given}</td>' if given else "<td></td>"
        rows.append(
            "<tr>"
            f'<td data-label="When">{moment(row["at"])}</td>'
            f'<td data-label="Action">{escape(row["action"])}</td>'
            f'<td data-label="State">{escape(row["state"])}</td>'
            f'<td data-label="By">{escape(row["by"])}</td>'
            f"{details}"
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308  every value is escaped
