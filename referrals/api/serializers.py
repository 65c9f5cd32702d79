"""Serializers of the referral API: the referral as each caller may see it, intake, and transition inputs."""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Collection, Container, Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import SkipField

from accounts.models import OrganisationKind
from referrals.choices import (
    CorrectionReason,
    DeclineReason,
    ExitReason,
    ExploitationLocation,
    ExploitationType,
    Gender,
    ReallocateReason,
    RecoveryOutcome,
    ReferralState,
    Region,
    RejectReason,
    RevokeOfferReason,
    Risk,
    Route,
    WithdrawReason,
)
from referrals.local_time import happens_twice
from referrals.models import (
    CASE_REFERENCE_MAX_LENGTH,
    AnonymousNotification,
    Clock,
    Deadline,
    Referral,
    TransitionLog,
)
from referrals.permissions import (
    TRANSITIONS,
    may_read_correction_note,
    may_read_offer_note,
    may_see_actor,
    may_see_clock,
    may_see_full_account,
    may_see_identity,
    may_see_transition_input,
)
from referrals.phone_numbers import PHONE_MAX_LENGTH
from referrals.selectors import ReferralWithCaseSummary
from referrals.services import age_on
from referrals.validation import (
    ACCOUNT_LENGTH,
    AGE_MAX,
    ALIASES_MAX_LENGTH,
    ANONYMOUS_PERSONAL_FIELD_MESSAGE,
    ANONYMOUS_REFUSED_FIELDS,
    CODE_MAX_LENGTH,
    CORRECTABLE_FIELDS,
    CORRECTION_NOTE_LENGTH,
    LANGUAGES_MAX,
    LIST_ITEMS_MAX,
    LIST_TOO_LONG_MESSAGE,
    LOCAL_AUTHORITY_CONTACT_MAX_LENGTH,
    LOCAL_AUTHORITY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    NOT_CORRECTABLE,
    NOTE_LENGTH,
    OFFER_NOTE_HELP,
    PROGRESS_NOTE_REQUIRED_MESSAGE,
    REFERENCE_MAX_LENGTH,
    REVOKE_NOTE_HELP,
    anonymous_notification_errors,
    correction_errors,
    error_messages,
    language_code,
    last_seen_errors,
    nationality_code,
    nationality_errors,
    referral_errors,
    seen_in_person_errors,
    validate_next_check_in,
)
from referrals.wording import RECORDED_WORDS, transition_in_words

# Fields only managers and the referring organisation see (SPEC §2, need to know): absent for providers.
FULL_ACCOUNT_FIELDS = ("account", "crime_reference", "responder_reference", "aliases", "organisation")
# Who the person is: absent for a care provider that has only been offered them.
IDENTITY_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "turns_18_on",
    "contact_phone",
    "local_authority",
    "local_authority_contact",
)


def without_hidden_fields(data: dict[str, Any], *, full_account: bool, identity: bool) -> dict[str, Any]:
    """A referral's JSON less the fields its reader may not see: absent, not null (SPEC §9)."""
    hidden = (() if full_account else FULL_ACCOUNT_FIELDS) + (() if identity else IDENTITY_FIELDS)
    return {key: value for key, value in data.items() if key not in hidden}


IDENTITY_HELP = "Absent for a care provider until it has accepted the person."


