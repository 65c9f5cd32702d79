"""``{% field_group field %}``: a form field with its label, hint and error message.

Written in Python rather than as an included template because a page renders it for every field of
every form it shows (the case page has a form for each action), and an include per field was a
large part of the page's rendering time.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def field_group(field: BoundField) -> SafeString:
    """The field in a ``div.field``, tied together for assistive technology.

    The label names the input (``for``); the hint and the error message have the ids the input's
    ``aria-describedby`` refers to (Django sets it, with ``aria-invalid`` when there are errors). Radios
    and checkbox groups sit in a fieldset whose legend is the label; a single checkbox comes before its
    label.
    """
    checkbox = field.widget_type == "checkbox"
    fieldset = field.use_fieldset
    classes = "field"
    if field.errors:
        classes += " field-has-error"
    if checkbox:
        classes += " field-checkbox"
    parts: list[str] = [format_html('<div class="{}">', classes)]
    label = format_html('<label for="{}">{}</label>', field.id_for_label, field.label)
    if fieldset:
        described_by = field.aria_describedby
        if described_by:
            parts.append(format_html('<fieldset aria-describedby="{}">', described_by))
        else:
            parts.append(mark_safe("<fieldset>"))
        parts.append(format_html("<legend>{}</legend>", field.label))
    elif checkbox:
        parts += [str(field), label]
    else:
        parts.append(label)
    if field.help_text:
        parts.append(format_html('<p class="hint" id="{}_helptext">{}</p>', field.auto_id, field.help_text))
    if field.errors:
        messages = format_html_join(
            mark_safe("<br>"),
            '<span class="visually-hidden">Error: </span>{}',
            ((error,) for error in field.errors),
        )
        parts.append(format_html('<p class="error-message" id="{}_error">{}</p>', field.auto_id, messages))
    if not checkbox:
        parts.append(str(field))
    if fieldset:
        parts.append(mark_safe("</fieldset>"))
    parts.append(mark_safe("</div>"))
    # Every part is escaped (format_html) or a safe string already (the widget, fixed markup).
    return format_html_join("\n", "{}", ((part,) for part in parts))
