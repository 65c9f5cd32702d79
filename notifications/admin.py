from django.contrib import admin

from audit.admin import ReadOnlyModelAdmin

from .models import DeliveryAttempt, InboxItem, Notification


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "succeeded", "detail"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    """The outbox, to look into a delivery. A failed notification is sent again from the managers' page
    of failed notifications, which audits it; nothing here changes a row."""

    list_display = ["created_at", "event", "reference", "organisation", "channel", "state", "attempts"]
    list_filter = ["state", "channel", "event"]
    search_fields = ["reference", "id"]
    list_select_related = ["organisation"]
    inlines = [DeliveryAttemptInline]


@admin.register(InboxItem)
class InboxItemAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "user", "event", "reference", "read_at"]
    list_filter = ["event"]
    search_fields = ["reference", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "referral"]