def _encodable(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise serializers.ValidationError("Enter text without invalid characters.") from exc


class TextField(serializers.CharField):
    """Free text, stored as typed (HTML included: it is escaped where it is shown)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(_encodable)


class NationalityCode(TextField):
    """A nationality code in any case, stored as ISO writes it: "al" as "AL" (``nationality_code``)."""

    def to_internal_value(self, data: Any) -> str:
        return nationality_code(super().to_internal_value(data))


class LanguageCode(TextField):
    """A language code in any case, stored as ISO writes it: "SQ" as "sq" (``language_code``)."""

    def to_internal_value(self, data: Any) -> str:
        return language_code(super().to_internal_value(data))


def optional_text(
    field: str, max_length: int, *, field_class: type[TextField] = TextField, **kwargs: Any
) -> TextField:
    """An optional §3 free-text field: blank when left out, with the web form's messages."""
    return field_class(
        max_length=max_length,
        required=False,
        allow_blank=True,
        default="",
        error_messages=error_messages(field),
        **kwargs,
    )


def as_typed(value: Any, limit: int = 60) -> str:
    """What the client sent, to quote in an error: shortened, and with anything UTF-8 cannot carry
    (a lone surrogate such as "\\ud800" is valid JSON) written as an escape."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class CodeField(serializers.ChoiceField):
    """One of a set of codes; a refusal lists the codes to choose from and quotes what was sent. An
    empty string for a required code is a code left out, and answered as one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        codes = ", ".join(str(code) for code in self.choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not one of: {codes}.'
        self.error_messages.setdefault("blank", self.error_messages["required"])

    def to_internal_value(self, data: Any) -> Any:
        if data == "" and self.required and not self.allow_blank:
            self.fail("blank")
        return super().to_internal_value(data)

    def fail(self, key: str, **kwargs: Any) -> NoReturn:
        if "input" in kwargs:
            kwargs["input"] = as_typed(kwargs["input"])
        super().fail(key, **kwargs)


class FieldsBuiltOnce(serializers.Serializer):
    """A serializer whose declared fields are built once per class, not once per instance.

    DRF gives every instance a deep copy of the declared fields, and deep-copying a field runs its
    constructor again: for the referral's intake and output fields, about 0.8 ms of every create.
    A field keeps no state after construction but what ``bind`` sets, so each instance binds plain
    copies of the class's prototypes instead, with lists of validators and error messages of their own
    (a list field's child is copied with it).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            cls._field_prototypes = prototypes  # type: ignore[attr-defined]
        return {name: _unbound_copy(field) for name, field in prototypes.items()}


def _unbound_copy(field: serializers.Field) -> serializers.Field:
    clone = field.__class__.__new__(field.__class__)
    clone.__dict__.update(field.__dict__)
    # What code may still change on an instance's field must not change the class's prototype.
    if "_validators" in field.__dict__:
        clone._validators = list(field._validators)  # type: ignore[attr-defined]  # private to DRF
    clone.error_messages = dict(field.error_messages)
    child = getattr(field, "child", None)
    if isinstance(child, serializers.Field):
        clone.child = _unbound_copy(child)  # type: ignore[attr-defined]  # a list field's
        clone.child.parent = clone  # type: ignore[attr-defined]
    return clone


def code_list(
    field: str,
    *,
    max_length: int,
    help_text: str,
    anonymous: bool = False,
    field_class: type[serializers.ListField] = serializers.ListField,
    code_class: type[TextField] = TextField,
) -> serializers.ListField:
    """A list of codes (languages, exploitation types). Repeats are dropped and the number of codes
    checked by the shared rules; this refuses only a list no honest client would send."""
    return field_class(
        child=code_class(max_length=max_length),
        allow_empty=True,
        max_length=LIST_ITEMS_MAX,
        error_messages={**error_messages(field, anonymous=anonymous), "max_length": LIST_TOO_LONG_MESSAGE},
        help_text=help_text,
    )


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": CODE_MAX_LENGTH},
        "maxItems": LANGUAGES_MAX,
    }
)
class LanguageCodes(serializers.ListField):
    """The person's languages, published with the limit the shared rules set on distinct codes rather
    than the longer list the field lets through (repeats are dropped first): a client that keeps to the
    schema is never refused for the length."""


def _note(**kwargs: Any) -> TextField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    kwargs.setdefault("validators", [NOTE_LENGTH])
    return TextField(trim_whitespace=False, **kwargs)


def _next_check_in(help_text: str) -> serializers.DateField:
    """A next check-in chosen by its day: not past, nor months away (``validation.next_check_in_errors``)."""
    return serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text=help_text,
        validators=[validate_next_check_in],
    )


# ---------------------------------------------------------------------------------------- output


def shown_code(choices: Any, **kwargs: Any) -> serializers.ChoiceField:
    """A code in an answer: read-only, and published as an enum, so that generated clients get one."""
    return serializers.ChoiceField(choices=choices, read_only=True, **kwargs)


class OrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = shown_code(OrganisationKind.choices)


# An offer or a placement, with its provider's id and name. The case page names the provider to everyone
# who sees the offer or placement, and a first responder could not look the id up: the provider list is
# for managers and providers. (A comment, not a docstring: the schema would describe both with it.)
class ProvidersPartSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    provider = serializers.IntegerField(
        source="provider_id", read_only=True, help_text="The care provider's id."
    )
    provider_name = serializers.CharField(
        source="provider.name", read_only=True, help_text="The care provider's name."
    )


class PendingOfferSerializer(ProvidersPartSerializer):
    offered_at = serializers.DateTimeField(read_only=True)
    response_due_at = serializers.DateTimeField(read_only=True)
    note = serializers.CharField(
        read_only=True,
        help_text="What the managers told the provider with the offer (risks, needs); empty if nothing.",
    )


class PlacementSummarySerializer(ProvidersPartSerializer):
    bed_kind = serializers.CharField(read_only=True, help_text="Empty for outreach.")
    started_at = serializers.DateTimeField(read_only=True)


class DeadlineSerializer(serializers.Serializer):
    clock = shown_code(Clock.choices)
    started_at = serializers.DateTimeField(
        read_only=True,
        help_text="When the clock started. A missing person's clock starts when they were last seen and is "
        "overdue from then: its due_at is only their next escalation.",
    )
    due_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null while the clock is paused: see time_left_hours."
    )
    paused = serializers.BooleanField(
        read_only=True,
        help_text="The clock waits while nobody can meet it: the recovery review while the person is missing. "
        "It runs on once they are found, due time_left_hours from then.",
    )
    time_left_hours = serializers.SerializerMethodField(
        help_text="For a paused clock, the hours it will have left once it runs on: negative if it was "
        "already overdue when paused, and overdue by as much again then. Null for a running clock."
    )

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_time_left_hours(self, deadline: Deadline) -> float | None:
        left = deadline.left_when_paused
        return None if left is None else round(left.total_seconds() / 3600, 2)

    def to_representation(self, instance: Deadline) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.paused:  # its stored due time moves on by as long as it waits
            data["due_at"] = None
        return data


# Formats a date-time worked out by a method field as a DateTimeField formats the others.
DATE_TIME = serializers.DateTimeField()


class ReferralSerializer(FieldsBuiltOnce):
    """A referral as the caller may see it. A field the caller may not see is absent, not null.

    Expects the instance(s) prepared by ``referrals.selectors.with_case_summary``.
    """

    id = serializers.IntegerField(read_only=True)
    reference = serializers.CharField(read_only=True)
    state = shown_code(ReferralState.choices)
    is_child = serializers.BooleanField(read_only=True)
    organisation = serializers.IntegerField(
        source="organisation_id",
        required=False,
        help_text="The referring organisation. Absent for care providers.",
    )
    submitted_at = serializers.DateTimeField(read_only=True)
    state_changed_at = serializers.DateTimeField(read_only=True)
    consent = serializers.BooleanField(read_only=True)
    # Not read-only so that the schema marks them optional: a care provider receives the person's
    # identity once it has taken them, and the responder's own account and organisation never.
    given_name = serializers.CharField(required=False, help_text=IDENTITY_HELP)
    family_name = serializers.CharField(required=False, help_text=IDENTITY_HELP)
    aliases = serializers.CharField(required=False, help_text="Absent for care providers.")
    date_of_birth = serializers.DateField(required=False, allow_null=True, help_text=IDENTITY_HELP)
    age = serializers.SerializerMethodField(
        help_text=(
            "The person's age today, from the date of birth; null without one. Unlike the date of birth, "
            "shown to a care provider before it accepts."
        )
    )
    turns_18_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=(
            "The day a person referred as a child by their date of birth turns 18; null for anyone else, "
            "a child known by an age estimate alone included. From that day their support continues as an "
            "adult's only with their consent. Absent, as the date of birth is, for a care provider until "
            "it has accepted the person."
        ),
    )
    age_estimate = serializers.IntegerField(read_only=True, allow_null=True)
    age_in_doubt = serializers.BooleanField(read_only=True)
    gender = shown_code(Gender.choices)
    nationality = serializers.CharField(read_only=True)
    second_nationality = serializers.CharField(read_only=True)
    languages = serializers.ListField(child=serializers.CharField(), read_only=True)
    interpreter_needed = serializers.BooleanField(read_only=True)
    exploitation_types = serializers.ListField(child=shown_code(ExploitationType.choices), read_only=True)
    exploitation_location = shown_code(ExploitationLocation.choices)
    region = shown_code(Region.choices)
    needs_accommodation = serializers.BooleanField(read_only=True)
    emergency = serializers.BooleanField(read_only=True)
    needs_medical = serializers.BooleanField(read_only=True)
    has_dependants = serializers.BooleanField(read_only=True)
    safe_to_contact = serializers.BooleanField(read_only=True)
    contact_phone = serializers.CharField(required=False, help_text=IDENTITY_HELP)
    local_authority = serializers.CharField(
        required=False,
        help_text=(
            "For a child: the local authority whose children's services the first responder told; empty "
            f"for an adult, and for a child referred before it was asked. {IDENTITY_HELP}"
        ),
    )
    local_authority_contact = serializers.CharField(
        required=False,
        help_text=f"Whom in those children's services to reach, and how; may be empty. {IDENTITY_HELP}",
    )
    account = serializers.CharField(required=False, help_text="Absent for care providers.")
    responder_reference = serializers.CharField(required=False, help_text="Absent for care providers.")
    crime_reference = serializers.CharField(required=False, help_text="Absent for care providers.")
    risk = shown_code(Risk.choices, allow_blank=True, help_text="Set by assessment; empty before.")
    route = shown_code(Route.choices, allow_blank=True, help_text="Set by assessment; empty before.")
    assessed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    placed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    missing_since = serializers.SerializerMethodField(
        help_text=(
            "When the person was last seen, while they are missing: reported missing, or reallocated while "
            "missing and not found since (their state is then assessed). Null otherwise."
        )
    )
    pending_offer = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField()
    deadlines = serializers.SerializerMethodField(
        help_text="The case's open clocks, soonest first, then any paused (paused, with its time left), as "
        "the case page lists them."
    )

    def _viewer(self) -> tuple[bool, int | None]:
        """(may see the full account, the viewer's provider id), worked out once per response."""
        cached = self.context.get("_viewer")
        if cached is None:
            user = self.context["request"].user
            provider = user.provider
            cached = (may_see_full_account(user), provider.pk if provider is not None else None)
            # The context is the root serializer's dict: a cache for the whole response's referrals.
            self.context["_viewer"] = cached  # type: ignore[index]  # typed read-only by the stubs
        return cached

    def _own(self, provider_id: int) -> bool:
        """A care provider sees offers and placements of its own only."""
        _, viewer_provider = self._viewer()
        return viewer_provider is None or viewer_provider == provider_id

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_age(self, referral: Referral) -> int | None:
        date_of_birth: datetime.date | None = referral.date_of_birth  # type: ignore[assignment]  # decrypted
        return age_on(date_of_birth, timezone.localdate()) if date_of_birth is not None else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_missing_since(self, referral: ReferralWithCaseSummary) -> str | None:
        # The missing clock runs from when the person was last seen until they are found or leave
        # support: the same test as the web's (``referrals.selectors.missing_since``), read from the
        # clocks already loaded.
        started = next(
            (
                deadline.started_at
                for deadline in referral.open_deadline_list
                if deadline.clock == Clock.MISSING
            ),
            None,
        )
        return None if started is None else DATE_TIME.to_representation(started)

    @extend_schema_field(PendingOfferSerializer(allow_null=True))
    def get_pending_offer(self, referral: ReferralWithCaseSummary) -> dict[str, Any] | None:
        offers = [offer for offer in referral.pending_offer_list if self._own(offer.provider_id)]
        if not offers:
            return None
        data = PendingOfferSerializer(offers[0]).data
        if not may_read_offer_note(self.context["request"].user):
            data["note"] = ""
        return data

    @extend_schema_field(PlacementSummarySerializer(allow_null=True))
    def get_placement(self, referral: ReferralWithCaseSummary) -> dict[str, Any] | None:
        placements = [p for p in referral.active_placement_list if self._own(p.provider_id)]
        return PlacementSummarySerializer(placements[0]).data if placements else None

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, referral: ReferralWithCaseSummary) -> list[dict[str, Any]]:
        _, viewer_provider = self._viewer()
        involved_now = viewer_provider is None or any(
            item.provider_id == viewer_provider  # type: ignore[attr-defined]  # mypy joins the two to Model
            for item in (*referral.pending_offer_list, *referral.active_placement_list)
        )
        # A provider whose placement has ended hears nothing of the case's clocks after it left, and
        # one involved hears of the clocks it has to meet, as on the case page.
        user = self.context["request"].user
        shown = [deadline for deadline in referral.open_deadline_list if may_see_clock(user, deadline.clock)]
        deadlines = DeadlineSerializer(shown if involved_now else [], many=True)
        return deadlines.data  # type: ignore[return-value]  # many=True makes a ListSerializer: a list

    def to_representation(self, instance: Referral) -> dict[str, Any]:
        data = super().to_representation(instance)
        full_account, _ = self._viewer()
        return without_hidden_fields(
            data, full_account=full_account, identity=may_see_identity(self.context["request"].user, instance)
        )


class ActorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    organisation = OrganisationSerializer(read_only=True, allow_null=True)


# Every transition the history records, in words: the users' (SPEC §4), and those Harbour records itself.
RECORDED_TRANSITIONS = [(name, transition_in_words(name)) for name in (*TRANSITIONS, *RECORDED_WORDS)]


class HistoryEntrySerializer(serializers.ModelSerializer):
    transition = shown_code(
        RECORDED_TRANSITIONS,
        help_text="A §4 transition; submit when the referral was made, expire_offer when Harbour expired "
        "an offer left unanswered (with a null actor), revoke_offer when the managers withdrew one, "
        "correct when the person's details were corrected.",
    )
    from_state = shown_code(ReferralState.choices, allow_blank=True, help_text="Empty for submit.")
    to_state = shown_code(ReferralState.choices)
    # Not read-only so that the schema marks them optional: a care provider is not told which first
    # responder referred the person, and sees the inputs of its own actions, the managers' and the
    # corrections since its current offer only.
    actor = ActorSerializer(
        required=False,
        allow_null=True,
        help_text="Null when Harbour itself acted; absent for a care provider when a first responder did.",
    )
    input = serializers.DictField(
        required=False,
        help_text=(
            "Absent for a care provider, except on its own actions, on the managers' since its current "
            "offer (that offer's note among them) and on corrections since then, whoever made them; absent "
            "for a first responder on a provider's progress notes and answers to offers. A correction's is "
            "its reason, the names of the fields it changed (never their values) and its note, which a "
            "care provider gets only on the managers' corrections and once it sees who the person is (not "
            "while only offered the person); when it changed emergency, also `emergency`, its new value, "
            "and where a placement clock runs, `placement_due`, its due time, moved or not (it may "
            "already be past); when it made the person no longer safe to contact directly or changed the "
            "number one had, `contact`: not_safe or phone_changed, never the number. A `found` that puts "
            "the person back in their placement has `check_in_due`, when the check-in it started is due."
        ),
    )

    class Meta:
        model = TransitionLog
        fields = ["transition", "from_state", "to_state", "actor", "at", "input"]
        read_only_fields = fields

    def to_representation(self, instance: TransitionLog) -> dict[str, Any]:
        data = super().to_representation(instance)
        viewer = self.context["request"].user
        organisation = instance.actor.organisation if instance.actor is not None else None
        # Absent, not empty: what the caller may not see (SPEC §9).
        if not may_see_transition_input(
            viewer,
            instance.transition,
            organisation.pk if organisation else None,
            organisation.kind if organisation else None,
            from_current_offer=getattr(instance, "from_current_offer", False),
        ):
            del data["input"]
        elif instance.transition == "correct" and not may_read_correction_note(
            viewer,
            organisation.pk if organisation else None,
            organisation.kind if organisation else None,
            from_current_offer=getattr(instance, "from_current_offer", False),
            identity=self.context.get("identity", False),
        ):
            # A correction's note may say what a detail was ("Smyth, not Smith"), which only whoever
            # sees who the person is may read; a provider reads the referrer's reason and fields only.
            data["input"].pop("note", None)
        if not may_see_actor(viewer, organisation.kind if organisation else None):
            del data["actor"]
        return data


# Only managers see suggestions and every provider; a provider sees its own alone.
DUTY_PHONE_HELP = "The provider's 24-hour number for the managers to phone; empty if none is recorded."


class SuggestedProviderSerializer(serializers.Serializer):
    provider = serializers.SerializerMethodField()
    suitable = serializers.BooleanField(read_only=True, help_text="False: the reasons say why not.")
    score = serializers.FloatField(read_only=True)
    free_beds = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Free beds of the kind the person needs (accommodation), whether offered or not.",
    )
    offered_beds = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="How many other people have been offered a bed of that kind at this provider and may still "
        "take one: offers awaiting their answer (accommodation). When it reaches free_beds, the provider "
        "ranks after those with a bed not yet offered, and can take the person only if an offer is turned "
        "down.",
    )
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "duty_phone": {"type": "string", "description": DUTY_PHONE_HELP},
            },
        }
    )
    def get_provider(self, suggestion: Any) -> dict[str, Any]:
        provider = suggestion.provider
        return {"id": provider.pk, "name": provider.name, "duty_phone": provider.organisation.duty_phone}


