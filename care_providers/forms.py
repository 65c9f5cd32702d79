"""The care provider record as the admin edits it: every §2 field, lists as choices, never raw JSON."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple

from accounts.forms import (
    EmailListField,
    duty_phone_field,
    webhook_secret_field,
    webhook_secret_to_store,
    webhook_url_field,
)
from accounts.models import Organisation, OrganisationKind
from referrals.choices import BED_FOR, BedKind, Region, Service, language_choices

from .models import CareProvider
from .selectors import children_placed_and_offered, offers_awaiting_a_bed, providers_with_occupancy


class CareProviderForm(forms.ModelForm):
    """A provider, with its organisation's duty phone, notification addresses and webhook edited alongside."""

    regions = forms.MultipleChoiceField(
        choices=Region.choices, widget=forms.CheckboxSelectMultiple, help_text="Regions served (SPEC §7)."
    )
    services = forms.MultipleChoiceField(choices=Service.choices, widget=forms.CheckboxSelectMultiple)
    languages = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=FilteredSelectMultiple("languages", is_stacked=False),
        help_text="Languages the provider's staff speak.",
    )
    duty_phone = duty_phone_field()
    notification_emails = EmailListField()
    webhook_url = webhook_url_field()
    webhook_secret = webhook_secret_field()

    ORGANISATION_FIELDS = ("duty_phone", "notification_emails", "webhook_url", "webhook_secret")

    class Meta:
        model = CareProvider
        fields = [
            "organisation",
            "name",
            "active",
            "regions",
            "services",
            "beds_women",
            "beds_men",
            "beds_family",
            "supports_children",
            "languages",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["languages"]).choices = language_choices()
        if "organisation" in self.fields:
            organisations = cast(forms.ModelChoiceField, self.fields["organisation"])
            organisations.queryset = Organisation.objects.filter(kind=OrganisationKind.CARE_PROVIDER)
        if self.instance.pk:
            organisation = self.instance.organisation
            for name in ("duty_phone", "notification_emails", "webhook_url"):  # the secret is never shown
                self.initial.setdefault(name, getattr(organisation, name))

    def _chosen_organisation(self) -> Organisation | None:
        """The organisation chosen on this form, perhaps another than the provider's until now (its field
        comes first on the form, so it is cleaned before the organisation's own fields)."""
        return self.cleaned_data.get("organisation") or (
            self.instance.organisation if self.instance.pk else None
        )

    def _organisation_value(self, name: str) -> Any:
        """A field of the organisation as typed if it was edited, or else as the chosen organisation holds
        it. The form shows the provider's organisation until now (nothing for a new provider): a provider
        moved to another organisation, or added to one, must not write over that one's duty phone,
        addresses or webhook what the form showed."""
        organisation = self._chosen_organisation()
        if name in self.changed_data or organisation is None:
            return self.cleaned_data.get(name)
        return getattr(organisation, name)

    def clean_duty_phone(self) -> str:
        return self._organisation_value("duty_phone") or ""

    def clean_notification_emails(self) -> list[str]:
        return self._organisation_value("notification_emails") or []

    def clean_webhook_url(self) -> str:
        return self._organisation_value("webhook_url") or ""

    def clean_webhook_secret(self) -> str:
        # The chosen organisation's secret, which an empty field keeps.
        return webhook_secret_to_store(
            typed=self.cleaned_data.get("webhook_secret", ""),
            webhook_url=self.cleaned_data.get("webhook_url", ""),
            organisation=self._chosen_organisation(),
        )

    def clean(self) -> dict[str, Any]:
        """Capacity may not fall below the beds people are in now (SPEC §2), nor the provider stop offering
        accommodation while anyone is in its beds or offered one, or supporting children while a child is
        placed with it or offered to it: they must be moved first."""
        super().clean()
        # What ModelForm.clean returns; the stubs allow None, which only an overriding clean may give.
        cleaned = self.cleaned_data
        if self.instance.pk is None:
            return cleaned
        # Locked, as an acceptance locks it to take a bed, until the admin's transaction ends: no bed
        # can be taken between this count and the save.
        CareProvider.objects.select_for_update().filter(pk=self.instance.pk).exists()
        provider = providers_with_occupancy().get(pk=self.instance.pk)
        for kind in BedKind.values:
            beds, occupied = cleaned.get(f"beds_{kind}"), getattr(provider, f"occupied_{kind}")
            if beds is not None and beds < occupied:
                people = "1 person is" if occupied == 1 else f"{occupied} people are"
                self.add_error(
                    f"beds_{kind}",
                    f"{people} placed in beds {BED_FOR[kind]} now. Reallocate {occupied - beds} before "
                    f"lowering the capacity to {beds}.",
                )
        services = cleaned.get("services")
        if (
            Service.ACCOMMODATION in self.instance.services
            and services is not None
            and Service.ACCOMMODATION not in services
        ):
            self._refuse_if_a_bed_is_held(provider)
        if self.instance.supports_children and cleaned.get("supports_children") is False:
            self._refuse_if_a_child_is_held(provider)
        return cleaned

    def _refuse_if_a_bed_is_held(self, provider: CareProvider) -> None:
        in_beds = sum(getattr(provider, f"occupied_{kind}") for kind in BedKind.values)
        offered = offers_awaiting_a_bed(provider)
        held = []
        if in_beds:
            people = "1 person is placed in a bed" if in_beds == 1 else f"{in_beds} people are placed in beds"
            held.append((f"{people} with this provider", "reallocate them"))
        if offered:
            people = "1 person needing a bed is" if offered == 1 else f"{offered} people needing a bed are"
            held.append((f"{people} offered to it", _withdraw(offered)))
        self._refuse_while_held("services", held, stops="offering accommodation")

    def _refuse_if_a_child_is_held(self, provider: CareProvider) -> None:
        placed, offered = children_placed_and_offered(provider)
        held = []
        if placed:
            children = "child is" if placed == 1 else "children are"
            to_do = "reallocate the child placed" if placed == 1 else "reallocate the children placed"
            held.append((f"{placed} {children} placed with this provider", to_do))
        if offered:
            children = "child is" if offered == 1 else "children are"
            held.append((f"{offered} {children} offered to it", _withdraw(offered)))
        self._refuse_while_held("supports_children", held, stops="supporting children")

    def _refuse_while_held(self, field: str, held: list[tuple[str, str]], *, stops: str) -> None:
        """Refuse the change to ``field`` while anyone is ``held``: each pair says who, and what the
        managers must do about them first."""
        if held:
            who, to_do = zip(*held, strict=True)
            self.add_error(
                field, f"{' and '.join(who)} now. {' and '.join(to_do).capitalize()} before it stops {stops}."
            )

    def _save_m2m(self) -> None:
        """Runs after the provider is saved, with or without ``commit`` (the admin saves in two steps)."""
        super()._save_m2m()  # type: ignore[misc]  # ModelForm's, missing from the stubs
        organisation = self.instance.organisation
        organisation.duty_phone = self.cleaned_data.get("duty_phone") or ""
        organisation.notification_emails = self.cleaned_data.get("notification_emails") or []
        organisation.webhook_url = self.cleaned_data.get("webhook_url") or ""
        organisation.webhook_secret = self.cleaned_data.get("webhook_secret") or ""
        organisation.save(update_fields=list(self.ORGANISATION_FIELDS))


def _withdraw(offers: int) -> str:
    return "withdraw the offer" if offers == 1 else "withdraw the offers"
