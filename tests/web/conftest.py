from __future__ import annotations

import datetime
import re
from html import escape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from care_providers.models import CareProvider
from referrals import services
from referrals.models import Referral
from tests.factories import CareProviderFactory, manager, provider_user, submitted_referral

# The managers' duty line (MANAGERS_DUTY_PHONE, as tests/conftest.py sets it) as a page links to it.
DUTY_LINE = '<a href="tel:02079460321">020 7946 0321</a>'


@pytest.fixture(autouse=True)
def _password_only_sign_in(settings: Any) -> None:
    """These tests are about the pages; the second factor has its own tests."""
    settings.REQUIRE_MFA = False


def intake_data(**overrides: Any) -> dict[str, Any]:
    """A valid referral as the intake form posts it."""
    data: dict[str, Any] = {
        "consent": "on",
        "given_name": "Amina",
        "family_name": "Haile",
        "aliases": "",
        "date_of_birth": "1995-03-14",
        "age_estimate": "",
        "gender": "female",
        "local_authority": "",
        "local_authority_contact": "",
        "nationality": "ER",
        "second_nationality": "",
        "languages": ["ti", "en"],
        "interpreter_needed": "on",
        "exploitation_types": ["labour"],
        "exploitation_location": "both",
        "region": "london",
        "needs_accommodation": "on",
        "safe_to_contact": "on",
        "contact_phone": "07700 900123",
        "account": "Found working in a car wash with no pay.",
        "responder_reference": "",
        "crime_reference": "",
        "action": "submit",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def assert_field_error_reported(html: str, *, field_id: str, hint: str, message: str) -> None:
    """The field's error is reported as on every Harbour form: "Error: " before the page's title; a
    summary that takes focus and links the message to the field; the field marked invalid and described
    by its hint and its message, both on the page, the message read out after a hidden "Error: "."""
    assert "<title>Error: " in html
    summary = re.search(r'<div class="error-summary"([^>]*)>.*?</div>', html, re.S)
    assert summary and "autofocus" in summary[1], "no error summary taking focus"
    assert f'<a href="#{field_id}">{escape(message)}</a>' in summary[0]
    control = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{field_id}"[^>]*>', html)
    assert control and 'aria-invalid="true"' in control[0]
    described_by = re.search(r'aria-describedby="([^"]+)"', control[0])
    assert described_by, f"{field_id} is described by nothing"
    descriptions = []
    for target in described_by[1].split():
        description = re.search(rf'<(p|div) [^>]*\bid="{target}"[^>]*>(.*?)</\1>', html, re.S)
        assert description, f"{field_id} is described by {target}, which is not on the page"
        descriptions.append(description[2])
    assert descriptions == [escape(hint), f'<span class="visually-hidden">Error: </span>{escape(message)}']


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def session_lapses(client: Client) -> None:
    """The idle timeout: the server no longer has the session, but the browser still sends its cookie
    (it lasts until the browser closes), as it does its others (CSRF, messages)."""
    client.session.delete()


def offered(provider: CareProvider | None = None, **fields: Any) -> tuple[Referral, CareProvider, User]:
    """An assessed referral with a pending offer to a provider; returns it, the provider and the manager."""
    boss = manager()
    referral = submitted_referral(**fields)
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="accommodation")
    provider = provider or CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    referral.refresh_from_db()
    return referral, provider, boss


def placed(provider: CareProvider | None = None, **fields: Any) -> tuple[Referral, User, User]:
    """A referral placed with a provider; returns it, a user of that provider and the manager."""
    referral, provider, boss = offered(provider, **fields)
    staff = provider_user(provider)
    services.accept_offer(referral_id=referral.pk, actor=staff)
    referral.refresh_from_db()
    return referral, staff, boss


def recovery_review_near(referral: Referral) -> None:
    """Its reminder has gone: from now on a note can be the review."""
    referral.deadlines.filter(clock="recovery_review").update(
        remind_at=timezone.now() - datetime.timedelta(minutes=1)
    )