class RefusesFields(serializers.Serializer):
    """A body some of whose fields the endpoint does not take, and refuses rather than ignores (SPEC §9
    ignores unknown fields, but not where a client would believe that what it sent was recorded): each
    named with why, beside the request's other errors, not after them."""

    def refused_fields(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        refused = self.refused_fields(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**refused, **detail}) from exc
        if refused:
            raise serializers.ValidationError(refused)
        return value


# ----------------------------------------------------------------------------------------- intake


class IntakeRules(serializers.Serializer):
    """An intake whose shared rules (``referrals.validation``, the web form's) are checked beside its
    fields' own errors, as the web form checks them: a 400 names every error of the request at once,
    not a round at a time. A rule that needs a field whose value could not be read waits for it."""

    def rule_errors(self, values: Mapping[str, Any], *, unreadable: Collection[str]) -> dict[str, list[str]]:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(data, Mapping) or not isinstance(exc.detail, dict):
                raise
            field_errors = exc.detail
            readable = self.readable_values(data, unreadable=field_errors.keys())
            rule_errors = self.rule_errors(readable, unreadable=field_errors.keys())
            # A field's own error says what to put right first; a rule's about it would guess.
            also = {field: messages for field, messages in rule_errors.items() if field not in field_errors}
            raise serializers.ValidationError({**field_errors, **also}) from exc
        errors = self.rule_errors(values, unreadable=())
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def readable_values(self, data: Mapping[str, Any], *, unreadable: Collection[str]) -> dict[str, Any]:
        """The values of the fields that were read, as ``to_internal_value`` would give them."""
        values: dict[str, Any] = {}
        for field in self._writable_fields:
            if field.field_name in unreadable:
                continue
            try:
                self.set_value(values, field.source_attrs, field.run_validation(field.get_value(data)))
            except SkipField:
                continue
        return values


