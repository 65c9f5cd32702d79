from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyModelAdmin

from .choices import ExploitationType, nationality_names
from .models import AnonymousNotification


@admin.register(AnonymousNotification)
class AnonymousNotificationAdmin(ReadOnlyModelAdmin):
    """Duty-to-notify reports hold no personal details; they are read here, never changed.

    Referrals are not in the admin: their personal details are read on the case page, which records
    every read in the audit trail, and they change only through the workflow's services.
    """

    list_display = ["submitted_at", "organisation", "gender", "nationality", "region"]
    # Codes in words, as the web shows them: not the stored JSON list (["sexual"]).
    fields = ["submitted_at", "organisation", "gender", "nationality_in_words", "exploitation", "region"]
    list_filter = ["region", "gender"]
    list_select_related = ["organisation"]
    date_hierarchy = "submitted_at"

    @admin.display(description="Nationality")
    def nationality_in_words(self, notification: AnonymousNotification) -> str:
        return nationality_names().get(notification.nationality, notification.nationality)

    @admin.display(description="Exploitation types")
    def exploitation(self, notification: AnonymousNotification) -> str:
        labels = dict(ExploitationType.choices)
        return ", ".join(labels.get(code, code) for code in notification.exploitation_types)
