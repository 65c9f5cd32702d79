from django.urls import path

from . import mfa_views

urlpatterns = [
    path("account/second-factor/setup/", mfa_views.setup, name="mfa-setup"),
    path("account/second-factor/verify/", mfa_views.verify, name="mfa-verify"),
]