NATIONALITY_HELP = (
    "ISO 3166-1 alpha-2 (the United Kingdom is GB), stateless or unknown, in any case: stored as ISO "
    "writes it (AL, stateless)."
)


class ReferralCreateSerializer(IntakeRules, FieldsBuiltOnce):
    """The §3 fields. Field types and lengths here; the rules and the messages in ``referrals.validation``
    (shared with the web form)."""

    consent = serializers.BooleanField(default=False, help_text="Must be true for an adult.")
    given_name = TextField(max_length=NAME_MAX_LENGTH, error_messages=error_messages("given_name"))
    family_name = TextField(max_length=NAME_MAX_LENGTH, error_messages=error_messages("family_name"))
    aliases = optional_text("aliases", ALIASES_MAX_LENGTH)
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, default=None, error_messages=error_messages("date_of_birth")
    )
    age_estimate = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=AGE_MAX,
        error_messages=error_messages("age_estimate"),
        help_text=(
            "Required when the date of birth is not known. With a date of birth, it must agree on whether the "
            "person is under 18, unless `age_in_doubt` is true: the person is then treated as a child."
        ),
    )
    age_in_doubt = serializers.BooleanField(default=False)
    gender = CodeField(choices=Gender.choices, error_messages=error_messages("gender"))
    nationality = NationalityCode(
        max_length=CODE_MAX_LENGTH,
        help_text=NATIONALITY_HELP,
        error_messages=error_messages("nationality"),
    )
    second_nationality = optional_text(
        "second_nationality", CODE_MAX_LENGTH, field_class=NationalityCode, help_text=NATIONALITY_HELP
    )
    languages = code_list(
        "languages",
        max_length=CODE_MAX_LENGTH,
        help_text=(
            f"ISO 639-1 codes, in any case (stored in lowercase); at least one, at most {LANGUAGES_MAX}; "
            "repeats are dropped."
        ),
        field_class=LanguageCodes,
        code_class=LanguageCode,
    )
    interpreter_needed = serializers.BooleanField(default=False)
    exploitation_types = code_list(
        "exploitation_types", max_length=30, help_text="At least one; repeats are dropped."
    )
    exploitation_location = CodeField(
        choices=ExploitationLocation.choices, error_messages=error_messages("exploitation_location")
    )
    region = CodeField(
        choices=Region.choices,
        error_messages=error_messages("region"),
        help_text="Where the person is now (SPEC §3); providers are suggested and offered among those serving it.",
    )
    needs_accommodation = serializers.BooleanField(default=False)
    emergency = serializers.BooleanField(
        default=False, help_text="Needs accommodation today; only with needs_accommodation."
    )
    needs_medical = serializers.BooleanField(default=False)
    has_dependants = serializers.BooleanField(default=False)
    safe_to_contact = serializers.BooleanField(default=False)
    contact_phone = optional_text("contact_phone", PHONE_MAX_LENGTH)
    local_authority = optional_text(
        "local_authority",
        LOCAL_AUTHORITY_MAX_LENGTH,
        help_text=(
            "Required for a child (is_child: under 18 by the date of birth or the estimate, or age_in_doubt): "
            "the local authority whose children's services you told, as a child is referred to them first. "
            "Refused for an adult."
        ),
    )
    local_authority_contact = optional_text(
        "local_authority_contact",
        LOCAL_AUTHORITY_CONTACT_MAX_LENGTH,
        help_text=(
            "For a child, optional: whom in those children's services to reach (a social worker's name, "
            "phone or email). Refused for an adult."
        ),
    )
    account = TextField(
        required=False, allow_blank=True, default="", trim_whitespace=False, validators=[ACCOUNT_LENGTH]
    )
    responder_reference = optional_text("responder_reference", REFERENCE_MAX_LENGTH)
    crime_reference = optional_text("crime_reference", REFERENCE_MAX_LENGTH)

    def rule_errors(self, values: Mapping[str, Any], *, unreadable: Collection[str]) -> dict[str, list[str]]:
        return referral_errors(values, unreadable=unreadable, api=True)


