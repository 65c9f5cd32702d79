"""The account endpoints of the API: obtaining a token, and who am I."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from idempotency.api import IDEMPOTENCY_PARAMETERS, IdempotentPostMixin, fields_read_by
from idempotency.exceptions import IdempotencyKeyReused
from idempotency.services import StoredResponse
from referrals.api.errors import error_responses
from referrals.api.query_parameters import refuse_unknown_query_parameters
from referrals.api.serializers import OrganisationSerializer, TextField, shown_code

from .authentication import issue_token
from .lockout import LOCKOUT_CODE, lockout_message
from .mfa import token_login_second_factor_error
from .models import Role

BAD_CREDENTIALS = "Unable to log in with the username and password given."


class LockedOut(APIException):
    status_code = 429
    default_code = LOCKOUT_CODE


class TokenRequestSerializer(serializers.Serializer):
    username = TextField(max_length=150)
    password = TextField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        help_text="Managers and admins, when a second factor is required: the code from the authenticator app.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(
        read_only=True,
        help_text="When the token stops working (TOKEN_LIFETIME_HOURS after it was issued, 12 by default): "
        "ask for a new one before then.",
    )


class ObtainTokenView(IdempotentPostMixin, GenericAPIView):
    """Exchange a username and password for an API token, valid for TOKEN_LIFETIME_HOURS.

    A user has one token: a new one ends those issued before, so processes that share an account
    share its token too. Requests at the same moment each get a token that works. A failure answers the
    same whether or not the username exists. Repeated failures lock the username out from that address
    for a while (429).

    The token is shown once, in this answer: only a digest of it is kept. So a repeat with the same
    Idempotency-Key as a request that got a token issues nothing new and is a 409; ask again with a new
    key for a new token.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    serializer_class = TokenRequestSerializer
    throttle_scope = "token"
    # The user is known only once the password is checked; the key is then claimed for that user.
    claims_key_after_authentication = False

    def body_fields(self) -> frozenset[str]:
        return fields_read_by(TokenRequestSerializer)

    def get_throttles(self) -> list[Any]:
        from rest_framework.throttling import ScopedRateThrottle

        return [*super().get_throttles(), ScopedRateThrottle()]

    @extend_schema(
        operation_id="auth_token",
        summary="Obtain an API token: then send Authorization: Token <token>",
        request=TokenRequestSerializer,
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={200: TokenSerializer, **error_responses(400, 409, 415, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # Before the password check, which takes most of the request: see issue_token.
        asked_at = timezone.now()
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        credentials = dict(given.validated_data)
        code = credentials.pop("otp", "")
        try:
            # The Django request, so that the lockout (django-axes) sees the attempt and its address.
            user = authenticate(request._request, **credentials)
        except PermissionDenied as exc:
            raise LockedOut(lockout_message()) from exc
        if user is None or not user.is_active:
            raise serializers.ValidationError({"non_field_errors": [BAD_CREDENTIALS]})
        second_factor_error = token_login_second_factor_error(user, code)
        if second_factor_error:
            raise serializers.ValidationError({"otp": [second_factor_error]})
        self.claim_idempotency_key(request, user)
        issued = issue_token(user, asked_at=asked_at)
        return Response(TokenSerializer({"token": issued.key, "expires_at": issued.expires_at}).data)

    def kept_body(self, body: Any) -> Any:
        """The answer without its token, which is never stored (see ``replayed_body``)."""
        return {field: value for field, value in body.items() if field != "token"}

    def replayed_body(self, request: Request, stored: StoredResponse) -> Any:
        """A token is shown only in the answer that issued it: a repeat of a request that got one is
        told so, and a new key gets a new token (ending the first)."""
        if stored.status < 400:
            raise IdempotencyKeyReused(
                "A token is shown only once, in the first answer to its Idempotency-Key. "
                "Ask again with a new key for a new token."
            )
        return stored.body


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    role = shown_code(
        Role.choices, allow_blank=True, help_text="Empty for a user with no role, such as an administrator."
    )
    organisation = OrganisationSerializer(read_only=True, allow_null=True)
    provider = serializers.IntegerField(required=False, help_text="Only for a care provider user: its id.")

    def to_representation(self, user: Any) -> dict[str, Any]:
        data = {
            "username": user.username,
            "role": user.role,
            "organisation": OrganisationSerializer(user.organisation).data if user.organisation else None,
        }
        if user.is_care_provider and user.provider is not None:
            data["provider"] = user.provider.pk
        return data


class MeView(GenericAPIView):
    serializer_class = MeSerializer

    @extend_schema(
        operation_id="me",
        summary="Who you are: role, organisation and (for a care provider) your provider",
        responses={200: MeSerializer, **error_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        refuse_unknown_query_parameters(self)
        return Response(self.get_serializer(request.user).data)
