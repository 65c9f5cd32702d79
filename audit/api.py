"""The audit trail of one case in the API: GET /api/v1/referrals/{id}/audit/ (managers only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from referrals.api.errors import error_responses
from referrals.api.serializers import CodeField
from referrals.exceptions import NotPermitted
from referrals.models import Referral
from referrals.selectors import get_visible_referral

from .models import AuditAction, AuditEvent
from .permissions import may_read_audit_trail
from .selectors import audit_trail_for

if TYPE_CHECKING:
    from accounts.models import User


class AuditActorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    organisation = serializers.CharField(source="organisation.name", allow_null=True, default=None)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = AuditActorSerializer(allow_null=True, read_only=True)
    action = CodeField(choices=AuditAction.choices)
    changes = serializers.DictField(child=serializers.JSONField())

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "action", "actor", "username", "ip_address", "what", "changes"]
        read_only_fields = fields


class ReferralAuditView(generics.ListAPIView):
    serializer_class = AuditEventSerializer

    @extend_schema(
        summary="A case's audit trail",
        description="Every read of the person's details and every change, newest first. Managers only.",
        tags=["audit"],
        responses={200: AuditEventSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AuditEvent]:
        try:
            referral = get_visible_referral(cast("User", self.request.user), self.kwargs["pk"])
        except Referral.DoesNotExist as exc:
            raise Http404("No such referral.") from exc
        if not may_read_audit_trail(self.request.user):
            raise NotPermitted("Only managers can read the audit trail.")
        return audit_trail_for(referral)
