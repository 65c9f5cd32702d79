"""The report filter (SPEC §8): one form, used by the page, the CSV download and the API alike."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from referrals.choices import Region
from referrals.forms import DayField

from .selectors import REFERRING_KINDS, ReportFilter

EARLIEST_DAY = datetime.date(2000, 1, 1)


def latest_day() -> datetime.date:
    """The last day a report may run to: the end of next year (the month list grows with the range)."""
    return datetime.date(timezone.localdate().year + 1, 12, 31)


class ReportFilterForm(forms.Form):
    use_required_attribute = False
    date_from = DayField(
        required=False, label="Submitted from", help_text="First day included, for example 2026-01-01."
    )
    date_to = DayField(required=False, label="Submitted to", help_text="Last day included.")
    region = forms.ChoiceField(required=False, choices=[("", "All regions"), *Region.choices])
    # Checked against the providers the report itself lists (``check_provider``), saving a query.
    provider = forms.IntegerField(
        required=False,
        min_value=1,
        label="Placed with",
        help_text="Cases placed with this provider, now or before.",
        widget=forms.Select,
    )
    organisation_kind = forms.ChoiceField(
        required=False,
        label="Referring organisation",
        choices=[("", "All kinds"), *((str(kind), kind.label) for kind in REFERRING_KINDS)],
    )

    def __init__(
        self, *args: Any, providers: list[tuple[int, str]] | None = None, api: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.set_providers(providers or [])
        # The API has no list to select from: its refusals name the codes to send, as its other filters do.
        self.api = api
        if api:
            for name in ("region", "organisation_kind"):
                field = self.fields[name]
                codes = ", ".join(str(code) for code, _label in field.choices if code)  # type: ignore[attr-defined]
                field.error_messages["invalid_choice"] = f'"%(value)s" is not one of: {codes}.'

    def set_providers(self, providers: list[tuple[int, str]]) -> None:
        self.fields["provider"].widget.choices = [("", "Any provider, or none"), *providers]

    def check_provider(self, providers: list[tuple[int, str]]) -> bool:
        """Once the report is computed: offer its providers, and refuse a provider that does not exist."""
        self.set_providers(providers)
        chosen = self.cleaned_data.get("provider")
        if chosen is not None and chosen not in {pk for pk, _ in providers}:
            self.add_error(
                "provider",
                f"No care provider has the id {chosen}: GET /api/v1/providers/ lists them."
                if self.api
                else "Select a care provider from the list.",
            )
            return False
        return True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        latest = latest_day()
        for name, day in (("date_from", date_from), ("date_to", date_to)):
            if day is not None and not EARLIEST_DAY <= day <= latest:
                self.add_error(name, f"Choose a day from {EARLIEST_DAY:%-d %B %Y} to {latest:%-d %B %Y}.")
                return cleaned
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The last day must not be before the first day.")
        return cleaned

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor id, message) for every error, in the order of the fields, for the page's summary."""
        summary = [("", str(message)) for message in self.non_field_errors()]
        for name in self.fields:
            bound = self[name]
            summary.extend((bound.auto_id, str(message)) for message in bound.errors)
        return summary

    def report_filter(self) -> ReportFilter:
        """The filter the valid form describes."""
        data = self.cleaned_data
        return ReportFilter(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            region=data.get("region") or "",
            provider_id=data.get("provider"),
            organisation_kind=data.get("organisation_kind") or "",
        )
