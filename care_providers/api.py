"""The providers endpoint: capacity and occupancy derived from active placements (SPEC §2, §9)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from referrals.api.errors import error_responses
from referrals.api.pagination import HarbourPagination
from referrals.api.serializers import DUTY_PHONE_HELP
from referrals.choices import BedKind, Region, Service
from referrals.exceptions import NotPermitted

from .models import CareProvider
from .selectors import providers_with_occupancy

BEDS_SCHEMA = {
    "type": "object",
    "properties": {kind: {"type": "integer"} for kind in BedKind.values},
    "required": list(BedKind.values),
}


class ProviderSerializer(serializers.ModelSerializer):
    # Lists of codes held in JSON fields, typed here so that the schema says what they hold.
    regions = serializers.ListField(
        child=serializers.ChoiceField(choices=Region.choices),
        read_only=True,
        help_text="Region codes served (SPEC §7).",
    )
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=Service.choices),
        read_only=True,
        help_text="accommodation and/or outreach.",
    )
    languages = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="ISO 639-1 codes of languages staff speak."
    )
    capacity = serializers.SerializerMethodField()
    occupancy = serializers.SerializerMethodField()
    free = serializers.SerializerMethodField()
    organisation = serializers.IntegerField(source="organisation_id", read_only=True)
    duty_phone = serializers.CharField(
        source="organisation.duty_phone", read_only=True, help_text=DUTY_PHONE_HELP
    )

    class Meta:
        model = CareProvider
        fields = [
            "id",
            "name",
            "organisation",
            "duty_phone",
            "regions",
            "services",
            "supports_children",
            "languages",
            "active",
            "capacity",
            "occupancy",
            "free",
        ]
        read_only_fields = fields

    @extend_schema_field(BEDS_SCHEMA)
    def get_capacity(self, provider: CareProvider) -> dict[str, int]:
        return {kind: provider.capacity(kind) for kind in BedKind.values}

    @extend_schema_field(BEDS_SCHEMA)
    def get_occupancy(self, provider: CareProvider) -> dict[str, int]:
        """Beds held by active accommodation placements, per kind."""
        return {kind: getattr(provider, f"occupied_{kind}") for kind in BedKind.values}

    @extend_schema_field(BEDS_SCHEMA)
    def get_free(self, provider: CareProvider) -> dict[str, int]:
        return {
            kind: max(0, provider.capacity(kind) - getattr(provider, f"occupied_{kind}"))
            for kind in BedKind.values
        }


class ProviderListView(GenericAPIView):
    serializer_class = ProviderSerializer
    pagination_class = HarbourPagination

    def get_queryset(self) -> QuerySet[CareProvider]:
        user: Any = self.request.user
        # With the duty phone; not the webhook secret, decrypted for nothing.
        providers = (
            providers_with_occupancy().select_related("organisation").defer("organisation__webhook_secret")
        )
        if user.is_manager:
            return providers
        if user.is_care_provider and user.provider is not None:
            return providers.filter(pk=user.provider.pk)
        raise NotPermitted("Only managers and care providers see providers.")

    @extend_schema(
        operation_id="providers_list",
        summary="Care providers with capacity and occupancy per bed kind (managers; a provider sees its own)",
        responses={200: ProviderSerializer(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
