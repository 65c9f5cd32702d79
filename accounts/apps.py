from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and users"

    def ready(self) -> None:
        from . import sessions  # noqa: F401  (connects the login signal)
