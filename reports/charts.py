"""Charts drawn on the server as SVG: no script, no external assets, no style attributes.

Every chart carries a ``<title>`` and ``<desc>`` named by ``aria-labelledby``, axes with labels, and its
values written as text, so colour is never the only carrier of meaning: bars are labelled directly and
the two series of the trend differ in shape (columns against a dashed line with square markers) and are
named in a legend as well as in colour. Each chart sits beside the table of its numbers.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Drawn at a phone's width (343 px inside the page's margins), so that a phone shows a chart at its own
# size, its text as legible as it was drawn; a wider screen scales it up a little (caseload.css).
WIDTH = 340
# About 7 px a character at 13 px: the longest label that fits the width; the full name is in the title.
LABEL_CHARACTERS = 46
VALUE_CHARACTER_WIDTH = 7.5  # a bold figure at 13 px, a little over, to place a bar's value
FIGURE_WIDTH = 7.0  # a figure at 11 px, the trend's column values
VALUE_GAP = 4.0  # at least a space between the values over neighbouring columns
BAR_COLOUR = "#1d4f91"
LINE_COLOUR = "#b3261e"
AXIS_COLOUR = "#4a4a4a"
TEXT_COLOUR = "#1a1a1a"
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    display: str


def _nice_maximum(value: float) -> float:
    """A round number at or above ``value`` for the end of an axis."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _figures_width(text: str) -> float:
    """The width of a number written at 11 px: a figure is about 0.64 em (7 px, as Debian's system-ui font
    draws it), a comma or a point about half that."""
    return sum(FIGURE_WIDTH / 2 if character in ",." else FIGURE_WIDTH for character in text)


