from django.urls import path

from . import views

urlpatterns = [
    path("cases/<int:pk>/audit/", views.referral_audit, name="referral-audit"),
    path("audit/", views.audit_log, name="audit-log"),
]