class ReferralOutcomeSerializer(serializers.Serializer):
    """What a care provider is answered once its own action has ended its sight of the case (a
    rejected offer, a reallocation), or when it repeats such an action's ``Idempotency-Key``."""

    id = serializers.IntegerField(read_only=True)
    reference = serializers.CharField(read_only=True)
    state = shown_code(ReferralState.choices)


def intake_field(name: str) -> serializers.Field:
    """A copy of the intake's own field: asked for the same fact, an endpoint checks it the same way."""
    return copy.deepcopy(ReferralCreateSerializer._declared_fields[name])


class PossibleDuplicatesQuery(serializers.Serializer):
    """What SPEC §3 matches a person on: the same name, and the same date of birth or nationality."""

    given_name = intake_field("given_name")
    family_name = intake_field("family_name")
    date_of_birth = intake_field("date_of_birth")
    nationality = intake_field("nationality")

    def validate_nationality(self, value: str) -> str:
        errors = nationality_errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class PossibleDuplicateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Referral
        fields = ["id", "reference", "state", "submitted_at"]


def anonymous_refusal(name: str, sent: Collection[str]) -> str:
    """Why an anonymous notification refuses a field: an age, or the personal details it never holds
    (what it says of given_name, for any other name too); or, for one of the fields it is ``sent``
    written otherwise (Gender), the name to send it as."""
    words = as_snake_case(name)
    if words in sent:
        return f"An anonymous notification has no field “{as_typed(name)}”: send it as {words}."
    return ANONYMOUS_REFUSED_FIELDS.get(words, ANONYMOUS_PERSONAL_FIELD_MESSAGE)


