from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.admin import AuditedModelAdmin
from audit.services import record_admin_change

from .forms import OrganisationForm
from .models import AuthenticatorApp, Organisation, OrganisationKind, Role, User

# Who may grant what in the admin. A staff user who is not a superuser may look after the accounts of
# first responders and care providers, and organisations other than the contractor, and nothing more:
# admin rights (superuser, staff, groups, permissions), the manager role, which sees every case, and the
# contractor kind, whose users are managers, are given only by a superuser. Accounts that hold any of
# them, their own included, are not theirs to change, to delete, to set the password of, nor to remove
# the authenticator app of: that would take them over, lock a superuser or manager out, or let them
# raise themselves.
ADMIN_RIGHTS_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def grants_everything(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def is_privileged(user: User) -> bool:
    """Whether the account holds something only a superuser may grant."""
    return user.is_superuser or user.is_staff or user.role == Role.MANAGER


def may_look_after(request: HttpRequest, account: User | None) -> bool:
    """Whether the admin user may change or delete ``account`` (None: accounts in general): a superuser
    any; anyone else neither a privileged account nor their own."""
    if account is None or grants_everything(request):
        return True
    return account.pk != request.user.pk and not is_privileged(account)


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    form = OrganisationForm
    # The addresses may name people; the webhook secret is withheld by its name.
    audit_withheld = ("notification_emails",)
    list_display = ["name", "kind", "has_webhook"]
    list_filter = ["kind"]
    search_fields = ["name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.kind == OrganisationKind.CONTRACTOR and not grants_everything(request):
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A duty phone is a care provider's alone (``Organisation.clean``): another kind's page leaves the
        box out, unless one is held there, to be cleared."""
        fields = super().get_fields(request, obj)
        if obj is not None and obj.kind != OrganisationKind.CARE_PROVIDER and not obj.duty_phone:
            return [name for name in fields if name != "duty_phone"]
        return fields

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "kind" and not grants_everything(request):
            kwargs["choices"] = [
                (value, label)
                for value, label in db_field.get_choices()
                if value != OrganisationKind.CONTRACTOR
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(boolean=True, description="Webhook")
    def has_webhook(self, organisation: Organisation) -> bool:
        return bool(organisation.webhook_url)


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "role", "organisation", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff", "organisation__kind"]
    list_select_related = ["organisation"]
    search_fields = ["username", "email", "first_name", "last_name", "organisation__name"]
    autocomplete_fields = ["organisation"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Harbour", {"fields": ("organisation", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Harbour", {"fields": ("email", "organisation", "role")}),
    )
    # Personal details: the trail says they changed, not to what. Passwords are withheld by their name.
    audit_withheld = ("first_name", "last_name", "email")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Also guards the password form. Others see a privileged account, and their own, read-only."""
        if not may_look_after(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Also asked of each account "delete selected" would delete: one refused refuses them all."""
        if not may_look_after(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if grants_everything(request):
            return readonly
        return [*readonly, *(name for name in ADMIN_RIGHTS_FIELDS if name not in readonly)]

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "role" and not grants_everything(request):
            kwargs["choices"] = [
                (value, label) for value, label in db_field.get_choices() if value != Role.MANAGER
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """The admin's password form, audited when it set a new password or removed it."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            response = super().user_change_password(request, id, form_url)
            if user is not None and request.method == "POST":
                before = user.password
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    record_admin_change(
                        actor=request.user,  # type: ignore[arg-type]  # the admin is for signed-in staff
                        obj=user,
                        done="password changed",
                        changes={"password": "changed"},
                        request=request,
                    )
        return response


@admin.register(AuthenticatorApp)
class AuthenticatorAppAdmin(AuditedModelAdmin):
    """Authenticator apps, listed so that a lost one can be removed; no secret is ever shown.

    Neither the key nor a QR code is on any page: whoever sees either can make the user's codes. A
    device is set up only by its owner on the set-up page, and moving one to another user would give
    them a second factor whose key someone else knows. Nothing of one is changed here either: a wider
    tolerance or other digits would weaken or break its codes. A lost one is removed (or reset with
    ``reset_second_factor``); removing one is audited, as ``reset_second_factor`` is, and signs its user
    out everywhere (``accounts.mfa``), so only a superuser removes a privileged account's.
    """

    list_display = ["user", "name", "created_at", "last_used_at", "confirmed"]
    list_filter = ["created_at", "last_used_at", "confirmed"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    fieldsets = [
        ("Identity", {"fields": ["user", "name", "confirmed"]}),
        ("Timestamps", {"fields": ["created_at", "last_used_at"]}),
        ("Configuration", {"fields": ["step", "t0", "digits", "tolerance"]}),
        ("State", {"fields": ["drift"]}),
        ("Throttling", {"fields": ["throttling_failure_timestamp", "throttling_failure_count"]}),
    ]
    readonly_fields = ["user", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not may_look_after(request, obj.user):
            return False
        return super().has_delete_permission(request, obj)


# django-otp's own TOTP devices are no longer used (their keys were in clear): accounts.AuthenticatorApp.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


class AuditedGroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    """Groups give staff users their permissions in this admin; who changed a group's is in the trail.
    Only a superuser makes or changes one: a staff user could otherwise give their own group any
    permission."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return grants_everything(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return grants_everything(request) and super().has_change_permission(request, obj)


admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


class LockoutAdmin(AuditedModelAdmin, AccessAttemptAdmin):
    """Failed sign-ins that count towards a lockout. Deleting one lets that username sign in again at
    once, so who did it, when, and for which username, is in the trail."""

    def deletion_changes(self, obj: Any) -> dict[str, Any]:
        # A lockout is of a username from an address. The username as the lockout recorded it
        # (``username_as_recorded``): a digest for one that names no user, never what was typed. The
        # record's own name is only the time of the attempt.
        return {"username": obj.username, "ip_address": obj.ip_address}


# Sign-ins, sign-outs and failures are in the audit trail (AXES_DISABLE_ACCESS_LOG): django-axes' own
# logs stay empty and are not shown.
for model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
admin.site.register(AccessAttempt, LockoutAdmin)
