from django.apps import AppConfig


class CareProvidersConfig(AppConfig):
    name = "care_providers"
    verbose_name = "Care providers"
