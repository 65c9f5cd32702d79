from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import TokenProxy

from .forms import OrganisationForm
from .models import Organisation, User

# API tokens are obtained only by signing in through the API (accounts.api). In the admin a staff user
# could read every live key, or create one for a manager and act as them without password or MFA.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ["name", "kind", "has_webhook"]
    list_filter = ["kind"]
    search_fields = ["name"]

    @admin.display(boolean=True, description="Webhook")
    def has_webhook(self, organisation: Organisation) -> bool:
        return bool(organisation.webhook_url)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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


class AuthenticatorAppAdmin(TOTPDeviceAdmin):
    """Authenticator apps, listed so that a lost one can be removed; no secret is ever shown.

    OTP_ADMIN_HIDE_SENSITIVE_DATA keeps the key and QR code off the list and change pages. A device is
    set up only by its owner on the set-up page: the admin's add form would show the new key, and moving
    a device to another user would give them a second factor whose key someone else knows.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "user"] if obj is not None else readonly


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, AuthenticatorAppAdmin)
