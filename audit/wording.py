"""The audit trail in words: what each row did and changed, as a manager reads it on the trail's pages.

A row keeps what was recorded, codes and ids (the API gives them as stored). The pages word them here,
with the words the rest of Harbour uses: a transition and its input as the case page's history words
them (``referrals.wording``), any other choice by its label, a care provider by its name, a field by
its form's label, a day as a day. Rows hold no personal data and the words add none: a provider's name
is an organisation's, a label is the form's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from accounts.models import OrganisationKind, Role
from care_providers.selectors import provider_names
from referrals.choices import BedKind, ReferralState, Region, Service, language_names
from referrals.forms import ReferralForm
from referrals.models import Clock
from referrals.wording import (
    corrected_fields_in_words,
    day_in_words,
    input_in_words,
    input_label,
    moment_in_words,
    transition_in_words,
)
from reports.forms import ReportFilterForm

from .models import AuditAction, AuditEvent

TRANSITION = "transition: "
# Coded values whose labels do not depend on the transition (a reason's do: ``input_in_words``). Some
# come from the admin's edits: an organisation's kind, a user's role, a care provider's regions.
CHOICES_OF: dict[str, type[models.TextChoices]] = {
    "state": ReferralState,
    "region": Region,
    "regions": Region,
    "organisation_kind": OrganisationKind,
    "kind": OrganisationKind,
    "role": Role,
    "services": Service,
    "bed_kind": BedKind,
    "clock": Clock,
}
# Recorded as ISO text: days (the caseload export's filters) and moments (the retention cutoff).
DAYS = frozenset({"date_from", "date_to"})
MOMENTS = frozenset({"cutoff"})


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    what: str
    changes: list[str]


def trail_rows(events: Iterable[AuditEvent]) -> list[TrailRow]:
    """The events in words, with the names of every provider they mention read in one query."""
    events = list(events)
    providers = provider_names(_provider_ids(events))
    return [
        TrailRow(event=event, what=_what(event), changes=_change_lines(event, providers)) for event in events
    ]


def _transition(event: AuditEvent) -> str:
    """The transition a row records ("transition: offer"), or "" for a row of anything else."""
    return event.what.removeprefix(TRANSITION) if event.what.startswith(TRANSITION) else ""


def _what(event: AuditEvent) -> str:
    transition = _transition(event)
    return transition_in_words(transition) if transition else event.what


def _provider_ids(events: list[AuditEvent]) -> set[int]:
    """The providers the rows name by id: an offer's, and the caseload export's filter (as text)."""
    ids = set()
    for event in events:
        change = (event.changes or {}).get("provider")
        values = [change.get("before"), change.get("after")] if isinstance(change, dict) else [change]
        for value in values:
            provider_id = _provider_id(value)
            if provider_id is not None:
                ids.add(provider_id)
    return ids


def _provider_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _label(event: AuditEvent, key: str) -> str:
    """A field's name as its label: the caseload export's filters as the report's form labels them."""
    if event.action == AuditAction.EXPORT and key in ReportFilterForm.base_fields:
        return str(ReportFilterForm.base_fields[key].label or input_label(key))
    return input_label(key)


def _labels_of(key: str) -> Mapping[str, Any] | None:
    if key in CHOICES_OF:
        return dict(CHOICES_OF[key].choices)
    if key == "languages":
        return language_names()
    return None


def _in_words(key: str, value: Any, *, transition: str, providers: dict[int, str]) -> str:
    if isinstance(value, list):
        return ", ".join(_in_words(key, item, transition=transition, providers=providers) for item in value)
    if value is None or value == "":
        return "—"
    if key == "fields" and transition == "correct":  # the details corrected, as the history names them
        return corrected_fields_in_words([value])
    if key == "fields":  # the fields a draft holds something in, by name
        field = ReferralForm.base_fields.get(value)
        return str(field.label) if field is not None and field.label else input_label(value)
    if key == "provider":
        value = _provider_id(value)
    labels = _labels_of(key)
    if labels is not None and isinstance(value, str) and value in labels:
        return str(labels[value])
    if key in DAYS:
        return day_in_words(value)
    if key in MOMENTS:
        return moment_in_words(value)
    if value is False:
        return "No"
    return input_in_words(transition, key, value, providers)


def _change_lines(event: AuditEvent, providers: dict[int, str]) -> list[str]:
    """``changes`` as lines a person reads: "State: Received → Assessed", "Provider: Migrant Help"."""
    transition = _transition(event)
    lines = []
    for key, change in (event.changes or {}).items():
        if isinstance(change, dict) and ("before" in change or "after" in change):
            values = [change["before"]] if "before" in change else []
            values.append(change.get("after"))
        else:
            values = [change]
        shown = " → ".join(
            _in_words(key, value, transition=transition, providers=providers) for value in values
        )
        lines.append(f"{_label(event, key)}: {shown}")
    return lines
