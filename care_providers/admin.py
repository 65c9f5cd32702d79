from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin, ReadOnlyModelAdmin

from .forms import CareProviderForm
from .models import CareProvider, Placement, PlacementOffer
from .selectors import providers_with_occupancy


@admin.register(CareProvider)
class CareProviderAdmin(AuditedModelAdmin):
    form = CareProviderForm
    # The addresses may name people; the webhook secret is withheld by its name.
    audit_withheld = ("notification_emails",)
    list_display = ["name", "active", "women", "men", "family", "children"]
    list_filter = ["active", "supports_children"]
    search_fields = ["name", "organisation__name"]
    fieldsets = (
        (None, {"fields": ("organisation", "name", "active", "duty_phone")}),
        ("What it offers", {"fields": ("regions", "services", "supports_children", "languages")}),
        (
            "Capacity in beds (occupancy is derived from placements)",
            {"fields": ("beds_women", "beds_men", "beds_family")},
        ),
        ("Notifications", {"fields": ("notification_emails", "webhook_url", "webhook_secret")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareProvider]:
        return providers_with_occupancy().select_related("organisation")

    # Headers short enough for every column to show beside the filters at 1280 px.
    @admin.display(description="Women's beds")
    def women(self, provider: Any) -> str:
        return f"{provider.occupied_women} of {provider.beds_women} occupied"

    @admin.display(description="Men's beds")
    def men(self, provider: Any) -> str:
        return f"{provider.occupied_men} of {provider.beds_men} occupied"

    @admin.display(description="Family rooms")
    def family(self, provider: Any) -> str:
        return f"{provider.occupied_family} of {provider.beds_family} occupied"

    @admin.display(description="Children", boolean=True, ordering="supports_children")
    def children(self, provider: Any) -> bool:
        return provider.supports_children


@admin.register(PlacementOffer)
class PlacementOfferAdmin(ReadOnlyModelAdmin):
    """Offers and placements change only through the workflow's services."""

    list_display = ["referral", "provider", "state", "offered_at", "response_due_at", "responded_at"]
    list_filter = ["state", "provider"]
    list_select_related = ["referral", "provider"]
    search_fields = ["referral__reference"]


@admin.register(Placement)
class PlacementAdmin(ReadOnlyModelAdmin):
    list_display = ["referral", "provider", "bed_kind", "started_at", "ended_at"]
    list_filter = ["provider", "bed_kind"]
    list_select_related = ["referral", "provider"]
    search_fields = ["referral__reference"]
