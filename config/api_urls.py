from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("referrals.api_urls")),
    path("", include("care_providers.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("reports.api_urls")),
]
