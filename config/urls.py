import environ
from django.contrib import admin
from django.urls import include, path

handler400 = "referrals.api.errors.bad_request"
handler404 = "referrals.api.errors.page_not_found"
handler500 = "config.health.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("", include("accounts.urls")),
    path("", include("accounts.mfa_urls")),
    path("", include("audit.urls")),
    path("", include("referrals.urls")),
    path("", include("care_providers.urls")),
    path("", include("notifications.urls")),
    path("", include("reports.urls")),
]

# The benchmark's minimal endpoint (bench/minimal_api.py) exists only in a process started for it.
if environ.Env().bool("HARBOUR_BENCH", default=False):
    urlpatterns.append(path("bench/", include("bench.minimal_api")))
