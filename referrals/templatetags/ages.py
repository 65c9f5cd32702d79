"""``{{ case|child_tags }}``: the tags a case referred as a child carries beside its state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from referrals.wording import NOW_18, coming_of_age_words

if TYPE_CHECKING:
    from referrals.models import Referral

register = template.Library()


@register.filter
def child_tags(case: Referral) -> SafeString | str:
    """Child, with Turns 18 soon beside it in the weeks before the 18th birthday, or Now 18 in its place
    once it has passed while the case is open (``coming_of_age_words``); "" for an adult. The case's
    date of birth must be loaded with it, not deferred, or each row would cost a query."""
    if not case.is_child:
        return ""
    words = coming_of_age_words(case, timezone.localdate())
    if words == NOW_18:
        return format_html('<span class="tag tag-soon">{}</span>', words)
    child = mark_safe('<span class="tag">Child</span>')
    return format_html('{} <span class="tag tag-soon">{}</span>', child, words) if words else child
