from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from referrals.forms import DayField, HarbourForm, case_reference_filter

from .models import AuditAction

# ``before`` comes only from the page's own "Older" link: an error in it is a damaged link.
BROKEN_PAGE_LINK = "The link to older events is damaged. Filter again to start from the newest."


class AuditFilterForm(HarbourForm):
    """The trail's filters. Their errors are summarised at the top of the page, each linked to its field
    (but the hidden ``before``, which only the "Older" link sets)."""

    username = forms.CharField(label="User", required=False, max_length=150)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *AuditAction.choices]
    )
    since = DayField(label="From", required=False)
    until = DayField(label="To", required=False)
    reference = case_reference_filter()
    before = forms.IntegerField(
        required=False,
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"invalid": BROKEN_PAGE_LINK, "min_value": BROKEN_PAGE_LINK},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The trail starts with Harbour and ends today: far dates are typing slips (and 9999-12-31
        # would overflow the day after it).
        earliest, latest = datetime.date(2000, 1, 1), timezone.localdate() + datetime.timedelta(days=366)
        for name in ("since", "until"):
            day = cleaned.get(name)
            if day is not None and not earliest <= day <= latest:
                self.add_error(name, f"Choose a day from {earliest:%-d %B %Y} to {latest:%-d %B %Y}.")
                cleaned[name] = None
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date must be on or after the start date.")
        return cleaned
