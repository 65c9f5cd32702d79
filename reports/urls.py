from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    path("reports/caseload/", views.caseload, name="caseload"),
    path("reports/caseload/csv/", views.caseload_csv, name="caseload_csv"),
]
