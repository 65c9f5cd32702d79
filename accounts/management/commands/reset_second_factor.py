"""Remove a user's authenticator app (a lost phone), so that their next sign-in sets up a new one.

Removing a confirmed device signs the user out everywhere, web and API (``accounts.mfa``): a session
that the lost phone let in must not go on to set up an authenticator of its own."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import AuthenticatorApp
from audit.services import record_change


class Command(BaseCommand):
    help = (
        "Remove a user's second-factor devices, which signs them out everywhere (web sessions and API "
        "token) if one was set up; they set up a new device at next sign-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        with transaction.atomic():
            removed, _ = AuthenticatorApp.objects.filter(user=user).delete()
            record_change(
                actor=None, referral=None, what=f"second factor reset for {user.username}", changes={}
            )
        self.stdout.write(f"Removed {removed} device(s) of {user.username}; they will set up a new one.")
