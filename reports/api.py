"""``GET /api/v1/reports/caseload/``: the caseload report as JSON, for managers (SPEC §8, §9); and
``GET /api/v1/reports/overdue/``: every overdue case, a page at a time.

The serializers below both shape the response and describe it in the OpenAPI schema, so the schema
cannot drift from what is served.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referrals.api.errors import error_responses
from referrals.api.query_parameters import refuse_unknown_query_parameters
from referrals.api.serializers import refuse_repeated_filters
from referrals.choices import Region

from .forms import ReportFilterForm
from .permissions import may_view_reports
from .selectors import (
    AGE_BANDS,
    OVERDUE_LIST_LIMIT,
    REFERRING_KINDS,
    TIMELINESS,
    OverdueCases,
    caseload_report,
    provider_choices,
)


class IsManager(BasePermission):
    message = "Caseload reports are for managers."
    code = "not_permitted"  # the code of every other refusal of a role (``NotPermitted``)

    def has_permission(self, request: Request, view: APIView) -> bool:
        return may_view_reports(request.user)


@extend_schema_field(OpenApiTypes.DOUBLE)
class HoursField(serializers.Field):
    """A duration as a number of hours (two decimals), or null where there is nothing to measure."""

    def to_representation(self, value: datetime.timedelta) -> float:
        return round(value.total_seconds() / 3600, 2)


class ShareField(serializers.FloatField):
    """A fraction between 0 and 1 (four decimals), or null when the whole is zero."""

    # A FloatField represents a float; the stubs say str.
    def to_representation(self, value: float) -> float:  # type: ignore[override]
        return round(float(value), 4)


class ReportShareSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # taken off the class by DRF: not Field.label
    count = serializers.IntegerField()
    share = ShareField(allow_null=True)


class ReportNationalitySerializer(serializers.Serializer):
    nationality = serializers.CharField(source="key", help_text="ISO 3166-1 alpha-2, stateless or unknown.")
    name = serializers.CharField(source="label")
    count = serializers.IntegerField()
    share = ShareField(allow_null=True, help_text="Share of all referrals matching the filters.")


class ReportOpenStateSerializer(serializers.Serializer):
    state = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # taken off the class by DRF: not Field.label
    total = serializers.IntegerField()
    bands = inline_serializer(
        name="TimeInStateBands",
        fields={key: serializers.IntegerField(help_text=label) for key, label, _, _ in AGE_BANDS},
    )


class ReportMonthSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The first day of the month (local time).")
    referrals = serializers.IntegerField()
    anonymous_notifications = serializers.IntegerField()


class ReportProviderFiguresSerializer(serializers.Serializer):
    provider = serializers.IntegerField(source="provider_id")
    name = serializers.CharField()
    active_placements = serializers.IntegerField()
    beds_in_use = serializers.IntegerField(help_text="Active accommodation placements.")
    capacity = serializers.IntegerField(help_text="Beds of every kind.")
    occupancy = ShareField(allow_null=True, help_text="Beds in use over capacity; null without beds.")
    pending_offers = serializers.IntegerField()
    accepted_offers = serializers.IntegerField()
    answered_offers = serializers.IntegerField(help_text="Accepted, rejected or expired offers.")
    acceptance_rate = ShareField(allow_null=True)
    median_time_to_accept_hours = HoursField(source="median_time_to_accept", allow_null=True)


class ReportTimelinessSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=[key for key, *_ in TIMELINESS])
    clock = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # taken off the class by DRF: not Field.label
    count = serializers.IntegerField(
        help_text="Cases assessed, or placed (to their first placement): those the median and 90th "
        "percentile are of."
    )
    median_hours = HoursField(source="median", allow_null=True, help_text="Of the cases assessed or placed.")
    p90_hours = HoursField(source="p90", allow_null=True, help_text="Of the cases assessed or placed.")
    waiting = serializers.IntegerField(
        help_text="Open cases still waiting now: received and not yet assessed, or assessed and never placed."
    )
    longest_wait_hours = HoursField(
        source="longest_wait",
        allow_null=True,
        help_text="The longest wait so far of the cases still waiting.",
    )
    within_deadline = serializers.IntegerField(
        help_text="Clocks (not cases: a placement clock for each placement) stopped before they were due by "
        "the step they waited for."
    )
    decided = serializers.IntegerField(
        help_text="Clocks met, stopped late, or open past their due time; not those stopped in time by the case "
        "being withdrawn or exited."
    )
    share_within_deadline = ShareField(allow_null=True, help_text="Clocks met of those decided.")


class ReportOverdueCaseSerializer(serializers.Serializer):
    referral = serializers.IntegerField(source="referral_id", help_text="The case: /api/v1/referrals/{id}/.")
    reference = serializers.CharField()
    clock = serializers.CharField(help_text="The case's most overdue clock.")
    overdue_since = serializers.DateTimeField(
        help_text="When that clock became overdue: its due time or, for a missing person, when they were "
        "last seen. The list is ordered by it."
    )
    due_at = serializers.DateTimeField(
        help_text="The clock's due time, as in the referral's deadlines. A missing person's clock is due "
        "at their next escalation, which may be ahead: use overdue_since for when it became overdue."
    )
    overdue_hours = HoursField(source="overdue_by", help_text="Hours since overdue_since.")
    also_overdue = serializers.ListField(
        child=serializers.CharField(), help_text="The case's other overdue clocks, most overdue first."
    )


class ReportFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    provider = serializers.IntegerField(
        source="provider_id", allow_null=True, help_text="Cases placed with this provider, now or before."
    )
    organisation_kind = serializers.CharField(allow_blank=True)


class ReportTopTieSerializer(serializers.Serializer):
    top = serializers.IntegerField(help_text="5 or 10.")
    place = serializers.IntegerField(help_text="The place the tied nationalities share, from 1.")
    count = serializers.IntegerField(help_text="The referrals of each tied nationality.")
    tied = serializers.IntegerField(help_text="How many nationalities share the place.")
    listed = serializers.IntegerField(help_text="How many of them the top lists, the first by country code.")
    note = serializers.CharField(help_text="The same in words, as under the report's nationalities table.")


class CaseloadReportSerializer(serializers.Serializer):
    as_at = serializers.DateTimeField(help_text="When the figures were extracted.")
    filters = ReportFilterSerializer(source="report_filter")
    referrals = serializers.IntegerField()
    anonymous_notifications = serializers.IntegerField(help_text="Counted apart: never part of referrals.")
    open_cases = serializers.IntegerField()
    open_by_state = ReportOpenStateSerializer(many=True)
    monthly = ReportMonthSerializer(many=True)
    nationalities = ReportNationalitySerializer(
        many=True,
        help_text="Every nationality, most frequent first; a person with two is counted under the first "
        "given.",
    )
    top5 = ReportNationalitySerializer(
        many=True,
        help_text="The first five of nationalities: a tie across 5th place is broken by country code.",
    )
    top5_share = ShareField(allow_null=True, help_text="The share of top5 (see nationality_ties).")
    top10_share = ShareField(
        allow_null=True, help_text="The share of the first ten of nationalities (see nationality_ties)."
    )
    nationality_ties = ReportTopTieSerializer(
        many=True,
        help_text="Each tie the top five or the top ten cuts through: the top lists the first of the tied "
        "nationalities by country code, and its share counts only those. Empty when neither cuts a tie.",
    )
    exploitation_types = ReportShareSerializer(many=True, help_text="A referral may name several types.")
    age_groups = ReportShareSerializer(
        many=True, help_text="A person whose age is in doubt is counted as a child (see age_in_doubt)."
    )
    age_in_doubt = ReportShareSerializer(
        help_text="The children whose age is in doubt: counted among age_groups' children, not beside them, and "
        "their share is of the children."
    )
    genders = ReportShareSerializer(many=True)
    regions = ReportShareSerializer(many=True)
    organisation_kinds = ReportShareSerializer(many=True)
    providers = ReportProviderFiguresSerializer(many=True)
    timeliness = ReportTimelinessSerializer(many=True)
    overdue_total = serializers.IntegerField(
        help_text="The cases with an overdue open clock (past its due time, or a missing person's), each "
        "counted once."
    )
    overdue = ReportOverdueCaseSerializer(
        many=True,
        help_text=f"The most overdue first, case references only: at most {OVERDUE_LIST_LIMIT} of "
        "overdue_total (see overdue_truncated). GET /api/v1/reports/overdue/ lists every one, a page at "
        "a time, and the caseload page's CSV download of the overdue table lists every one at once.",
    )
    overdue_truncated = serializers.BooleanField(
        help_text=f"True when overdue lists only the {OVERDUE_LIST_LIMIT} most overdue of overdue_total."
    )
    overdue_by_clock = ReportShareSerializer(
        many=True,
        help_text="The cases overdue on each clock, with their share of overdue_total: a case with more "
        "than one clock overdue is counted under each.",
    )
    outcomes = ReportShareSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


FILTER_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First day of submission included."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last day of submission included."),
    OpenApiParameter("region", OpenApiTypes.STR, enum=Region.values),
    OpenApiParameter(
        "provider",
        {"type": "integer", "minimum": 1},
        description="A care provider's id: only the cases placed with it, now or before (not those only "
        "offered to it).",
    ),
    OpenApiParameter("organisation_kind", OpenApiTypes.STR, enum=[str(kind) for kind in REFERRING_KINDS]),
]


class CaseloadReportView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(
        operation_id="caseload_report",
        summary="Caseload report",
        description="Every §8 breakdown for the referrals the filters select. Managers only.",
        parameters=FILTER_PARAMETERS,
        responses={
            200: CaseloadReportSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Invalid filters: each field named with its messages."
            ),
            **error_responses(401, 403, 429),
        },
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        refuse_unknown_query_parameters(self)
        refuse_repeated_filters(request.query_params, ReportFilterForm.base_fields)
        form = ReportFilterForm(request.query_params, api=True)
        report = caseload_report(form.report_filter()) if form.is_valid() else None
        if report is None or not form.check_provider(report.provider_choices):
            return Response(_field_errors(form.errors), status=400)
        return Response(CaseloadReportSerializer(report).data)


class OverdueReportView(GenericAPIView):
    """Every case the filters select with an overdue open clock, most overdue first (SPEC §8)."""

    permission_classes = [IsAuthenticated, IsManager]
    serializer_class = ReportOverdueCaseSerializer

    @extend_schema(
        operation_id="overdue_report",
        summary="Every overdue case, most overdue first",
        description="The caseload report's overdue list in full, a page at a time, with the same filters. "
        "Case references only. Managers only. The list is ordered by a moving key, how long each case has "
        "been overdue: a case can appear twice or be passed over if it changes while being walked (a "
        "check-in recorded, an earlier last-seen time), so a client wanting a consistent picture reads it "
        "again from the top.",
        parameters=FILTER_PARAMETERS,
        responses={
            200: ReportOverdueCaseSerializer(many=True),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Invalid filters or cursor: each field named with its messages.",
            ),
            **error_responses(401, 403, 429),
        },
        tags=["reports"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        cases = self.overdue_cases()
        # Never None: the view has a pagination class. Paged as rows, then shown as cases.
        page = cast(list[dict[str, Any]], self.paginate_queryset(cases.rows))
        return self.get_paginated_response(self.get_serializer(cases.shown(page), many=True).data)

    def overdue_cases(self) -> OverdueCases:
        refuse_repeated_filters(self.request.query_params, ReportFilterForm.base_fields)
        form = ReportFilterForm(self.request.query_params, api=True)
        valid = form.is_valid()
        # The providers are read only to refuse one that does not exist.
        if valid and form.cleaned_data.get("provider") is not None:
            valid = form.check_provider(provider_choices())
        if not valid:
            raise ValidationError(_field_errors(form.errors))
        return OverdueCases(form.report_filter(), now=timezone.now())


def _field_errors(errors: Any) -> dict[str, list[str]]:
    return {field: [str(message) for message in messages] for field, messages in errors.items()}
