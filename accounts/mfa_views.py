"""Web pages of the second factor: set up an authenticator app, then enter its code after sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from audit.services import record_change
from referrals.forms import HarbourForm

from .mfa import DeviceTaken, confirm_device, confirmed_device, pending_device, verify_sign_in_code

if TYPE_CHECKING:
    from .models import User


# One message whether the code is missing, short or long: what to type, not how many characters came.
CODE_MESSAGE = "Enter the 6-digit code from your authenticator app."


class OneTimeCodeInput(forms.TextInput):
    """A code is good for one use and a few seconds: a refused one is never written back into the page."""

    def format_value(self, value: object) -> None:
        return None


class CodeForm(HarbourForm):
    """A HarbourForm, so a wrong code is reported as on every other form: in the summary, on the field."""

    code = forms.CharField(
        label="Code from your authenticator app",
        help_text="The 6-digit code shown in the app now.",
        min_length=6,
        max_length=8,
        widget=OneTimeCodeInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"required": CODE_MESSAGE, "min_length": CODE_MESSAGE, "max_length": CODE_MESSAGE},
    )


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home") if _has_home() else "/"


def _has_home() -> bool:
    try:
        reverse("home")
    except NoReverseMatch:
        return False
    return True


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Register an authenticator app: show its secret, confirm it with a first code."""
    if confirmed_device(request.user) is not None:
        return redirect(f"{reverse('mfa-verify')}?next={_next_url(request)}")
    device = pending_device(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            confirmed = confirm_device(device, form.cleaned_data["code"])
        except DeviceTaken:
            # Another session of this user set up a device first: its code is asked for instead.
            return redirect(f"{reverse('mfa-verify')}?next={_next_url(request)}")
        if confirmed:
            otp_login(request, device)
            record_change(
                actor=cast("User", request.user), referral=None, what="second factor set up", request=request
            )
            return HttpResponseRedirect(_next_url(request))
        form.add_error("code", "That code is not valid. Check the time on your phone and try again.")
    secret = device.config_url.split("secret=")[1].split("&")[0]
    context = {"form": form, "config_url": device.config_url, "secret": secret, "next": _next_url(request)}
    return render(request, "accounts/mfa_setup.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Enter a code after signing in with a password."""
    device = confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse('mfa-setup')}?next={_next_url(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if verify_sign_in_code(device, form.cleaned_data["code"]):
            otp_login(request, device)
            return HttpResponseRedirect(_next_url(request))
        form.add_error("code", "That code is not valid, or too many codes were tried: wait and try again.")
    context = {"form": form, "next": _next_url(request)}
    return render(request, "accounts/mfa_verify.html", context, status=400 if form.errors else 200)