def _counted(count: int, series_name: str) -> str:
    """A count with its series' name ("Referrals"), singular for one: "1 referral", "5 referrals"."""
    name = series_name.lower()
    return f"{count:,} {name.removesuffix('s') if count == 1 else name}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _open_svg(chart_id: str, title: str, description: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" {FONT}>',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def bar_chart(*, chart_id: str, title: str, description: str, bars: list[Bar], axis_label: str) -> SafeString:
    """Horizontal bars, one per category: its name above the bar, its value at the bar's end (inside the
    bar where a long bar leaves no room after it)."""
    row_height, bar_height, top, bottom = 42, 18, 4, 44
    plot_left, plot_right = 8, WIDTH - 96
    height = top + max(len(bars), 1) * row_height + bottom
    maximum = _nice_maximum(max((bar.value for bar in bars), default=0))
    scale = (plot_right - plot_left) / maximum
    parts = _open_svg(chart_id, title, description, height)
    plot_bottom = top + max(len(bars), 1) * row_height + 4
    # The axis under the bars, with three ticks: 0, half and the maximum.
    parts.append(
        f'<line x1="{plot_left}" y1="{plot_bottom}" x2="{plot_right}" y2="{plot_bottom}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    for fraction in (0, 0.5, 1):
        x = plot_left + fraction * (plot_right - plot_left)
        parts.append(
            f'<line x1="{x:.1f}" y1="{plot_bottom}" x2="{x:.1f}" y2="{plot_bottom + 5}" '
            f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{plot_bottom + 18}" font-size="12" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{escape(_number(maximum * fraction))}</text>'
        )
    parts.append(
        f'<text x="{(plot_left + plot_right) / 2:.1f}" y="{plot_bottom + 38}" font-size="12" '
        f'text-anchor="middle" fill="{TEXT_COLOUR}">{escape(axis_label)}</text>'
    )
    if not bars:
        parts.append(
            f'<text x="{plot_left}" y="{top + 24}" font-size="13" fill="{TEXT_COLOUR}">No data</text>'
        )
    for index, bar in enumerate(bars):
        y = top + index * row_height
        width = max(bar.value * scale, 0)
        label = bar.label if len(bar.label) <= LABEL_CHARACTERS else bar.label[: LABEL_CHARACTERS - 1] + "…"
        parts.append("<g>")
        parts.append(f"<title>{escape(bar.label)}: {escape(bar.display)}</title>")
        parts.append(
            f'<text x="{plot_left}" y="{y + 15}" font-size="13" fill="{TEXT_COLOUR}">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{plot_left}" y="{y + 21}" width="{width:.1f}" height="{bar_height}" fill="{BAR_COLOUR}"/>'
        )
        value_end = plot_left + width + 6 + len(bar.display) * VALUE_CHARACTER_WIDTH
        if value_end <= WIDTH:
            placed = f'x="{plot_left + width + 6:.1f}" fill="{TEXT_COLOUR}"'
        else:
            placed = f'x="{plot_left + width - 6:.1f}" text-anchor="end" fill="#ffffff"'
        parts.append(
            f'<text {placed} y="{y + 35}" font-size="13" font-weight="bold">{escape(bar.display)}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped


def trend_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    months: list[datetime.date],
    columns: list[int],
    column_name: str,
    line: list[int],
    line_name: str,
) -> SafeString:
    """Monthly columns for one series and a dashed line with square markers for the other."""
    left, right, top, bottom = 44, 16, 70, 52
    height = 300
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    plot_bottom = top + plot_height
    maximum = _nice_maximum(max([*columns, *line], default=0))
    slot = plot_width / max(len(months), 1)
    parts = _open_svg(chart_id, title, description, height)
    # Legend, a series a line: the series differ in shape and in name, not only in colour.
    parts.append(f'<rect x="8" y="6" width="14" height="14" fill="{BAR_COLOUR}"/>')
    parts.append(
        f'<text x="30" y="18" font-size="13" fill="{TEXT_COLOUR}">{escape(column_name)} (columns)</text>'
    )
    parts.append(
        f'<line x1="3" y1="35" x2="27" y2="35" stroke="{LINE_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
    )
    parts.append(f'<rect x="11" y="31" width="8" height="8" fill="{LINE_COLOUR}"/>')
    parts.append(
        f'<text x="30" y="40" font-size="13" fill="{TEXT_COLOUR}">{escape(line_name)} (dashed line)</text>'
    )
    for fraction in (0, 0.5, 1):
        y = plot_bottom - fraction * plot_height
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#d0d0d0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end" '
            f'fill="{TEXT_COLOUR}">{escape(_number(maximum * fraction))}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{plot_bottom}" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        f'<line x1="{left}" y1="{plot_bottom}" x2="{WIDTH - right}" y2="{plot_bottom}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(f'<text x="4" y="{top - 14}" font-size="12" fill="{TEXT_COLOUR}">Count per month</text>')
    if not months:
        parts.append(
            f'<text x="{left + 8}" y="{top + 20}" font-size="13" fill="{TEXT_COLOUR}">No data</text>'
        )
    # A month's name ("Nov 2026") is about 50 px wide at 11 px: name every month, or every so many.
    label_every = next(
        (step for step in (1, 2, 3, 4, 6, 12) if step * slot >= 54), 12 * math.ceil(54 / (12 * slot))
    )
    # A column's value over it where the widest fits its column with a space to spare, so that the values
    # of neighbouring columns never run together ("255252"); otherwise the table beside the chart has them.
    show_values = _figures_width(f"{max(columns, default=0):,}") + VALUE_GAP <= slot
    points = []
    for index, month in enumerate(months):
        x = left + index * slot
        value = columns[index]
        bar_height = value / maximum * plot_height
        parts.append("<g>")
        parts.append(
            f"<title>{escape(month.strftime('%b %Y'))}: {escape(_counted(value, column_name))}, "
            f"{escape(_counted(line[index], line_name))}</title>"
        )
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{plot_bottom - bar_height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_height:.1f}" fill="{BAR_COLOUR}"/>'
        )
        if show_values:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{plot_bottom - bar_height - 4:.1f}" font-size="11" '
                f'text-anchor="middle" fill="{TEXT_COLOUR}">{value:,}</text>'
            )
        parts.append("</g>")
        if index % label_every == 0:
            text = month.strftime("%b %Y") if label_every < 12 else month.strftime("%Y")
            # Under its column, but never past the chart's edge.
            centre = min(x + slot / 2, WIDTH - 27)
            parts.append(
                f'<text x="{centre:.1f}" y="{plot_bottom + 16}" font-size="11" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{escape(text)}</text>'
            )
        points.append((x + slot / 2, plot_bottom - line[index] / maximum * plot_height))
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        marker = 6 if len(points) <= 36 else 3
        for x, y in points:
            parts.append(
                f'<rect x="{x - marker / 2:.1f}" y="{y - marker / 2:.1f}" width="{marker}" height="{marker}" '
                f'fill="{LINE_COLOUR}"/>'
            )
    parts.append(
        f'<text x="{left + plot_width / 2:.1f}" y="{height - 8}" font-size="12" text-anchor="middle" '
        f'fill="{TEXT_COLOUR}">Month of submission</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped
