"""The audit trail in the admin: read-only, since rows are only ever added."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor", "username", "ip_address", "referral", "what"]
    list_filter = ["action"]
    search_fields = ["username", "actor__username", "referral__reference", "what"]
    date_hierarchy = "at"
    list_select_related = ["actor", "referral"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
