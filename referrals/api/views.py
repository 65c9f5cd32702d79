"""The referral API (SPEC §9): intake, lists, the case, its transitions, history and provider suggestions.

Views are thin: they scope through ``referrals_visible_to``, check the role with
``referrals.permissions``, validate input and call one service. Errors are mapped once, in
``referrals.api.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import record_read, record_reads
from care_providers.selectors import pending_offer_for, suggested_providers
from idempotency.api import IDEMPOTENCY_PARAMETERS, IdempotentPostMixin, fields_read_by
from idempotency.services import StoredResponse
from referrals import services
from referrals.exceptions import NotPermitted, TransitionNotAllowed
from referrals.models import AnonymousNotification, Referral
from referrals.permissions import (
    OFFERED_PROVIDER,
    PROVIDER_TRANSITIONS,
    may_perform,
    may_see_full_account,
    may_see_identity,
    may_submit,
)
from referrals.references import reference_as_typed
from referrals.selectors import (
    LIKELY_DUPLICATES_SHOWN,
    anonymous_notifications_visible_to,
    get_visible_referral,
    in_state,
    likely_duplicates,
    load_case_summary,
    referral_history_visible_to,
    referrals_visible_to,
    with_case_summary,
)
from referrals.validation import NOT_CORRECTABLE

from . import serializers as s
from .errors import CASE_CONFLICT_MESSAGE, READ_ERRORS, WRITE_ERRORS, error_responses
from .pagination import HarbourPagination
from .query_parameters import refuse_unknown_query_parameters

if TYPE_CHECKING:
    from accounts.models import User

# What an answer tells a user who has lost sight of the case (a provider that rejected the offer or
# ended the placement): the outcome of its own request.
OUT_OF_SIGHT_FIELDS = ("id", "reference", "state")


def _user(request: Request) -> User:
    """The signed-in user: IsAuthenticated, the default permission of every view here, lets in no other."""
    return cast("User", request.user)


class AnswersWithCase(IdempotentPostMixin):
    """A POST answering with a case. Its answer replayed for a repeated ``Idempotency-Key`` holds only
    the fields its reader may see of the case now, and one that names the person is audited as a read;
    to a user who can no longer see the case (a provider that rejected the offer or ended the
    placement) only the case's reference and state are replayed."""

    conflict_message = CASE_CONFLICT_MESSAGE

    def referral_shown_by(self, response: Any) -> int | None:
        data = getattr(response, "data", None)
        return data.get("id") if 200 <= response.status_code < 300 and isinstance(data, dict) else None

    def replayed_body(self, request: Request, stored: StoredResponse) -> Any:
        if stored.referral_id is None:
            return stored.body
        try:
            referral = get_visible_referral(_user(request), stored.referral_id)
        except Referral.DoesNotExist:
            return {key: stored.body[key] for key in OUT_OF_SIGHT_FIELDS if key in stored.body}
        # A provider reallocated away from the person and offered them again learns who they are
        # only by accepting again, not by replaying its first acceptance.
        identity = may_see_identity(_user(request), referral)
        if identity:
            record_read(actor=_user(request), referral=referral, what="API replayed answer", request=request)
        return s.without_hidden_fields(
            stored.body, full_account=may_see_full_account(_user(request)), identity=identity
        )


