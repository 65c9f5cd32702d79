from django.contrib import admin

from .models import DeliveryAttempt, InboxItem, Notification


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "succeeded", "detail"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "reference", "organisation", "channel", "state", "attempts"]
    list_filter = ["state", "channel", "event"]
    search_fields = ["reference", "id"]
    list_select_related = ["organisation"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    inlines = [DeliveryAttemptInline]


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "event", "reference", "read_at"]
    list_filter = ["event"]
    search_fields = ["reference", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "referral"]
