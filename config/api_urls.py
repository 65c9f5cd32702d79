from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from .api_docs import ApiDocsView

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("referrals.api_urls")),
    path("", include("care_providers.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("reports.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
