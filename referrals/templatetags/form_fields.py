"""``{% field_group field %}``: a form field with its label, hint and error message; ``{% form_start %}``,
the start of a form that changes a case, with its hidden fields; ``{% session_limit %}``, what becomes of
the form if the session ends.

Written in Python rather than as an included template because a page renders it for every field of
every form it shows (the case page has a form for each action), and an include per field was a
large part of the page's rendering time.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.sessions import browser_key
from idempotency.web import FORM_KEY_FIELD, sending_address, shown_form_key
from referrals.unsent_forms import OWNER_FIELD, owner_token

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
        # A div, not a p: a hint may be a list (Django's password rules), which a p cannot hold.
        parts.append(
            format_html('<div class="hint" id="{}_helptext">{}</div>', field.auto_id, field.help_text)
        )
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


@register.simple_tag
def session_limit(*, kept_as_draft: bool = False) -> str:
    """What a page with forms (a form page, the case page) says of the session's idle limit, for a user
    whose browser runs no script and so gives no warning, and of a form sent after it: kept for its user,
    not lost (the intake as a draft, ``referrals.views.intake``; any other form for a while,
    ``login_required_keeping_typed_work``)."""
    if kept_as_draft:
        kept = "is saved as a draft, for you to carry on with once you sign in again"
    else:
        kept = (
            f"is not recorded, but kept for {settings.UNSENT_FORM_LIFETIME_MINUTES} minutes for you to "
            "check and send again once you sign in"
        )
    return (
        f"You are signed out after {settings.SESSION_COOKIE_AGE // 60} minutes without activity; "
        f"what you send after that {kept}."
    )


@register.simple_tag(takes_context=True)
def form_start(context: dict[str, Any], form_address: str) -> SafeString:
    """``<form>``, posting to an address of its own, not the page's, with the form's hidden fields.

    ``owner``, signed for ``form_address``: a form that arrives after the session ended still says whose
    it was, so what was typed can be kept for them alone. ``form_key``, the key of the form shown
    (``idempotency.web``): sent twice, it does its work once.
    """
    request = context["request"]
    form_key = shown_form_key(request)
    parts = [
        format_html('<form method="post" action="{}" novalidate>', sending_address(form_address, form_key)),
        format_html('<input type="hidden" name="{}" value="{}">', FORM_KEY_FIELD, form_key),
    ]
    if request.user.is_authenticated:
        owner = owner_token(request.user, form_address, browser_key(request))
        parts.append(format_html('<input type="hidden" name="{}" value="{}">', OWNER_FIELD, owner))
    return format_html_join("\n", "{}", ((part,) for part in parts))
