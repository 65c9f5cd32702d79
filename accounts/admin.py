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
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.admin import AuditedModelAdmin
from audit.services import record_admin_change

from .forms import OrganisationForm
from .models import Organisation, User


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    form = OrganisationForm
    # The addresses may name people; the webhook secret is withheld by its name.
    audit_withheld = ("notification_emails",)
    list_display = ["name", "kind", "has_webhook"]
    list_filter = ["kind"]
    search_fields = ["name"]

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


class AuthenticatorAppAdmin(AuditedModelAdmin, TOTPDeviceAdmin):
    """Authenticator apps, listed so that a lost one can be removed; no secret is ever shown.

    OTP_ADMIN_HIDE_SENSITIVE_DATA keeps the key and QR code off the list and change pages. A device is
    set up only by its owner on the set-up page: the admin's add form would show the new key, and moving
    a device to another user would give them a second factor whose key someone else knows. Removing
    one is audited, as ``reset_second_factor`` is, and signs its user out everywhere (``accounts.mfa``).
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "user"] if obj is not None else readonly


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, AuthenticatorAppAdmin)


class AuditedGroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    """Groups give staff users their permissions in this admin; who changed a group's is in the trail."""


admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


class LockoutAdmin(AuditedModelAdmin, AccessAttemptAdmin):
    """Failed sign-ins that count towards a lockout. Deleting one lets that username sign in again at
    once, so who did it, and when, is in the trail."""


# Sign-ins, sign-outs and failures are in the audit trail (AXES_DISABLE_ACCESS_LOG): django-axes' own
# logs stay empty and are not shown.
for model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
admin.site.register(AccessAttempt, LockoutAdmin)
