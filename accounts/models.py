from __future__ import annotations

import time
from base64 import b32encode
from binascii import unhexlify
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from referrals.encryption import EncryptedTextField
from referrals.phone_numbers import PHONE_MAX_LENGTH, validate_duty_phone

if TYPE_CHECKING:
    from care_providers.models import CareProvider


class OrganisationKind(models.TextChoices):
    POLICE = "police", "Police"
    BORDER_FORCE = "border_force", "Border Force"
    LOCAL_AUTHORITY = "local_authority", "Local authority"
    GOVERNMENT_AGENCY = "government_agency", "Government agency"
    NGO = "ngo", "NGO"
    CARE_PROVIDER = "care_provider", "Care provider"
    CONTRACTOR = "contractor", "Victim care contractor"


FIRST_RESPONDER_KINDS = frozenset(
    {
        OrganisationKind.POLICE,
        OrganisationKind.BORDER_FORCE,
        OrganisationKind.LOCAL_AUTHORITY,
        OrganisationKind.GOVERNMENT_AGENCY,
        OrganisationKind.NGO,
    }
)


DUTY_PHONE_OF_ANOTHER_KIND_MESSAGE = (
    "Only care provider organisations have a duty phone: clear this box, or choose the kind Care provider. "
    "The managers' own duty line is set on the server, as MANAGERS_DUTY_PHONE."
)


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=OrganisationKind.choices)
    notification_emails = models.JSONField(
        default=list, blank=True, help_text="Addresses that receive this organisation's notifications."
    )
    webhook_url = models.URLField(blank=True, help_text="Optional: signed JSON events are POSTed here.")
    # Encrypted at rest like personal fields: whoever holds it can sign webhooks as Harbour.
    webhook_secret = EncryptedTextField(blank=True, help_text="Shared secret for the HMAC.")
    # The organisation's own number, not a person's. Shown to managers only: a refuge's number is not
    # for first responders or other providers. Optional, as providers recorded before it have none. A
    # default in the database too, for the release before this one, which writes none. A care provider's
    # only (``clean``): the managers' own duty line is MANAGERS_DUTY_PHONE.
    duty_phone = models.CharField(
        max_length=PHONE_MAX_LENGTH,
        blank=True,
        default="",
        db_default="",
        validators=[validate_duty_phone],
        help_text=(
            "A care provider's 24-hour number, for the managers to tap to call about a person it supports "
            "or is offered: one number, such as 020 7946 0123, without an extension or hours. Shown to "
            "managers only."
        ),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A change of kind must leave every user of the organisation in a role the new kind has, and a
        care provider's organisation a care provider (its page offers no other). Only a care provider has
        a duty phone."""
        super().clean()
        errors: dict[str, str] = {}
        if self.duty_phone and self.kind != OrganisationKind.CARE_PROVIDER:
            errors["duty_phone"] = DUTY_PHONE_OF_ANOTHER_KIND_MESSAGE
        if self.pk is not None and (misfits := self._roles_its_kind_lacks()):
            errors["kind"] = (
                f"{OrganisationKind(self.kind).label} organisations have no "
                f"{' or '.join(sorted(misfits))} users, and this one has some: change their roles first."
            )
        elif (
            self.pk is not None
            and self.kind != OrganisationKind.CARE_PROVIDER
            and (provider := getattr(self, "care_provider", None))
        ):
            errors["kind"] = (
                f"This organisation is the care provider {provider.name}, so it stays a care provider "
                "organisation: give the provider another organisation first."
            )
        if errors:
            raise ValidationError(errors)

    def _roles_its_kind_lacks(self) -> set[str]:
        """The roles of its users, in words, that an organisation of its kind does not have."""
        return {
            Role(role).label.lower()
            for role in self.users.exclude(role="").values_list("role", flat=True).distinct()
            if self.kind not in ROLE_ORGANISATION_KINDS[role]
        }


class Role(models.TextChoices):
    FIRST_RESPONDER = "first_responder", "First responder"
    CARE_PROVIDER = "care_provider", "Care provider"
    MANAGER = "manager", "Manager"


# The kinds of organisation each role's users work for (SPEC §2). What a user may see follows from the
# role alone, so a manager's role in a police force would open every case to that force.
ROLE_ORGANISATION_KINDS: dict[str, frozenset[str]] = {
    Role.FIRST_RESPONDER: FIRST_RESPONDER_KINDS,
    Role.CARE_PROVIDER: frozenset({OrganisationKind.CARE_PROVIDER}),
    Role.MANAGER: frozenset({OrganisationKind.CONTRACTOR}),
}


# What a user may do and see: a change to any of them ends the user's API sign-in (see ``User.save``).
ACCESS_FIELDS = ("password", "role", "organisation_id", "is_active", "is_staff", "is_superuser")


# django-otp is untyped, so the stubs cannot see the authenticator apps' side of their user field.
class User(AbstractUser):  # type: ignore[django-manager-missing]
    """Every staff user belongs to one organisation and has one role (SPEC §2)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    # Part of the session auth hash that Django checks on every request: a new value ends every web
    # session of the user at once, wherever sessions are stored and without reading them all, and
    # unlike a new password it leaves the user's own credentials alone (see ``end_sign_ins``).
    session_stamp = models.CharField(max_length=32, blank=True, default="", editable=False)

    def clean(self) -> None:
        """A role needs an organisation of a kind that has that role (SPEC §2)."""
        super().clean()
        if not self.role:
            return
        role = Role(self.role).label.lower()
        # The organisation is read just below anyway: testing it too tells mypy it is set.
        if self.organisation_id is None or self.organisation is None:
            raise ValidationError({"organisation": f"A {role} belongs to an organisation: choose one."})
        kind = self.organisation.kind
        if kind not in ROLE_ORGANISATION_KINDS[self.role]:
            message = f"{OrganisationKind(kind).label} organisations have no {role} users"
            raise ValidationError({"role": f"{message}: choose another role or organisation."})

    # The stamp need not be secret, only new when it changes: appended to Django's HMAC of the password,
    # it keeps the hash of sessions from before stamps existed, and SECRET_KEY_FALLBACKS working.
    def get_session_auth_hash(self) -> str:
        return super().get_session_auth_hash() + self.session_stamp

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        return (hash_ + self.session_stamp for hash_ in super().get_session_auth_fallback_hash())

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new password, role or organisation, or admin rights given or taken, revoke the user's API
        token, whichever path saved it (``set_password``, the admin's forms, ``changepassword``): a token
        must not outlive the password it was issued against, nor carry into a role that sees more or
        needs a second factor it never gave. Sessions are checked again on every request. A new role or
        organisation also deletes the user's drafts and unsent forms: typed for the old one, they must
        not be read or submitted in the new; and so does deactivation, after which nobody could open
        them. A move also empties the user's inbox, which told of the old one's cases. Both forget the
        answers kept for the user's Idempotency-Keys, which showed what the old access saw."""
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        changed = self._access_changed(kwargs.get("update_fields"), using)
        if not changed:
            super().save(*args, **kwargs)
            return
        from idempotency.services import forget_answers
        from notifications.services import empty_inbox
        from referrals.drafts import delete_drafts_and_unsent_forms

        from .authentication import revoke_tokens

        moved = [field.removesuffix("_id") for field in ("organisation_id", "role") if field in changed]
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)
            revoke_tokens(self, why="password changed" if "password" in changed else "access changed")
            if moved:
                why = f"{' and '.join(moved)} changed"
                delete_drafts_and_unsent_forms(owner=self, why=why)
                empty_inbox(user=self, why=why)
                forget_answers(user=self)
            elif "is_active" in changed and not self.is_active:
                delete_drafts_and_unsent_forms(owner=self, why="deactivated")
                forget_answers(user=self)

    def _access_changed(self, update_fields: Any, using: str) -> set[str]:
        """The password and access fields (``ACCESS_FIELDS``) this save changes; empty if none."""
        if self._state.adding or self.pk is None:
            return set()
        deferred = self.get_deferred_fields()
        fields = [
            field
            for field in ACCESS_FIELDS
            if field not in deferred
            and (
                update_fields is None or field in update_fields or field.removesuffix("_id") in update_fields
            )
        ]
        if not fields:
            return set()  # e.g. last_login at sign-in: no need to read the row
        # Django's own record of a password set since loading, absent from the stubs.
        rehashed = self._password is None and is_password_usable(self.password)  # type: ignore[attr-defined]
        if rehashed and update_fields is not None and set(update_fields) == {"password"}:
            # check_password re-hashing the same password with a newer hasher: not a new password.
            return set()
        stored = type(self)._base_manager.using(using).filter(pk=self.pk).values(*fields).first()
        if stored is None:
            return set()
        return {field for field, value in stored.items() if value != getattr(self, field)}

    @property
    def is_first_responder(self) -> bool:
        return self.role == Role.FIRST_RESPONDER

    @property
    def is_care_provider(self) -> bool:
        return self.role == Role.CARE_PROVIDER

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def provider(self) -> CareProvider | None:
        """The care provider this user works for, if they are a care provider user."""
        if not self.is_care_provider or self.organisation is None:
            return None
        return getattr(self.organisation, "care_provider", None)


def new_authenticator_key() -> str:
    """A new TOTP secret: 20 random bytes, hex-encoded (as django-otp's TOTP devices have them)."""
    return str(random_hex(20))


class AuthenticatorApp(TimestampMixin, ThrottlingMixin, Device):
    """The authenticator app of a manager or admin: their second factor (``accounts.mfa``).

    django-otp's TOTP device with its secret encrypted at rest under FIELD_ENCRYPTION_KEYS, like personal
    fields: whoever holds the secret makes the user's codes, so a database backup must not hold it.
    Rotated with the other encrypted fields (``rotate_field_keys``).
    """

    key = EncryptedTextField(default=new_authenticator_key, help_text="The hex-encoded secret, encrypted.")
    step = models.PositiveSmallIntegerField(default=30, help_text="The time step in seconds.")
    t0 = models.BigIntegerField(default=0, help_text="The Unix time at which to begin counting steps.")
    digits = models.PositiveSmallIntegerField(
        choices=[(6, 6), (8, 8)], default=6, help_text="The number of digits to expect in a code."
    )
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text="The number of time steps in the past or future to allow."
    )
    drift = models.SmallIntegerField(
        default=0, help_text="The number of time steps the app is known to deviate from our clock."
    )
    # A code is good once: only a code of a later time step than the last one accepted is.
    last_t = models.BigIntegerField(
        default=-1, help_text="The time step of the last code accepted; the next must be of a later one."
    )

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def verify_token(self, token: Any) -> bool:
        """django-otp's TOTP check: a right code of a time step after the last one used, unless throttled."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = bool(totp.verify(code, self.tolerance, self.last_t + 1))
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    @property
    def config_url(self) -> str:
        """The otpauth:// address an authenticator app reads from the set-up page's QR code."""
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else self.user.get_username()
        params = urlencode(
            {
                "secret": b32encode(self.bin_key),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        if issuer:
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"


class ApiToken(models.Model):
    """A sign-in to the API (``Authorization: Token …``), ended TOKEN_LIFETIME_HOURS after ``created``.

    Only a SHA-256 digest of the token is kept: the token itself is shown once, in the answer that issued
    it, so the database, its replicas and backups hold nothing to sign in with. The token is random
    (256 bits), so the digest cannot be turned back into it. Not in the admin: tokens are obtained only by
    signing in through the API, with the password and any second factor.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"API token of {self.user} issued {self.created:%Y-%m-%d %H:%M}"
