"""Deploy checks (``manage.py check --deploy``) of how notifications leave Harbour."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Backends that accept every message and send none: a notification is recorded as delivered all the same.
EMAIL_BACKENDS_THAT_SEND_NOTHING = {
    "django.core.mail.backends.console.EmailBackend": "the console",
    "django.core.mail.backends.filebased.EmailBackend": "files",
    "django.core.mail.backends.locmem.EmailBackend": "memory",
    "django.core.mail.backends.dummy.EmailBackend": "nowhere",
}


@register(Tags.security, deploy=True)
def check_email_is_sent(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Alerts to organisations without a webhook go by e-mail only; written to a file, nobody reads them."""
    destination = EMAIL_BACKENDS_THAT_SEND_NOTHING.get(settings.EMAIL_BACKEND)
    if settings.DEBUG or destination is None:
        return []
    return [
        Warning(
            f"E-mail goes to {destination}, not to a mail server: notifications are recorded as delivered "
            "and nobody receives them.",
            hint="Set EMAIL_URL to your mail relay, e.g. smtp+tls://user:password@mail.example.org:587.",
            id="notifications.W001",
        )
    ]
