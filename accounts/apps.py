from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and users"

    def ready(self) -> None:
        from . import mfa, sessions  # noqa: F401  (connect their signals)
