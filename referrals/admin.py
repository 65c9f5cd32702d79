from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AnonymousNotification


@admin.register(AnonymousNotification)
class AnonymousNotificationAdmin(admin.ModelAdmin):
    """Duty-to-notify reports hold no personal details; they are read here, never changed.

    Referrals are not in the admin: their personal details are read on the case page, which records
    every read in the audit trail, and they change only through the workflow's services.
    """

    list_display = ["submitted_at", "organisation", "gender", "nationality", "region"]
    list_filter = ["region", "gender"]
    list_select_related = ["organisation"]
    date_hierarchy = "submitted_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
