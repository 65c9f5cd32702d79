"""Signing in and out, staying signed in, changing one's own password, and the home page that sends each
role to its start page."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, LogoutView, PasswordChangeView
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from audit.services import record_change
from referrals.views import start_page_for

from .forms import OwnPasswordForm, SignInForm
from .lockout import lockout_response
from .sessions import SIGNED_OUT_COOKIE, extend_session, seconds_left, signed_out_words


class HarbourLoginView(LoginView):
    authentication_form = SignInForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Sent here from a page whose session had ended (accounts.sessions marks it, and why).
        request = self.request
        if (
            SIGNED_OUT_COOKIE in request.COOKIES
            and REDIRECT_FIELD_NAME in request.GET
            and not request.user.is_authenticated
        ):
            context["signed_out"] = signed_out_words(request.COOKIES[SIGNED_OUT_COOKIE])
        return context


class HarbourLogoutView(LogoutView):
    """Signing out is a POST from the header's form (Django refuses a GET)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response


class HarbourPasswordChangeView(PasswordChangeView):
    """A user changes their own password, say when they fear it is known to someone else. Saving it
    revokes their API token (``User.save``) and ends every other session of theirs; this one goes on.

    The current password asked for here is a sign-in's password: a session left open must not let
    whoever sits at it guess the password without limit. A wrong one is a failed login for the user,
    counted by django-axes and audited as any other; once the user is locked out, this session ends
    and the answer is the sign-in's lockout page. The right one clears the failures, as a sign-in does.
    """

    form_class = OwnPasswordForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not AxesProxyHandler.is_allowed(request, self._credentials()):
            return self._locked_out()
        return super().post(request, *args, **kwargs)

    def _credentials(self) -> dict[str, str]:
        # What a failed login reports: the username, never a password (accounts.authentication).
        return {"username": self.request.user.get_username()}

    def _locked_out(self) -> HttpResponse:
        logout(self.request)
        return lockout_response(self.request)

    def form_valid(self, form: OwnPasswordForm) -> HttpResponse:  # type: ignore[override]
        with transaction.atomic():
            response = super().form_valid(form)
            record_change(actor=form.user, referral=None, what="password changed", request=self.request)
            AxesProxyHandler.get_implementation().reset_user_attempts(self.request, self._credentials())
        messages.success(self.request, "Your password is changed. You are signed out everywhere else.")
        return response

    def form_invalid(self, form: OwnPasswordForm) -> HttpResponse:  # type: ignore[override]
        if form.has_error("old_password", "password_incorrect"):
            user_login_failed.send(sender=__name__, credentials=self._credentials(), request=self.request)
            if getattr(self.request, "axes_locked_out", False):
                return self._locked_out()
        response = super().form_invalid(form)
        response.status_code = 400
        return response


@require_GET
def stay_signed_in(request: HttpRequest) -> JsonResponse:
    """The "Stay signed in" of the warning a page gives before its session ends without activity
    (``static/js/session-timeout.js``). Any request extends the session, but at most once every
    SESSION_REFRESH_SECONDS: this one extends it whenever it comes. Answers how long the session now
    lasts, 0 once it has ended."""
    if not request.user.is_authenticated:
        return JsonResponse({"seconds_left": 0})
    extend_session(request.session)
    return JsonResponse({"seconds_left": seconds_left(request)})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(start_page_for(request.user))  # type: ignore[arg-type]
