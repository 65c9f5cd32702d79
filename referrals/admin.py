from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyModelAdmin

from .models import AnonymousNotification


@admin.register(AnonymousNotification)
class AnonymousNotificationAdmin(ReadOnlyModelAdmin):
    """Duty-to-notify reports hold no personal details; they are read here, never changed.

    Referrals are not in the admin: their personal details are read on the case page, which records
    every read in the audit trail, and they change only through the workflow's services.
    """

    list_display = ["submitted_at", "organisation", "gender", "nationality", "region"]
    list_filter = ["region", "gender"]
    list_select_related = ["organisation"]
    date_hierarchy = "submitted_at"
