from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "care_providers"

urlpatterns: list[URLPattern | URLResolver] = [
    path("provider/offers/", views.offers, name="offers"),
    path("provider/caseload/", views.caseload, name="caseload"),
    path("provider/past/", views.past_placements, name="past"),
]
