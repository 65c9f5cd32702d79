from django.apps import AppConfig


class CareProvidersConfig(AppConfig):
    name = "care_providers"
