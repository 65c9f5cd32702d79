from django.urls import path

from .api import ProviderListView

urlpatterns = [
    path("providers/", ProviderListView.as_view(), name="api-provider-list"),
]
