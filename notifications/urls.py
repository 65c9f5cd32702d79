from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "notifications"

urlpatterns: list[URLPattern | URLResolver] = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:item_id>/read/", views.inbox_item_read, name="inbox-item-read"),
    path("inbox/<int:item_id>/open/", views.inbox_item_open, name="inbox-item-open"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox-read-all"),
    path("notifications/undelivered/", views.undelivered, name="undelivered"),
    path("notifications/<uuid:notification_id>/resend/", views.resend, name="resend"),
    path("notifications/undelivered/resend/", views.resend_all, name="resend-all"),
]
