from django.urls import URLPattern, URLResolver, path

from . import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("reports/caseload/", api.CaseloadReportView.as_view(), name="api-caseload-report"),
    path("reports/overdue/", api.OverdueReportView.as_view(), name="api-overdue-report"),
]
