"""Signing in and out, and the home page that sends each role to its start page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from referrals.views import start_page_for


class HarbourLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class HarbourLogoutView(LogoutView):
    """Signing out is a POST from the header's form (Django refuses a GET)."""


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(start_page_for(request.user))  # type: ignore[arg-type]
