"""Signing in and out, and the home page that sends each role to its start page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from referrals.views import start_page_for

from .sessions import TIMED_OUT_COOKIE


class HarbourLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Sent here from a page whose session had ended on its own (accounts.sessions marks it).
        request = self.request
        context["timed_out"] = (
            TIMED_OUT_COOKIE in request.COOKIES
            and REDIRECT_FIELD_NAME in request.GET
            and not request.user.is_authenticated
        )
        context["idle_minutes"] = settings.SESSION_COOKIE_AGE // 60
        return context


class HarbourLogoutView(LogoutView):
    """Signing out is a POST from the header's form (Django refuses a GET)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(start_page_for(request.user))  # type: ignore[arg-type]
