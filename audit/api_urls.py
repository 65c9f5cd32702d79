from django.urls import path

from . import api

urlpatterns = [
    path("referrals/<int:pk>/audit/", api.ReferralAuditView.as_view(), name="api-referral-audit"),
]
