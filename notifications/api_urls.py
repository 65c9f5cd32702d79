from django.urls import URLPattern, URLResolver, path

from . import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("inbox/", api.InboxList.as_view(), name="api-inbox"),
    path("inbox/<int:item_id>/read/", api.InboxItemRead.as_view(), name="api-inbox-item-read"),
]
