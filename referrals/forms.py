"""Web forms of the referral workflow: intake, anonymous notification and every §4 transition.

The §3 rules live in ``referrals.validation`` and are shared with the API; these forms only turn posted
text into typed values and hand them to the services.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.forms.renderers import BaseRenderer
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .choices import (
    COMMON_LANGUAGES,
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
    language_choices,
    nationality_choices,
)
from .deadlines import check_in_after_found
from .local_time import MOMENT_NEAR, happens_twice, local_time
from .models import CASE_REFERENCE_MAX_LENGTH, Referral
from .phone_numbers import PHONE_MAX_LENGTH
from .validation import (
    ACCOUNT_LENGTH,
    ALIASES_MAX_LENGTH,
    ASSESSMENT_NOTES_HELP,
    CORRECTABLE_FIELDS,
    CORRECTION_NOTE_LENGTH,
    LOCAL_AUTHORITY_CONTACT_MAX_LENGTH,
    LOCAL_AUTHORITY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    NOTE_LENGTH,
    OFFER_NOTE_HELP,
    PERSONAL_FIELDS,
    PROGRESS_NOTE_REQUIRED_MESSAGE,
    REFERENCE_MAX_LENGTH,
    REFERRAL_FIELDS,
    REVOKE_NOTE_HELP,
    as_stored,
    correction_errors,
    error_messages,
    language_code,
    last_seen_errors,
    nationality_code,
    nationality_errors,
    referral_errors,
    seen_in_person_errors,
    seen_in_person_words,
    validate_next_check_in,
)
from .wording import emergency_hint

if TYPE_CHECKING:
    from care_providers.models import PlacementOffer


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class LocalDateTimeField(forms.DateTimeField):
    """A date and time read on the local clock, on the nights the clocks change too.

    Django's field refuses a time in the hour repeated in October or skipped in March, so a true time
    could not be entered. Here a repeated time is its first occurrence (summer time: a person reported
    missing counts as gone the longer), unless a form takes the second where only that is allowed
    (``allowed_reading``), and a skipped time moves on by the gap (01:30 reads as 02:30 BST).
    """

    widget = DateTimeInput
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]

    def to_python(self, value: Any) -> datetime.datetime | None:
        if isinstance(value, str):
            value = self._parse(value.strip())
        elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            value = datetime.datetime.combine(value, datetime.time())
        if isinstance(value, datetime.datetime) and timezone.is_naive(value):
            value = on_local_clock(value)
        # Given an aware time, Django's field only checks it: no refusal is left to make.
        return super().to_python(value)

    def _parse(self, text: str) -> datetime.datetime | None:
        if not text:
            return None
        try:
            parsed = parse_datetime(text)
        except ValueError:  # well formed but not a real time, such as 25:00
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        # Not ISO 8601: the input formats, read by the temporal base without a time zone.
        return parsed or super(forms.DateTimeField, self).to_python(text)


def on_local_clock(naive: datetime.datetime) -> datetime.datetime:
    """The moment a local clock showed ``naive``; see ``LocalDateTimeField`` for the change nights."""
    zone = timezone.get_current_timezone()
    # fold=0 (PEP 495) picks the first of a repeated time, and reads a skipped time with the offset from
    # before the gap, which is the gap's length later; the round trip through UTC shows it as such.
    return naive.replace(tzinfo=zone, fold=0).astimezone(datetime.UTC).astimezone(zone)


def allowed_reading(
    moment: datetime.datetime, errors_of: Callable[[datetime.datetime], list[str]]
) -> datetime.datetime:
    """``moment`` as ``LocalDateTimeField`` read it, refused with the errors ``errors_of`` finds in it.
    A time in the hour the clocks go back is read as its first occurrence (BST); where that is refused
    and the second (GMT) is not, the second is meant: a person seen in person at 01:30 GMT and last seen
    at "01:45" was last seen at 01:45 GMT, not at 01:45 BST, before the sighting."""
    errors = errors_of(moment)
    if errors and happens_twice(moment):
        second = moment.replace(fold=1)
        if not errors_of(second):
            return second
    if errors:
        raise forms.ValidationError(errors)
    return moment


class LanguagePicker(forms.SelectMultiple):
    """The common languages as checkboxes, then a few lists of every other language, all under one name.

    A ticked box and a language chosen in a list post alike, as ``name=code``, so ``SelectMultiple``'s
    ``value_from_datadict`` (``getlist``) gathers them all into the one field's value, in the page's
    order, less the lists left at "None"; and a value ticks or selects itself in whichever control
    offers it. The others are single-choice lists rather than one multiple-choice list: typing a
    language's name in a multiple-choice list chooses it alone and drops the earlier choices, which
    keyboard users cannot see happen. Drawn in a fieldset whose legend is the field's label
    (``use_fieldset``); each list has a label of its own, and the lists share a hint.
    """

    use_fieldset = True
    other_lists = 3
    other_hint = "For a language not listed above, choose it here: one language in each list."

    def __init__(self, common: Collection[str], attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs)
        self.common = common

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        if value is None or isinstance(value, str):  # a plain dict's value, as given
            return value
        return [code for code in value if code]

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        # The attributes the form adds (id, aria-invalid, disabled) go on every control.
        shared = dict(attrs or {})
        box_id = shared.pop("id", None) or f"id_{name}"
        hint_id = f"{box_id}_other_helptext"
        common = [(code, label) for code, label in self.choices if code in self.common]
        others = [(code, label) for code, label in self.choices if code not in self.common]
        other_codes = {code for code, _label in others}
        chosen = [code for code in (value or []) if code in other_codes]
        checkboxes = forms.CheckboxSelectMultiple(choices=common).render(
            name, value, {**shared, "id": box_id}, renderer
        )
        lists = [
            format_html(
                '<label for="{}_other_{}">Other language {}</label>\n{}',
                box_id,
                number,
                number,
                forms.Select(choices=[("", "None"), *others]).render(
                    name,
                    chosen[number - 1] if number <= len(chosen) else "",
                    {**shared, "id": f"{box_id}_other_{number}", "aria-describedby": hint_id},
                    renderer,
                ),
            )
            for number in range(1, max(self.other_lists, len(chosen)) + 1)
        ]
        return format_html(
            '<div class="language-picker">\n<div class="language-picker-common">{}</div>\n'
            '<div class="language-picker-other">\n<p class="hint" id="{}">{}</p>\n{}\n</div>\n</div>',
            checkboxes,
            hint_id,
            self.other_hint,
            format_html_join("\n", "{}", ((item,) for item in lists)),
        )


def _blank_first(choices: list[tuple[str, str]], prompt: str) -> list[tuple[str, str]]:
    return [("", prompt), *choices]


def _choices(form: forms.Form, name: str, choices: list[tuple[Any, str]]) -> None:
    cast(forms.ChoiceField, form.fields[name]).choices = choices


class NationalityChoiceField(forms.ChoiceField):
    """A nationality from the list, read in any case as the API reads it ("al" as AL), and a code not
    on it refused in the API's words ("UK": the United Kingdom is GB)."""

    def to_python(self, value: Any) -> str:
        return nationality_code(super().to_python(value))

    def validate(self, value: Any) -> None:
        if value and (errors := nationality_errors(value)):
            raise forms.ValidationError(errors, code="invalid_choice")
        super().validate(value)


