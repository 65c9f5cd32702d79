from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest
from django.core import mail

from tests.factories import referral_fields

from .receivers import SmtpReceiver, WebhookReceiver

_PERSON = referral_fields()
# A child's local authority and the social worker there, whom notifications never name either.
CHILDRENS_SERVICES = {
    "local_authority": "Slough Borough Council",
    "local_authority_contact": "Jo Okafor, duty social worker, 01632 960123",
}


def personal_data_in(text: str) -> list[str]:
    """The factories' personal details that appear in ``text`` (names, date of birth, phone, account, a
    child's local authority and contact there)."""
    dob: datetime.date = _PERSON["date_of_birth"]
    needles = [
        _PERSON["given_name"],
        _PERSON["family_name"],
        _PERSON["contact_phone"],
        _PERSON["contact_phone"].replace(" ", ""),
        _PERSON["account"],
        CHILDRENS_SERVICES["local_authority"],
        CHILDRENS_SERVICES["local_authority_contact"],
        "Okafor",
        "01632 960123",
        "01632960123",
        dob.isoformat(),
        dob.strftime("%d/%m/%Y"),
        dob.strftime("%d %b %Y"),
        dob.strftime("%d %B %Y"),
    ]
    lowered = text.lower()
    return [needle for needle in needles if needle.lower() in lowered]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The factories set a password on every user; production-strength hashing would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
    for hook in receiver.received:
        assert personal_data_in(hook.body.decode()) == [], "personal data in a webhook body"
        assert personal_data_in(json.dumps(hook.headers)) == [], "personal data in webhook headers"


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()
    for raw in receiver.raw:
        assert personal_data_in(raw.decode(errors="replace")) == [], "personal data in an email"


@pytest.fixture(autouse=True)
def _no_personal_data_in_any_email() -> Iterator[None]:
    """Every email any test in this package produces is scanned for the people's details."""
    yield
    for message in getattr(mail, "outbox", []):
        text = "\n".join([message.subject, message.body, *message.to])
        assert personal_data_in(text) == [], f"personal data in an email: {message.subject}"
