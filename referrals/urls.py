from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "referrals"

urlpatterns: list[URLPattern | URLResolver] = [
    path("referrals/new/", views.intake, name="intake"),
    path("referrals/drafts/", views.drafts, name="drafts"),
    path("referrals/drafts/<int:pk>/discard/", views.draft_discard, name="draft_discard"),
    path("anonymous-notifications/", views.anonymous_notifications, name="anonymous_notifications"),
    path("anonymous-notifications/new/", views.anonymous_notification, name="anonymous_notification"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:pk>/", views.case, name="case"),
    path("cases/<int:pk>/<slug:transition>/", views.case_action, name="case_action"),
    path("triage/", views.triage, name="triage"),
    path("assessed/", views.assessed_queue, name="assessed"),
]