class LanguageChoiceField(forms.MultipleChoiceField):
    """Languages from the list, read in any case as the API reads them ("SQ" as sq)."""

    def to_python(self, value: Any) -> list[str]:
        return [language_code(code) for code in super().to_python(value)]


class MultilineTextField(forms.CharField):
    """Text typed into a textarea, each line break kept as one "\n", as the API has it: a browser sends
    every line break as "\r\n", which would count twice against the text's length limit."""

    def to_python(self, value: Any) -> str:
        return cast(str, super().to_python(value)).replace("\r\n", "\n").replace("\r", "\n")


def note_field(
    label: str, *, required_message: str = "", rows: int = 3, help_text: str = ""
) -> forms.CharField:
    """A note given with a transition: optional unless ``required_message`` says what to write."""
    return MultilineTextField(
        required=bool(required_message),
        validators=[NOTE_LENGTH],
        label=label,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={"required": required_message},
    )


def _required(message: str) -> dict[str, str]:
    return {"required": message}


class HarbourForm(forms.Form):
    """A form whose errors the page summarises at the top, each linked to its field.

    Browser validation is off (``use_required_attribute``) so every error is reported the same way,
    by the server, in the summary, with or without JavaScript. For the same reason no input carries a
    ``maxlength``: a browser silently cuts a longer paste short, where the server says what to shorten.
    """

    use_required_attribute = False
    # What to do before filling the form in, shown above its fields; none unless a form says.
    lead = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)

    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor id, message) for every error, in the order of the fields."""
        summary = [("", str(message)) for message in self.non_field_errors()]
        for name in self.fields:
            bound = self[name]
            if not bound.errors:
                continue
            anchor = bound.auto_id
            if bound.use_fieldset:
                # A group drawn as a fieldset (radios, checkboxes, the language picker) is reached at
                # its first input, which the link then focuses.
                anchor = f"{bound.auto_id}_0"
            elif bound.is_hidden:  # nothing on the page to go to
                anchor = ""
            summary.extend((anchor, str(message)) for message in bound.errors)
        return summary


class ReferralForm(HarbourForm):
    """Every §3 field of a referral, in the order a responder gathers them."""

    consent = forms.BooleanField(
        required=False,
        label="The person consents to being referred",
        help_text=(
            "Needed for an adult. A child (or a person whose age is in doubt) is referred without consent."
        ),
    )
    given_name = forms.CharField(
        max_length=NAME_MAX_LENGTH, label="Given name", error_messages=error_messages("given_name")
    )
    family_name = forms.CharField(
        max_length=NAME_MAX_LENGTH, label="Family name", error_messages=error_messages("family_name")
    )
    aliases = forms.CharField(
        max_length=ALIASES_MAX_LENGTH,
        required=False,
        label="Other names (optional)",
        help_text="Names the person was known by during exploitation.",
        error_messages=error_messages("aliases"),
    )
    date_of_birth = forms.DateField(
        required=False,
        label="Date of birth",
        widget=DateInput(),
        # A date input takes a whole date or nothing: a browser sends a year alone as an empty field.
        help_text=(
            "Leave empty if not known, or if only the year or an approximate age is known: give an age "
            "estimate instead, and if the person may be under 18, tick “may be under 18” below."
        ),
        error_messages=error_messages("date_of_birth"),
    )
    age_estimate = forms.IntegerField(
        required=False,
        label="Age estimate, in years",
        help_text=(
            "If the date of birth is not known, or the person looks younger than it says. If one of the two "
            "is under 18 and the other is not, tick “may be under 18” below: the person is treated as a child."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages=error_messages("age_estimate"),
    )
    age_in_doubt = forms.BooleanField(
        required=False,
        label="The person may be under 18, whatever their stated age",
        help_text="A person whose age is in doubt is treated as a child.",
    )
    gender = forms.ChoiceField(
        choices=Gender.choices,
        widget=forms.RadioSelect,
        label="Gender",
        error_messages=error_messages("gender"),
    )
    local_authority = forms.CharField(
        max_length=LOCAL_AUTHORITY_MAX_LENGTH,
        required=False,
        label="Local authority whose children's services were told",
        help_text=(
            "Only for a child or a person who may be under 18: the council whose children's services you "
            "referred them to first, such as Kent County Council. Leave empty for an adult."
        ),
        error_messages=error_messages("local_authority"),
        # Where a child is, nearly: blanked at retention like the personal fields, and a shared station
        # computer's browser does not offer it to the next responder either.
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    local_authority_contact = forms.CharField(
        max_length=LOCAL_AUTHORITY_CONTACT_MAX_LENGTH,
        required=False,
        label="Children's services contact (optional)",
        help_text=(
            "Who there knows of the child, and how to reach them: a social worker's name, phone or email, "
            "or the duty team's number."
        ),
        error_messages=error_messages("local_authority_contact"),
    )
    nationality = NationalityChoiceField(
        choices=(), label="Nationality", error_messages=error_messages("nationality")
    )
    second_nationality = NationalityChoiceField(
        choices=(), required=False, label="Second nationality (optional)"
    )
    languages = LanguageChoiceField(
        choices=(),
        label="Languages the person speaks",
        help_text=(
            "Tick every language the person speaks. If a language is not listed, choose it from "
            "an Other language list."
        ),
        widget=LanguagePicker(common=COMMON_LANGUAGES),
        error_messages=error_messages("languages"),
    )
    interpreter_needed = forms.BooleanField(required=False, label="An interpreter is needed")
    exploitation_types = forms.MultipleChoiceField(
        choices=ExploitationType.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Types of exploitation",
        help_text="Choose every type that applies.",
        error_messages=error_messages("exploitation_types"),
    )
    exploitation_location = forms.ChoiceField(
        choices=ExploitationLocation.choices,
        widget=forms.RadioSelect,
        label="Where the exploitation happened",
        error_messages=error_messages("exploitation_location"),
    )
    region = forms.ChoiceField(
        choices=_blank_first(Region.choices, "Choose a region"),
        label="Region where the person is now",
        error_messages=error_messages("region"),
    )
    needs_accommodation = forms.BooleanField(required=False, label="Needs a safe place to stay")
    emergency = forms.BooleanField(
        required=False,
        label="Emergency: needs accommodation today",
        # The intake says when the placement is due and whom to phone (``ReferralForm.__init__``); the
        # correction form, which copies this field, says when in the outcome of the correction.
        help_text="Tick 'Needs a safe place to stay' too.",
    )
    needs_medical = forms.BooleanField(required=False, label="Needs medical care")
    has_dependants = forms.BooleanField(required=False, label="Has dependants with them")
    safe_to_contact = forms.BooleanField(
        required=False, label="It is safe for the care provider to phone the person directly"
    )
    contact_phone = forms.CharField(
        max_length=PHONE_MAX_LENGTH,
        required=False,
        label="Contact phone (optional)",
        help_text="Only if it is safe to contact the person.",
        widget=forms.TextInput(attrs={"type": "tel"}),
        error_messages=error_messages("contact_phone"),
    )
    account = MultilineTextField(
        required=False,
        validators=[ACCOUNT_LENGTH],
        label="Your account",
        help_text="What happened and the indicators of trafficking you saw. At most 15,000 characters.",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    responder_reference = forms.CharField(
        max_length=REFERENCE_MAX_LENGTH,
        required=False,
        label="Your reference (optional)",
        error_messages=error_messages("responder_reference"),
    )
    crime_reference = forms.CharField(
        max_length=REFERENCE_MAX_LENGTH,
        required=False,
        label="Crime reference (optional)",
        error_messages=error_messages("crime_reference"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "nationality", _blank_first(nationality_choices(), "Choose a nationality"))
        _choices(self, "second_nationality", _blank_first(nationality_choices(), "None"))
        _choices(self, "languages", language_choices())
        # Set here, as the deadlines it gives are configured (settings) and may change in a test.
        emergency = self.fields["emergency"]
        emergency.help_text = format_html("{} {}", emergency_hint(), emergency.help_text)
        # Station computers are shared: a browser must not remember a person's details and offer them
        # to whoever fills in the next referral there. It keeps no text area's (the account), and
        # "off" also stops it restoring a field on Back: only the one-line fields get it.
        for name in PERSONAL_FIELDS:
            if name in self.fields and not isinstance(self.fields[name].widget, forms.Textarea):
                self.fields[name].widget.attrs["autocomplete"] = "off"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field, messages in referral_errors(cleaned, unreadable=self.errors.keys()).items():
            if field in self.errors:
                continue
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return cleaned

    def referral_fields(self) -> dict[str, Any]:
        """The cleaned values as ``submit_referral`` takes them."""
        return {name: as_stored(name, self.cleaned_data.get(name)) for name in REFERRAL_FIELDS}


class AnonymousNotificationForm(HarbourForm):
    """Duty to notify (SPEC §3): an adult who does not consent. No name, no date of birth, no contact.

    The responder confirms first that the person is an adult: a child, or anyone who may be under 18,
    is referred without consent, never notified (DOMAIN.md §2.2).
    """

    adult = forms.BooleanField(
        label="The person is 18 or over and their age is not in doubt",
        error_messages=_required(
            "Confirm that the person is 18 or over and their age is not in doubt. If they may be under 18, "
            "make a referral instead."
        ),
    )
    gender = forms.ChoiceField(
        choices=Gender.choices,
        widget=forms.RadioSelect,
        label="Gender",
        error_messages=error_messages("gender", anonymous=True),
    )
    nationality = NationalityChoiceField(
        choices=(),
        label="Nationality",
        error_messages=error_messages("nationality", anonymous=True),
    )
    exploitation_types = forms.MultipleChoiceField(
        choices=ExploitationType.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Types of exploitation",
        help_text="Choose every type that applies.",
        error_messages=error_messages("exploitation_types", anonymous=True),
    )
    region = forms.ChoiceField(
        choices=_blank_first(Region.choices, "Choose a region"),
        label="Region where the person was met",
        error_messages=error_messages("region", anonymous=True),
    )
    # The draft of the referral the notification was started from, and the version carried: deleted once
    # the notification is sent (``views.anonymous_notification``). Fields of the form, so that they are
    # kept with what was typed if the session ends before it is sent.
    draft = forms.CharField(required=False, widget=forms.HiddenInput)
    draft_version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "nationality", _blank_first(nationality_choices(), "Choose a nationality"))
        self.fields["adult"].help_text = format_html(
            "A child, or anyone whose age is in doubt, must be referred instead (no consent is needed): "
            '<a href="{}">make a referral</a>.',
            reverse("referrals:intake"),
        )

    def notification_fields(self) -> dict[str, Any]:
        """The cleaned values as ``submit_anonymous_notification`` takes them: all but the confirmation
        and the draft."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("adult", "draft", "draft_version")
        }