def as_snake_case(name: str) -> str:
    """ "given_name" for Given_Name, givenName, given-name or "Given Name": the words of a field's name."""
    return re.sub(r"[\s-]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())).casefold()


class AnonymousNotificationSerializer(RefusesFields, IntakeRules, serializers.ModelSerializer):
    """A duty-to-notify report (SPEC §3). Any field but its own is refused, not ignored: whatever a
    client calls a name, a free-text note or an age, none is dropped while the client believes it was
    recorded."""

    gender = CodeField(choices=Gender.choices, error_messages=error_messages("gender", anonymous=True))
    nationality = NationalityCode(
        max_length=CODE_MAX_LENGTH,
        help_text=NATIONALITY_HELP,
        error_messages=error_messages("nationality", anonymous=True),
    )
    exploitation_types = code_list(
        "exploitation_types", max_length=30, help_text="At least one; repeats are dropped.", anonymous=True
    )
    region = CodeField(choices=Region.choices, error_messages=error_messages("region", anonymous=True))
    organisation = serializers.IntegerField(source="organisation_id", read_only=True)

    class Meta:
        model = AnonymousNotification
        fields = [
            "id",
            "gender",
            "nationality",
            "exploitation_types",
            "region",
            "organisation",
            "submitted_at",
        ]
        read_only_fields = ["id", "organisation", "submitted_at"]

    def refused_fields(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        # Its own read-only fields (id, organisation, submitted_at) are ignored, as a create ignores
        # them everywhere in the API.
        own = self.fields
        sent = [name for name, field in own.items() if not field.read_only]
        return {as_typed(name): [anonymous_refusal(name, sent)] for name in data if name not in own}

    def rule_errors(self, values: Mapping[str, Any], *, unreadable: Collection[str]) -> dict[str, list[str]]:
        return anonymous_notification_errors(values)


# ------------------------------------------------------------------------------- transition inputs


# The assessment's note once had a name of its own, notes; a client still sending it is heard.
NOTE_SENT_TWICE_MESSAGE = (
    "notes is the old name of note: send the assessment's note once, as note. The two sent here differ."
)


@extend_schema_serializer(deprecate_fields=["notes"])
class AssessInput(serializers.Serializer):
    risk = CodeField(choices=Risk.choices)
    route = CodeField(choices=Route.choices)
    note = _note(
        help_text="The assessment's note, as every transition takes its note; the history gives it as notes."
    )
    notes = _note(
        help_text="Deprecated: the old name of note, still taken. Send note: both, with different text, are a 400."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The note under either name, as the service records it (``notes``)."""
        note, notes = attrs.pop("note", ""), attrs.pop("notes", "")
        if note.strip() and notes.strip() and note.strip() != notes.strip():
            raise serializers.ValidationError({"notes": [NOTE_SENT_TWICE_MESSAGE]})
        return {**attrs, "notes": note if note.strip() else notes}


class ReassessInput(AssessInput):
    """A new risk and route for a person waiting for a placement, as when their needs changed: the
    assessment's own fields, both sent. A 400 says "Nothing changed" if neither differs from the case's.
    Suggested providers and offers follow the new route."""


class DeclineInput(serializers.Serializer):
    reason = CodeField(choices=DeclineReason.choices)
    note = _note()


class WithdrawInput(serializers.Serializer):
    reason = CodeField(
        choices=WithdrawReason.choices,
        help_text="consent_withdrawn is refused for a child (is_child): a child's referral needs no consent.",
    )
    note = _note()


class OfferInput(serializers.Serializer):
    provider = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The care provider's id.")
    note = _note(help_text=OFFER_NOTE_HELP)


class RejectInput(serializers.Serializer):
    reason = CodeField(choices=RejectReason.choices)
    note = _note()


class RevokeOfferInput(serializers.Serializer):
    reason = CodeField(
        choices=RevokeOfferReason.choices,
        help_text="provider_unsuitable when the provider cannot take the person (a correction made them a "
        "child, or moved them to a region it does not serve); no_answer when it does not answer and the "
        "person cannot wait.",
    )
    note = _note(help_text=REVOKE_NOTE_HELP)
    offer = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The id of the offer you mean (the referral's pending_offer.id). If it is no longer the pending "
        "one (it was answered and another offer made since), the answer is a 409 and nothing is withdrawn; "
        "without it, whichever offer is pending is withdrawn.",
    )

    def validate_offer(self, value: int | None) -> int | None:
        if value is not None and not self.context["referral"].offers.filter(pk=value).exists():
            raise serializers.ValidationError("This is not an offer of this referral.")
        return value


def _offset(moment: datetime.datetime) -> str:
    """ "+01:00": how far ``moment``'s clock is ahead of UTC."""
    return moment.isoformat()[-6:]


LOCAL_TIME_HELP = (
    "Without an offset from UTC it is UK time; a time in the hour the clocks go back happens twice and "
    "needs its offset, or it is a 400."
)


class LocalDateTimeField(serializers.DateTimeField):
    """A date and time, read as UK time when it gives no offset from UTC, except in the hour the clocks
    go back, which happens twice (``local_time``): there it names two moments an hour apart, and which
    one was meant matters (a person last seen an hour later or earlier), so it is a 400 asking for the
    offset. The web form works out which was meant from what else it knows (``forms.allowed_reading``);
    a program can say."""

    default_error_messages = {
        "repeated": (
            "{time} happened twice, as the clocks went back that night: add its offset from UTC, "
            "{first} for the first ({first_zone}) or {second} for the second ({second_zone})."
        )
    }

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            first = value.replace(tzinfo=timezone.get_current_timezone(), fold=0)
            if happens_twice(first):
                second = first.replace(fold=1)
                self.fail(
                    "repeated",
                    time=value.isoformat(),
                    first=_offset(first),
                    first_zone=first.tzname(),
                    second=_offset(second),
                    second_zone=second.tzname(),
                )
        return super().enforce_timezone(value)


class RecordProgressInput(serializers.Serializer):
    note = TextField(
        validators=[NOTE_LENGTH],
        trim_whitespace=False,
        error_messages={"required": PROGRESS_NOTE_REQUIRED_MESSAGE, "blank": PROGRESS_NOTE_REQUIRED_MESSAGE},
    )
    next_check_in = _next_check_in("Restarts the check-in clock to this day.")
    seen_at = LocalDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "When the provider last saw the person in person: not in the future, nor before the placement "
            "began. If they are reported missing later, last_seen_at cannot be before the seen_at of the "
            "placement's latest progress note that gives one, so a later note with the right time corrects "
            f"a wrong one. {LOCAL_TIME_HELP}"
        ),
    )
    recovery_review = serializers.BooleanField(
        default=False,
        help_text=(
            "This note is the recovery review (day 30): it stops the recovery-review clock. Refused "
            "before the review's reminder is due."
        ),
    )

    def validate_note(self, value: str) -> str:
        # Kept as typed, but not blank: the web form refuses spaces alone, and so does the API.
        if not value.strip():
            raise serializers.ValidationError(PROGRESS_NOTE_REQUIRED_MESSAGE)
        return value

    def validate_seen_at(self, value: datetime.datetime | None) -> datetime.datetime | None:
        if errors := seen_in_person_errors(self.context["referral"], value):
            raise serializers.ValidationError(errors)
        return value


class ReportMissingInput(serializers.Serializer):
    last_seen_at = LocalDateTimeField(
        help_text=(
            "Not in the future, nor before the placement began, the person was last recorded as found, or "
            "the seen_at of the placement's latest progress note that gives one (a later note corrects a "
            f"wrong seen_at). {LOCAL_TIME_HELP}"
        )
    )
    note = _note()

    def validate_last_seen_at(self, value: datetime.datetime) -> datetime.datetime:
        if errors := last_seen_errors(self.context["referral"], value):
            raise serializers.ValidationError(errors)
        return value


class FoundInput(serializers.Serializer):
    note = _note()
    next_check_in = _next_check_in(
        "The day the check-in is due, as for a progress note. Without it, the check-in due before the "
        "person went missing stands while it is still ahead and sooner than the usual interval from now; "
        "else the usual interval runs from now. Refused for a person reallocated while missing, who has "
        "no placement to go back to. The history's found entry gives the due time as `check_in_due`."
    )


class ReallocateInput(serializers.Serializer):
    reason = CodeField(choices=ReallocateReason.choices)
    note = _note()


class RecoverInput(serializers.Serializer):
    outcome = CodeField(choices=RecoveryOutcome.choices)
    note = _note()


class ExitInput(serializers.Serializer):
    reason = CodeField(choices=ExitReason.choices)
    note = _note()


# Where a correction's rule differs from the intake's.
CORRECTION_HELP = {
    "consent": (
        "Set true when an adult referred as a child without consent gives it. An adult's consent is not "
        "set to false by a correction (400): withdraw the referral with reason consent_withdrawn, or once "
        "they are placed record their exit."
    ),
    "local_authority": (
        "Required of a correction that makes the person a child: the local authority whose children's "
        "services were told. One recorded stays if an age assessment finds the person an adult; none can be "
        "added to an adult's case."
    ),
    "local_authority_contact": (
        "Whom in those children's services to reach. One recorded stays if an age assessment finds the "
        "person an adult; none can be added to an adult's case."
    ),
}


def correctable_field(name: str) -> serializers.Field:
    """The intake's own field (``intake_field``), optional and without a default: a correction changes
    only what it sends."""
    field = intake_field(name)
    field.required = False
    field.default = serializers.empty
    field.help_text = CORRECTION_HELP.get(name, field.help_text)
    return field


def not_correctable_message(field: str, *, to_a_manager: bool) -> str:
    """Why a detail is refused, and (but to the managers themselves) whom to tell what is new, as the
    intake form says: no endpoint adds to the referral as it was made."""
    message = f"{field} cannot be changed by a correction: it is part of the referral as it was made."
    if to_a_manager:
        return message
    phone = settings.MANAGERS_DUTY_PHONE
    return f"{message} Phone the managers on {phone} with what is new, quoting the referral's reference."


def is_held(referral: Referral, field: str, sent: Any) -> bool:
    """Whether a detail is sent as the case holds it, as by a client sending back the referral it read:
    leaving it as it is loses nothing."""
    held = getattr(referral, field)
    if isinstance(held, list):
        return (
            isinstance(sent, list) and all(isinstance(code, str) for code in sent) and set(sent) == set(held)
        )
    if sent is None:
        return not held
    return isinstance(sent, str) and sent.strip() == (held or "").strip()


class CorrectInput(RefusesFields, IntakeRules, serializers.Serializer):
    """A correction of the person's details: any of the correctable fields, each checked as the intake
    checks it, and the intake's rules on the case as it will be once corrected. The referral as it was
    made (account, exploitation_types, exploitation_location, responder_reference, crime_reference)
    cannot be corrected: a value other than the case's is a 400 on the field, not dropped."""

    reason = CodeField(choices=CorrectionReason.choices)
    note = _note(validators=[CORRECTION_NOTE_LENGTH])

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**{name: correctable_field(name) for name in CORRECTABLE_FIELDS}, **super().get_fields()}

    def refused_fields(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        referral, actor = self.context["referral"], self.context.get("actor")
        to_a_manager = bool(actor and actor.is_manager)
        return {
            field: [not_correctable_message(field, to_a_manager=to_a_manager)]
            for field in NOT_CORRECTABLE
            if field in data and not is_held(referral, field, data[field])
        }

    def rule_errors(self, values: Mapping[str, Any], *, unreadable: Collection[str]) -> dict[str, list[str]]:
        return correction_errors(self.context["referral"], values, unreadable=unreadable, api=True)


class ReferenceFilterField(serializers.CharField):
    """``?reference=``: sent empty, a 400 (DRF would take an empty query parameter for one left out, and
    list every case to a receiver that filled in an event's missing reference)."""

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        name = self.field_name
        if name is not None and name in dictionary:
            return dictionary[name]
        return super().get_value(dictionary)


class ReferralFilterSerializer(serializers.Serializer):
    state = CodeField(
        choices=Referral._meta.get_field("state").choices,
        required=False,
        help_text=(
            "The cases in this state as the web's case list has it: missing also lists people reallocated "
            "while missing and not found since (their state says assessed, and missing_since is set), and "
            "assessed leaves them out."
        ),
    )
    region = CodeField(choices=Region.choices, required=False)
    reference = ReferenceFilterField(
        required=False,
        max_length=CASE_REFERENCE_MAX_LENGTH,
        help_text=(
            "The case with this reference, as a webhook or an inbox item names it (HBR-2026-004217; "
            "typed as read out, 2026-4217 or hbr 2026 4217, finds it too): at most one case, none if "
            "you may not see it. An empty one is a 400."
        ),
    )


def refuse_repeated_filters(query: QueryDict, filters: Container[str]) -> None:
    """A 400 for a filter given twice (``?region=london&region=wales``): the query's last value would
    be used alone, the others silently dropped."""
    repeated = {
        name: [f"Filter by one {name} at a time."]
        for name in query
        if name in filters and len(query.getlist(name)) > 1
    }
    if repeated:
        raise serializers.ValidationError(repeated)