class ReferralListView(AnswersWithCase, GenericAPIView):
    pagination_class = HarbourPagination
    serializer_class = s.ReferralSerializer

    def get_queryset(self) -> QuerySet[Referral]:
        return with_case_summary(referrals_visible_to(_user(self.request)))

    def body_fields(self) -> frozenset[str]:
        return fields_read_by(s.ReferralCreateSerializer)

    @extend_schema(
        operation_id="referrals_list",
        summary="Referrals you may see, newest first",
        description=(
            "The referrals you may see, newest first, a page at a time: a manager sees every one, a first "
            "responder their organisation's, a care provider those offered to it or placed with it (and "
            "those closed from its placement). state filters as the web's case list does: missing includes "
            "a person reallocated while missing and not found since, whose state says assessed. reference "
            "finds the case a webhook or an inbox item names. One value of each filter at a time: a filter "
            "given twice (?state=placed&state=missing) is a 400. Each referral holds only the fields you may "
            "see; one you may not is absent, not null."
        ),
        parameters=[s.ReferralFilterSerializer],
        responses={200: s.ReferralSerializer(many=True), **error_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        filters = s.ReferralFilterSerializer(data=request.query_params)
        s.refuse_repeated_filters(request.query_params, filters.fields)
        filters.is_valid(raise_exception=True)
        chosen = filters.validated_data
        referrals = self.get_queryset()
        if "state" in chosen:
            # As the web's case list filters: the missing include those reallocated while missing.
            referrals = referrals.filter(in_state(chosen["state"]))
        if "region" in chosen:
            referrals = referrals.filter(region=chosen["region"])
        if "reference" in chosen:
            # As the web's case list finds it: written as Harbour writes it, matched on the unique index.
            referrals = referrals.filter(reference=reference_as_typed(chosen["reference"]))
        # Never None: the view has a pagination class.
        page = cast(list[Referral], self.paginate_queryset(referrals))
        # The list carries names and dates of birth: every person on the page is a read (SPEC §10).
        record_reads(actor=_user(request), referrals=page, what="API referral list", request=request)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="referrals_create",
        summary="Submit a referral (first responders)",
        description=(
            "Submits a referral and answers with the new case: its id, reference, state "
            "(received) and its first clock. Look for the person's open cases first with "
            "referrals_possible_duplicates. Send an Idempotency-Key so that a request repeated after a "
            "lost answer submits nothing twice."
        ),
        request=s.ReferralCreateSerializer,
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={201: s.ReferralSerializer, **error_responses(400, 401, 403, 409, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        if not may_submit(_user(request)):
            raise NotPermitted("Only first responders can submit referrals.")
        self.refuse_unusable_idempotency_key()
        intake = s.ReferralCreateSerializer(data=request.data)
        intake.is_valid(raise_exception=True)
        # The new referral comes with its case summary (its first clock, no offer, no placement).
        referral = services.submit_referral(actor=_user(request), fields=intake.validated_data)
        # Not audited as a read: the answer shows only what the submitter has just sent, and the
        # submission's own row in the trail already names them.
        data = self.get_serializer(referral).data
        return Response(data, status=status.HTTP_201_CREATED)


class PossibleDuplicatesView(IdempotentPostMixin, GenericAPIView):
    """SPEC §3's duplicate check before submitting, as the intake form shows it. A POST, so that the
    name is never in an address, where proxies and logs would keep it."""

    serializer_class = s.PossibleDuplicateSerializer
    pagination_class = None

    def body_fields(self) -> frozenset[str]:
        return fields_read_by(s.PossibleDuplicatesQuery)

    @extend_schema(
        operation_id="referrals_possible_duplicates",
        summary="Before submitting: cases you may see that may be the same person (first responders)",
        description=(
            "Cases open at any time in the last DUPLICATE_WINDOW_DAYS (90) with the same name and the same "
            f"date of birth or nationality, newest first, at most {LIKELY_DUPLICATES_SHOWN}. Changes nothing."
        ),
        request=s.PossibleDuplicatesQuery,
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={
            200: s.PossibleDuplicateSerializer(many=True),
            **error_responses(400, 401, 403, 409, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        if not may_submit(user):
            raise NotPermitted("Only first responders submit referrals, and look for duplicates first.")
        self.refuse_unusable_idempotency_key()
        query = s.PossibleDuplicatesQuery(data=request.data)
        query.is_valid(raise_exception=True)
        duplicates = likely_duplicates(user, **query.validated_data).only(
            "id", "reference", "state", "submitted_at"
        )
        return Response(self.get_serializer(duplicates[:LIKELY_DUPLICATES_SHOWN], many=True).data)


class ReferralDetailView(GenericAPIView):
    serializer_class = s.ReferralSerializer

    @extend_schema(
        operation_id="referrals_retrieve",
        summary="One referral, with the fields you may see",
        responses={200: s.ReferralSerializer, **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request, pk: int) -> Response:
        referral = with_case_summary(referrals_visible_to(_user(request))).get(pk=pk)
        refuse_unknown_query_parameters(self)
        record_read(actor=_user(request), referral=referral, what="API referral detail", request=request)
        return Response(self.get_serializer(referral).data)


class ReferralHistoryView(GenericAPIView):
    serializer_class = s.HistoryEntrySerializer
    pagination_class = None

    @extend_schema(
        operation_id="referrals_history",
        summary="Every transition of the referral, oldest first",
        responses={200: s.HistoryEntrySerializer(many=True), **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request, pk: int) -> Response:
        referral = get_visible_referral(_user(request), pk)
        refuse_unknown_query_parameters(self)
        record_read(actor=_user(request), referral=referral, what="API referral history", request=request)
        history = referral_history_visible_to(_user(request), referral)
        context = {**self.get_serializer_context(), "identity": may_see_identity(_user(request), referral)}
        return Response(self.get_serializer(history, many=True, context=context).data)


class SuggestedProvidersView(GenericAPIView):
    serializer_class = s.SuggestedProviderSerializer
    pagination_class = None

    @extend_schema(
        operation_id="referrals_suggested_providers",
        summary="Providers ranked by fit for the person, with the reasons (managers)",
        responses={200: s.SuggestedProviderSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        referral = get_visible_referral(_user(request), pk)
        if not _user(request).is_manager:
            raise NotPermitted("Only managers see suggested providers.")
        refuse_unknown_query_parameters(self)
        return Response(self.get_serializer(suggested_providers(referral), many=True).data)


# ------------------------------------------------------------------------------------ transitions


@dataclass(frozen=True)
class TransitionEndpoint:
    """One §4 transition on the API: its summary and its input."""

    name: str
    summary: str
    input: type[s.serializers.Serializer] | None


TRANSITION_ENDPOINTS = (
    TransitionEndpoint("assess", "Assess a received referral (managers)", s.AssessInput),
    TransitionEndpoint(
        "reassess",
        "Change the risk or route of an assessed referral waiting for a placement, as when the person's "
        "needs changed; the state does not change and the placement clock runs on (managers; a 409 while "
        "an offer awaits its answer)",
        s.ReassessInput,
    ),
    TransitionEndpoint("decline", "Decline a received referral (managers)", s.DeclineInput),
    TransitionEndpoint(
        "withdraw",
        "Withdraw a referral (referring organisation or managers); revokes a pending offer",
        s.WithdrawInput,
    ),
    TransitionEndpoint("offer", "Offer the person to a care provider (managers)", s.OfferInput),
    TransitionEndpoint("accept", "Accept the pending offer (the offered provider)", None),
    TransitionEndpoint("reject", "Reject the pending offer (the offered provider)", s.RejectInput),
    TransitionEndpoint(
        "revoke_offer",
        "Withdraw the pending offer before its answer; the referral stays assessed, its placement clock runs "
        "on, the provider is told (not why) and a new offer can be made at once (managers; a 409 when no "
        "offer awaits its answer)",
        s.RevokeOfferInput,
    ),
    TransitionEndpoint(
        "record_progress",
        "Record progress; restarts the check-in clock (the placed provider)",
        s.RecordProgressInput,
    ),
    TransitionEndpoint(
        "report_missing",
        "Report the person missing; escalates at once (placed provider or managers)",
        s.ReportMissingInput,
    ),
    TransitionEndpoint(
        "found",
        "The missing person is found: back in the placement, or waiting for a new one if reallocated "
        "while missing (placed provider or managers)",
        s.FoundInput,
    ),
    TransitionEndpoint(
        "reallocate",
        "End the placement and return to assessed (placed provider or managers)",
        s.ReallocateInput,
    ),
    TransitionEndpoint(
        "recover",
        "The person has recovered and moves on (placed provider or managers)",
        s.RecoverInput,
    ),
    TransitionEndpoint(
        "exit",
        "The person left support (placed provider or managers; only managers for a missing child)",
        s.ExitInput,
    ),
    TransitionEndpoint(
        "correct",
        "Correct the person's details, such as after an age assessment; the state does not change "
        "(referring organisation or managers, while the case is open)",
        s.CorrectInput,
    ),
)


def refuse_unless_allowed(user: Any, transition: str, referral: Referral) -> None:
    """403 for a role that may not, then 409 for a state that does not allow it, before any input
    is read. The service checks all of this again under the row lock. The offered provider's answer
    is refused for what became of the offer (who accepted it, and when; that it ran out) before the
    case's state, as the web says it: the state alone would not say that a colleague took the person. So
    is the managers' withdrawal of it, after their role is checked."""
    if transition in ("accept", "reject") and may_perform(user, transition, referral):
        refusal = services.answer_refusal(referral, pending_offer_for(referral))
        if refusal is not None:
            raise refusal
    services.check_transition_allowed(user, transition, referral)
    if transition in ("offer", "reassess") and (
        waits := services.pending_offer_refusal(transition, pending_offer_for(referral))
    ):
        raise waits
    if transition == "offer":
        services.check_not_missing(referral)
    if transition == "revoke_offer" and (
        gone := services.revoke_refusal(referral, pending_offer_for(referral))
    ):
        raise gone


class ReferralTransitionView(AnswersWithCase, GenericAPIView):
    serializer_class = s.ReferralSerializer
    endpoint: TransitionEndpoint

    def body_fields(self) -> frozenset[str]:
        if self.endpoint.input is None:
            return frozenset()
        # A correction reads the details it cannot change too, to refuse them.
        refused = NOT_CORRECTABLE if self.endpoint.input is s.CorrectInput else ()
        return fields_read_by(self.endpoint.input) | set(refused)

    def post(self, request: Request, pk: int) -> Response:
        try:
            referral = get_visible_referral(_user(request), pk)
        except Referral.DoesNotExist:
            # An answer from a provider the case left as its offer ended unaccepted hears how it ended, by
            # the case's reference alone; anyone else: the 404.
            if self.endpoint.name in OFFERED_PROVIDER:
                services.refuse_late_answer(_user(request), pk)
            raise
        refuse_unless_allowed(_user(request), self.endpoint.name, referral)
        self.refuse_unusable_idempotency_key()
        values: dict[str, Any] = {}
        if self.endpoint.input is not None:
            given = self.endpoint.input(
                data=request.data, context={"referral": referral, "actor": _user(request)}
            )
            given.is_valid(raise_exception=True)
            values = dict(given.validated_data)
        try:
            changed = services.perform_transition(
                self.endpoint.name, referral_id=referral.pk, actor=_user(request), **values
            )
        except NotPermitted as refusal:
            # Allowed by the check above, refused under the row lock: a change committed while the request
            # waited for it (a reallocation, an exit) took the provider's part in the case with it.
            raise TransitionNotAllowed(
                f"The case changed while this was being sent: {refusal.message}"
            ) from refusal
        referral = load_case_summary(changed)
        if may_see_identity(_user(request), referral):
            # The answer names the person: for a provider accepting, the first time it learns who they are.
            record_read(
                actor=_user(request),
                referral=referral,
                what=f"API {self.endpoint.name} answer",
                request=request,
            )
        answer = self.get_serializer(referral).data
        if (
            _user(request).is_care_provider
            and not referrals_visible_to(_user(request)).filter(pk=referral.pk).exists()
        ):
            return Response({key: answer[key] for key in OUT_OF_SIGHT_FIELDS})
        return Response(answer)


# A care provider's own action can end its sight of the case; it is then answered with the outcome only.
REFERRAL_OR_OUTCOME = PolymorphicProxySerializer(
    component_name="ReferralOrOutcome",
    serializers=[s.ReferralSerializer, s.ReferralOutcomeSerializer],
    resource_type_field_name=None,
)


# What an answer to an offer that has ended, out of the provider's sight, is told.
ENDED_OFFER_DESCRIPTION = (
    " An answer to an offer to your organisation that has since been withdrawn, run out or been rejected, "
    "once the case is no longer yours to see, is a 409 that says so, naming the case by its reference "
    "alone; the case itself stays a 404 to you."
)


def transition_view(endpoint: TransitionEndpoint) -> type[ReferralTransitionView]:
    by_provider = endpoint.name in PROVIDER_TRANSITIONS

    @extend_schema(
        operation_id=f"referrals_{endpoint.name}",
        summary=endpoint.summary,
        description=(
            "Answers the updated referral; a care provider that no longer sees the case after its action "
            "(or when repeating one with an Idempotency-Key) gets only its id, reference and state."
            + (ENDED_OFFER_DESCRIPTION if endpoint.name in OFFERED_PROVIDER else "")
            if by_provider
            else "Answers the updated referral."
        ),
        request=endpoint.input,
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={
            200: REFERRAL_OR_OUTCOME if by_provider else s.ReferralSerializer,
            **error_responses(*WRITE_ERRORS),
        },
    )
    def post(self: ReferralTransitionView, request: Request, pk: int) -> Response:
        return ReferralTransitionView.post(self, request, pk)

    return type(
        f"Referral{endpoint.name.title().replace('_', '')}View",
        (ReferralTransitionView,),
        {"endpoint": endpoint, "post": post, "__doc__": endpoint.summary},
    )


TRANSITION_VIEWS = {endpoint.name: transition_view(endpoint) for endpoint in TRANSITION_ENDPOINTS}


# ------------------------------------------------------------------------- anonymous notifications


class AnonymousNotificationListView(IdempotentPostMixin, GenericAPIView):
    pagination_class = HarbourPagination
    serializer_class = s.AnonymousNotificationSerializer

    def get_queryset(self) -> QuerySet[AnonymousNotification]:
        return anonymous_notifications_visible_to(_user(self.request))

    def body_fields(self) -> None:
        # Every key: any but the notification's own is refused.
        return None

    def _refuse_providers(self, request: Request) -> None:
        if not (_user(request).is_manager or _user(request).is_first_responder):
            raise NotPermitted("Anonymous notifications are for first responders and managers.")

    @extend_schema(
        operation_id="anonymous_notifications_list",
        summary="Anonymous (duty to notify) notifications you may see",
        description=(
            "The anonymous notifications you may see, newest first, a page at a time: a manager sees every "
            "one, a first responder their organisation's; care providers are refused (403). They hold no "
            "personal details."
        ),
        responses={200: s.AnonymousNotificationSerializer(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        self._refuse_providers(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="anonymous_notifications_create",
        summary="Notify anonymously about an adult who does not consent (first responders)",
        description="Records no personal details: a request carrying a name, date of birth, contact "
        "details or an account is refused with a 400 that points to making a referral instead, and so is "
        "one giving an age or saying the person is or may be a child (age, age_estimate, age_in_doubt, "
        "is_child and the like): duty to notify is for adults only. Any other field but its own (gender, "
        "nationality, exploitation_types, region) is refused too, whatever its name or spelling (Given_Name, "
        "notes, client_reference), so that nothing sent is dropped unsaid; only the id, organisation and "
        "submitted_at that Harbour sets are ignored, as everywhere in the API.",
        parameters=IDEMPOTENCY_PARAMETERS,
        responses={201: s.AnonymousNotificationSerializer, **error_responses(400, 401, 403, 409, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        if not may_submit(_user(request)):
            raise NotPermitted("Only first responders can make anonymous notifications.")
        self.refuse_unusable_idempotency_key()
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        notification = services.submit_anonymous_notification(actor=_user(request), **given.validated_data)
        return Response(self.get_serializer(notification).data, status=status.HTTP_201_CREATED)


__all__ = [
    "AnonymousNotificationListView",
    "ReferralDetailView",
    "ReferralHistoryView",
    "ReferralListView",
    "SuggestedProvidersView",
    "TRANSITION_VIEWS",
]
