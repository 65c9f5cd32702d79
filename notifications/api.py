"""REST API for the in-app inbox (SPEC §9): a user's own items only."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from idempotency.api import IDEMPOTENCY_PARAMETERS, IdempotentPostMixin
from referrals.api.errors import error_responses

from .models import InboxItem
from .selectors import inbox_for
from .services import mark_read


class InboxItemSerializer(serializers.ModelSerializer):
    read = serializers.BooleanField(read_only=True)

    class Meta:
        model = InboxItem
        fields = ["id", "event", "reference", "message", "created_at", "read"]
        read_only_fields = fields
        extra_kwargs = {
            "created_at": {
                "help_text": "When the item last changed: an unread item counting failed deliveries "
                "(notification.failed) moves to the latest failure, back to the top of the inbox."
            }
        }


class InboxList(generics.ListAPIView):
    """The signed-in user's inbox, newest first."""

    serializer_class = InboxItemSerializer

    def get_queryset(self) -> QuerySet[InboxItem]:
        return inbox_for(cast(User, self.request.user))

    @extend_schema(responses={200: InboxItemSerializer(many=True), **error_responses(400, 401, 429)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class InboxItemRead(IdempotentPostMixin, APIView):
    """Mark one of the user's own inbox items read; another user's item is a 404."""

    def body_fields(self) -> frozenset[str]:
        return frozenset()  # none: the item is in the address

    @extend_schema(
        request=None,
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={200: InboxItemSerializer, **error_responses(400, 401, 404, 409, 429)},
    )
    def post(self, request: Request, item_id: int) -> Response:
        user = cast(User, request.user)
        if not inbox_for(user).filter(pk=item_id).exists():
            raise NotFound()
        self.refuse_unusable_idempotency_key()
        return Response(InboxItemSerializer(mark_read(user=user, item_id=item_id)).data)
