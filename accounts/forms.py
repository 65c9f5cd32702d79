"""Forms of the accounts app: organisation settings edited in the admin, signing in, and a user's own
password."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from referrals.forms import HarbourForm
from referrals.phone_numbers import PHONE_TOO_LONG_MESSAGE, validate_duty_phone

from .models import Organisation


class EmailListField(forms.CharField):
    """A list of e-mail addresses, typed one a line, stored as a JSON list."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One address a line. These receive the organisation's notifications.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value or ""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return list(value)
        text = super().to_python(value) or ""
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        # No list shown (a new provider's form) and none typed is no change.
        return self.to_python(initial) != self.to_python(data)

    def validate(self, value: list[str]) -> None:  # type: ignore[override]
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        bad = []
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(f"Not an e-mail address: {', '.join(bad)}.", code="invalid")


# The project's message for a phone number too long, not Django's count of characters.
DUTY_PHONE_ERRORS = {"max_length": PHONE_TOO_LONG_MESSAGE}


def duty_phone_field() -> forms.CharField:
    """The organisation's duty phone on another model's form, which checks it itself: its model's
    checks are of that model's own fields only."""
    field = Organisation._meta.get_field("duty_phone")
    return cast(
        forms.CharField,
        field.formfield(validators=[validate_duty_phone], error_messages=DUTY_PHONE_ERRORS),
    )


def refuse_credentials_in_url(url: str) -> None:
    if url and urlsplit(url).username is not None:
        raise ValidationError(
            "Leave the user name and password out of the webhook URL: the signature proves the sender.",
            code="credentials",
        )


def webhook_url_field() -> forms.URLField:
    return forms.URLField(
        required=False,
        assume_scheme="https",
        validators=[refuse_credentials_in_url],
        help_text="Optional: signed JSON events are POSTed here.",
    )


WEBHOOK_SECRET_MIN_LENGTH = 16


def webhook_secret_field() -> forms.CharField:
    """The webhook's shared secret, written but never shown again (not even in the page's source)."""
    return forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "Shared secret for the HMAC-SHA256 signature in the X-Harbour-Signature header (the README's "
            "Webhooks section shows a receiver's check). It is never shown: leave this empty to keep the "
            "current one. Removing the webhook URL removes the secret too."
        ),
    )


def webhook_secret_to_store(*, typed: str, webhook_url: str, organisation: Organisation | None) -> str:
    """A typed secret replaces the stored one; an empty field keeps it; no webhook, no secret.

    A webhook needs a secret long enough not to be guessed: the receiver trusts whatever carries a
    signature made with it, and one made with an empty key anyone can compute.
    """
    if not webhook_url:
        return ""
    if typed:
        if len(typed) < WEBHOOK_SECRET_MIN_LENGTH:
            raise ValidationError(
                f"Use at least {WEBHOOK_SECRET_MIN_LENGTH} characters, so that nobody can guess it.",
                code="short",
            )
        return typed
    stored = organisation.webhook_secret if organisation is not None and organisation.pk else ""
    if not stored:
        raise ValidationError(
            "Enter a shared secret for the webhook: the receiver checks each event's signature with it.",
            code="required",
        )
    return stored


class OrganisationForm(forms.ModelForm):
    notification_emails = EmailListField()
    webhook_url = webhook_url_field()
    webhook_secret = webhook_secret_field()

    class Meta:
        model = Organisation
        fields = ["name", "kind", "duty_phone", "notification_emails", "webhook_url", "webhook_secret"]
        error_messages = {"duty_phone": DUTY_PHONE_ERRORS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["webhook_secret"] = ""  # never sent to the browser; empty means "keep it"

    def clean_webhook_secret(self) -> str:
        return webhook_secret_to_store(
            typed=self.cleaned_data.get("webhook_secret", ""),
            webhook_url=self.cleaned_data.get("webhook_url", ""),
            organisation=self.instance,
        )


class OwnPasswordForm(PasswordChangeForm, HarbourForm):
    """Django's change of one's own password, its errors summarised at the top of the page.

    A new password too short or too common is reported at the new password, where its rules are given,
    not at the box that repeats it (Django's choice); not matching it is the repeat's error.
    """

    # Each says which box is empty: the summary lists them apart from the fields they belong to.
    REQUIRED_MESSAGES = {
        "old_password": "Enter your current password.",
        "new_password1": "Enter a new password.",
        "new_password2": "Enter the new password again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, message in self.REQUIRED_MESSAGES.items():
            self.fields[name].error_messages["required"] = message
        # The page's heading and what a change does are read first, not skipped for the first box.
        self.fields["old_password"].widget.attrs.pop("autofocus", None)

    def clean(self) -> dict[str, Any] | None:
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        # Past SetPasswordForm.clean, which would check the repeated password against the rules again.
        return super(SetPasswordForm, self).clean()


class SignInForm(AuthenticationForm, HarbourForm):
    """Django's sign-in, its errors summarised and shown at their fields as on every Harbour form."""

    REQUIRED_MESSAGES = {"username": "Enter your username.", "password": "Enter your password."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, message in self.REQUIRED_MESSAGES.items():
            self.fields[name].error_messages["required"] = message
        # Why the user was signed out, above the form, is read first; and AuthenticationForm sets the
        # maxlength that HarbourForm leaves out, after it.
        for attribute in ("autofocus", "maxlength"):
            self.fields["username"].widget.attrs.pop(attribute, None)

    def error_summary(self) -> list[tuple[str, str]]:
        """A wrong username or password is the form's error: its link goes to the first box."""
        return [(anchor or self["username"].auto_id, message) for anchor, message in super().error_summary()]
