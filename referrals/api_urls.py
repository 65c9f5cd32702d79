from django.urls import path

from .api.views import (
    TRANSITION_VIEWS,
    AnonymousNotificationListView,
    PossibleDuplicatesView,
    ReferralDetailView,
    ReferralHistoryView,
    ReferralListView,
    SuggestedProvidersView,
)

urlpatterns = [
    path("referrals/", ReferralListView.as_view(), name="api-referral-list"),
    path(
        "referrals/possible-duplicates/",
        PossibleDuplicatesView.as_view(),
        name="api-referral-possible-duplicates",
    ),
    path("referrals/<int:pk>/", ReferralDetailView.as_view(), name="api-referral-detail"),
    path("referrals/<int:pk>/history/", ReferralHistoryView.as_view(), name="api-referral-history"),
    path(
        "referrals/<int:pk>/suggested-providers/",
        SuggestedProvidersView.as_view(),
        name="api-referral-suggested-providers",
    ),
    *(
        path(f"referrals/<int:pk>/{name}/", view.as_view(), name=f"api-referral-{name.replace('_', '-')}")
        for name, view in TRANSITION_VIEWS.items()
    ),
    path(
        "anonymous-notifications/",
        AnonymousNotificationListView.as_view(),
        name="api-anonymous-notification-list",
    ),
]
