"""The admin is for configuration: no page of it shows an encrypted field's value, a person's details, a
note about them or a secret, to a superuser or to a staff user who may only look (SPEC §10)."""

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import AuthenticatorApp, Organisation, User
from care_providers.models import PlacementOffer
from referrals import services
from referrals.encryption import EncryptedDateField, EncryptedTextField
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    manager,
    offered_with_a_note,
    provider_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_second_factor(settings: Any) -> None:
    settings.REQUIRE_MFA = False  # these tests are about what the admin shows, not how one signs in


def encrypted_values() -> dict[type, set[str]]:
    """Every value held in an encrypted text or date field, by model, as Python reads it."""
    values: dict[type, set[str]] = {}
    for model in apps.get_models():
        fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField | EncryptedDateField)
        ]
        for row in model._default_manager.all() if fields else []:
            held = {str(value) for name in fields if (value := getattr(row, name))}
            values.setdefault(model, set()).update(held)
    return values


def admin_pages(client: Client) -> dict[str, str]:
    """Every registered model's list, and the page of each of its records, by address."""
    pages = {}
    for model in admin.site._registry:
        meta = model._meta
        addresses = [reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")]
        addresses += [
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])
            for pk in model._default_manager.values_list("pk", flat=True)
        ]
        for address in addresses:
            response = client.get(address)
            assert response.status_code == 200, address
            pages[address] = response.content.decode()
    return pages


def look_only() -> User:
    """A staff user who may view every record in the admin and change none."""
    user = User.objects.create_user("viewer", password="Viewer-pass-2026", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    return user


def test_no_admin_page_shows_the_value_of_an_encrypted_field():
    boss = manager()
    provider = CareProviderFactory()
    referral = offered_with_a_note(boss, provider, "OfferNoteSecret: fears her brother")
    services.accept_offer(referral_id=referral.pk, actor=provider_user(provider))
    OrganisationFactory(
        webhook_url="https://receiver.example/hook", webhook_secret="WebhookSecret-0123456789"
    )
    AuthenticatorApp.objects.create(user=boss, name="Authenticator app", confirmed=True)
    values = encrypted_values()
    # Each kind of encrypted value the admin's models hold is there to be looked for.
    assert {PlacementOffer, Organisation, AuthenticatorApp} <= {
        model for model, held in values.items() if held and model in admin.site._registry
    }
    superuser = User.objects.create_superuser("root", "root@example.test", "a-long-admin-password")
    for user in (superuser, look_only()):
        client = Client()
        client.force_login(user)
        for address, html in admin_pages(client).items():
            for value in set().union(*values.values()):
                assert value not in html, (user.username, address, value)


def test_a_superuser_still_sets_a_webhook_secret_in_a_box_that_shows_none():
    organisation = OrganisationFactory(
        webhook_url="https://receiver.example/hook", webhook_secret="Old-secret-0123456789"
    )
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))
    html = client.get(reverse("admin:accounts_organisation_change", args=[organisation.pk])).content.decode()
    assert 'type="password" name="webhook_secret"' in html and "Old-secret" not in html