class DayField(forms.DateField):
    """A day in a date box, which shows a value only as yyyy-mm-dd. A day the form reads in another way
    (30/11/2026, from a link a colleague sent) is shown again as the day it read, so that the box shows
    what the page is filtered by and applying the filters again keeps it; one it cannot read is shown
    as typed, beside its error."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return self.to_python(data)
        except forms.ValidationError:
            return data


def case_reference_filter() -> forms.CharField:
    """A list's filter by case reference (the case lists, the audit trail)."""
    return forms.CharField(
        required=False,
        max_length=CASE_REFERENCE_MAX_LENGTH,
        label="Case reference",
        help_text="For example HBR-2026-004217, or 2026-4217.",
        error_messages={
            "max_length": (
                f"Enter a case reference of at most {CASE_REFERENCE_MAX_LENGTH} characters, "
                "like HBR-2026-004217."
            )
        },
    )


class CaseFilterForm(HarbourForm):
    """Filters of a case list. Region is offered only to managers."""

    reference = case_reference_filter()
    state = forms.ChoiceField(choices=_blank_first(ReferralState.choices, "Any state"), required=False)
    region = forms.ChoiceField(choices=_blank_first(Region.choices, "Any region"), required=False)
    overdue = forms.BooleanField(required=False, label="Overdue only")

    def __init__(self, *args: Any, with_region: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_region:
            del self.fields["region"]


# ------------------------------------------------------------------------------------- transitions


class AssessForm(HarbourForm):
    risk = forms.ChoiceField(
        choices=Risk.choices,
        widget=forms.RadioSelect,
        label="Risk",
        error_messages=_required("Choose the risk."),
    )
    route = forms.ChoiceField(
        choices=Route.choices,
        widget=forms.RadioSelect,
        label="Route",
        error_messages=_required("Choose the support route."),
    )
    notes = note_field("Notes (optional)", help_text=ASSESSMENT_NOTES_HELP)


class ReassessForm(AssessForm):
    """A new assessment of a person waiting for a placement: the assessment's own fields, filled in with
    the case's risk and route (``referral``) to change what changed. A form only shown, never sent on,
    has no case."""

    def __init__(self, *args: Any, referral: Referral | None = None, **kwargs: Any) -> None:
        if referral is not None and not kwargs.get("initial"):
            kwargs["initial"] = {"risk": referral.risk, "route": referral.route}
        super().__init__(*args, **kwargs)


class DeclineForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(DeclineReason.choices, "Choose a reason"),
        label="Reason for declining",
        error_messages=_required("Choose why the referral is declined."),
    )
    note = note_field("Note (optional)")


class WithdrawForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(WithdrawReason.choices, "Choose a reason"),
        label="Reason for withdrawing",
        error_messages=_required("Choose why the referral is withdrawn."),
    )
    note = note_field("Note (optional)")

    def __init__(self, *args: Any, child: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if child:
            # A child needs no consent: the reason is not offered. Only the list shown loses it, so that
            # a post that sends it anyway hears why from ``services.withdraw_referral``, as the API does.
            cast(forms.Select, self.fields["reason"].widget).choices = _blank_first(
                [code for code in WithdrawReason.choices if code[0] != WithdrawReason.CONSENT_WITHDRAWN],
                "Choose a reason",
            )


class OfferForm(HarbourForm):
    provider = forms.TypedChoiceField(
        coerce=int,
        choices=(),
        label="Care provider",
        help_text="Suitable providers are listed first, best fit first.",
        error_messages=_required("Choose the care provider to offer the placement to."),
    )
    note = note_field("For the provider (optional)", help_text=OFFER_NOTE_HELP)

    def __init__(self, *args: Any, providers: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "provider", [("", "Choose a provider"), *(providers or [])])


class AcceptForm(HarbourForm):
    """Accepting an offer takes no input; the form carries only the CSRF token."""


class RejectForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(RejectReason.choices, "Choose a reason"),
        label="Reason for rejecting",
        error_messages=_required("Choose why you cannot take this person."),
    )
    note = note_field("Note (optional)")


class RevokeOfferForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(RevokeOfferReason.choices, "Choose a reason"),
        label="Reason for withdrawing the offer",
        error_messages=_required("Choose why the offer is withdrawn."),
    )
    note = note_field("Note (optional)", help_text=REVOKE_NOTE_HELP)
    # The offer the page was shown for: sent after it was answered and another made, it withdraws nothing.
    offer = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, offer: PlacementOffer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The offer withdrawn, named before anything is chosen. A form only shown, never sent on, has none.
        if offer is not None:
            self.fields["offer"].initial = offer.pk
            due = local_time(offer.response_due_at, MOMENT_NEAR)
            self.lead = f"Offered to {offer.provider.name}; answer due {due}."


def next_check_in_field(help_text: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label="Next check-in (optional)",
        help_text=help_text,
        widget=DateInput(),
        error_messages={"invalid": "Enter the next check-in as a real date."},
        validators=[validate_next_check_in],
    )


class ProgressForm(HarbourForm):
    note = note_field("Progress note", required_message=PROGRESS_NOTE_REQUIRED_MESSAGE, rows=4)
    seen_at = LocalDateTimeField(
        required=False,
        label="When did you last see them in person? (optional)",
        help_text=(
            "Leave empty if you did not see them. If they go missing, they cannot be reported as last "
            "seen before the time in the latest note that gives one: a new note with the right time "
            "corrects a wrong one."
        ),
        error_messages={"invalid": "Enter when you last saw them as a date and time."},
    )
    next_check_in = next_check_in_field("Leave empty for the usual interval.")

    recovery_review = forms.BooleanField(
        required=False,
        label="This note is the recovery review",
        help_text=(
            "The case review at day 30 of the recovery period, recorded from the reminder on. "
            "It meets the recovery-review deadline."
        ),
    )

    def __init__(
        self,
        *args: Any,
        recovery_review_waiting: bool = True,
        referral: Referral | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The case the note is on. A form only shown, never sent on, has none; the service checks the
        # same rules again.
        self.referral = referral
        # Offered only while the review is waiting. A tick sent from a page shown before the review was
        # recorded stays, to be refused on its field rather than dropped from the note unsaid.
        if not recovery_review_waiting and self.add_prefix("recovery_review") not in self.data:
            del self.fields["recovery_review"]

    def clean_seen_at(self) -> datetime.datetime | None:
        seen = self.cleaned_data.get("seen_at")
        if seen is None or (referral := self.referral) is None:
            return seen
        return allowed_reading(seen, lambda moment: seen_in_person_errors(referral, moment))


# Harbour alerts the managers and the referrer, not the police, who search for a missing person: a child,
# and an adult too, who may be trafficked again once gone from support.
MISSING_POLICE_FIRST = (
    "If the person may be in danger (someone gone missing from support may be trafficked again) and the "
    "police have not been told they are missing, call 999 first, then report them missing here."
)
CHILD_MISSING_POLICE_FIRST = (
    "If the child may be in danger and the police have not been told they are missing, call 999 first, "
    "then report them missing here."
)


class MissingForm(HarbourForm):
    last_seen_at = LocalDateTimeField(
        label="Last seen at",
        error_messages={
            "required": "Enter when the person was last seen.",
            "invalid": "Enter when the person was last seen as a date and time.",
        },
    )
    note = note_field("Note (optional)")
    lead = MISSING_POLICE_FIRST

    def __init__(self, *args: Any, referral: Referral | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The case the person is missing from. A form only shown, never sent on, has none; the service
        # checks the same rules again.
        self.referral = referral
        if referral is not None:
            if referral.is_child:
                self.lead = CHILD_MISSING_POLICE_FIRST
            # Told before typing a time the sighting would refuse, with how to put a wrong one right.
            self.fields["last_seen_at"].help_text = seen_in_person_words(referral)

    def clean_last_seen_at(self) -> datetime.datetime:
        seen: datetime.datetime = self.cleaned_data["last_seen_at"]
        if (referral := self.referral) is None:
            return seen
        return allowed_reading(seen, lambda moment: last_seen_errors(referral, moment))


def check_in_after_found_rule() -> str:
    """What an empty next check-in on marking the person found leaves it at, as a rule
    (``deadlines.check_in_after_found``): for the case page's form in place, which does not read the
    check-in set before they went missing."""
    days = settings.DEADLINE_CHECK_IN_DAYS
    usual = f"{days}\xa0day{'' if days == 1 else 's'}"
    return (
        f"Leave empty to keep the check-in set before they went missing if it is still ahead and within "
        f"the usual {usual}; otherwise it falls due {usual} from now."
    )


def check_in_after_found_words(referral: Referral) -> str:
    """What an empty next check-in on marking the person found leaves it at: the check-in set before they
    went missing, or the usual interval from now (``deadlines.check_in_after_found``)."""
    due, kept = check_in_after_found(referral)
    when = local_time(due, MOMENT_NEAR)
    if kept:
        return f"Leave empty to keep the check-in set before they went missing, due {when}."
    return f"Leave empty for the usual interval: due {when}."


class FoundForm(HarbourForm):
    note = note_field("Note (optional)")
    # Its help text is set in ``__init__``, as the interval it gives is configured (settings).
    next_check_in = next_check_in_field("")

    def __init__(
        self, *args: Any, referral: Referral | None = None, say_when_due: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["next_check_in"].help_text = check_in_after_found_rule()
        # The case the person is found on. A form only shown, never sent on, has none; the service
        # applies the same rule. ``say_when_due`` false spares the case page the read of the check-in set
        # before they went missing: its own page says when it is due.
        if referral is None:
            return
        if referral.state == ReferralState.MISSING:
            if say_when_due:
                self.fields["next_check_in"].help_text = check_in_after_found_words(referral)
        elif self.add_prefix("next_check_in") not in self.data:
            # Reallocated while missing: no placement, so no check-in. A day sent from a page shown before
            # the reallocation stays, to be refused on its field rather than dropped unsaid.
            del self.fields["next_check_in"]


class ReallocateForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(ReallocateReason.choices, "Choose a reason"),
        label="Reason for reallocating",
        error_messages=_required("Choose why the person is reallocated."),
    )
    note = note_field("Note (optional)")


class RecoverForm(HarbourForm):
    outcome = forms.ChoiceField(
        choices=_blank_first(RecoveryOutcome.choices, "Choose an outcome"),
        label="Move-on outcome",
        error_messages=_required("Choose the person's move-on outcome."),
    )
    note = note_field("Note (optional)")


class ExitForm(HarbourForm):
    reason = forms.ChoiceField(
        choices=_blank_first(ExitReason.choices, "Choose a reason"),
        label="Reason for exit",
        error_messages=_required("Choose why the person left support."),
    )
    note = note_field("Note (optional)")


class CorrectForm(HarbourForm):
    """The person's details a correction may change, as the intake asks for them (its own fields, with
    their labels, hints and messages), filled in with what the case holds; a reason and a note.

    The intake's rules are checked on the case as it will be once corrected; the service checks them
    again under the row lock. A form only shown, never sent on, has no case (``referral``)."""

    reason = forms.ChoiceField(
        choices=_blank_first(CorrectionReason.choices, "Choose a reason"),
        label="Reason for the correction",
        help_text="An age assessment is the local authority's finding on whether the person is a child.",
        error_messages=_required("Choose why the details are corrected."),
    )
    note = MultilineTextField(
        required=False,
        validators=[CORRECTION_NOTE_LENGTH],
        label="Note (optional)",
        help_text=(
            "Why, for the history: who assessed the age, say. Not the details themselves, old or new: the "
            "case holds them. At most 1,000 characters."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # The correction the form was opened after (``services.correct_referral``): its details are as they
    # were then.
    corrected_up_to = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def __init__(self, *args: Any, referral: Referral | None = None, **kwargs: Any) -> None:
        if referral is not None and not kwargs.get("initial"):
            kwargs["initial"] = {name: getattr(referral, name) for name in CORRECTABLE_FIELDS}
            kwargs["initial"]["corrected_up_to"] = referral.last_correction()
        super().__init__(*args, **kwargs)
        self.referral = referral
        _choices(self, "nationality", _blank_first(nationality_choices(), "Choose a nationality"))
        _choices(self, "second_nationality", _blank_first(nationality_choices(), "None"))
        _choices(self, "languages", language_choices())
        # As on the intake form: a shared computer's browser must not remember the person's details.
        for name in PERSONAL_FIELDS:
            if name in self.fields:
                self.fields[name].widget.attrs["autocomplete"] = "off"

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(heading, [self[name] for name in names]) for heading, names in CORRECT_FORM_SECTIONS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.referral is None:
            return cleaned
        errors = correction_errors(self.referral, cleaned, unreadable=self.errors.keys())
        for field, messages in errors.items():
            if field not in self.errors:
                for message in messages:
                    self.add_error(field, message)
        return cleaned


# The form in parts under headings, why first: a phone's long page is scrolled through by heading, and
# the reason it asks for is not left at the bottom.
CORRECT_FORM_SECTIONS = (
    ("Why the details are corrected", ("reason", "note")),
    ("The person", ("given_name", "family_name", "aliases", "gender")),
    ("Age and consent", ("date_of_birth", "age_estimate", "age_in_doubt", "consent")),
    ("Children's services", ("local_authority", "local_authority_contact")),
    ("Nationality and languages", ("nationality", "second_nationality", "languages", "interpreter_needed")),
    ("Where the person is now", ("region",)),
    (
        "Needs and contact",
        (
            "needs_accommodation",
            "emergency",
            "needs_medical",
            "has_dependants",
            "safe_to_contact",
            "contact_phone",
        ),
    ),
)
# The intake's own fields: asked for the same fact, the form checks it the same way. In the sections'
# order, which names every field once (``tests/web/test_correction.py``).
_correct_fields = {
    **{name: copy.deepcopy(ReferralForm.base_fields[name]) for name in CORRECTABLE_FIELDS},
    **CorrectForm.base_fields,
}
CorrectForm.base_fields = {
    **{name: _correct_fields[name] for _, names in CORRECT_FORM_SECTIONS for name in names},
    "corrected_up_to": _correct_fields["corrected_up_to"],
}
