"""Edits in the Django admin reach the append-only audit trail, without secrets or personal details."""

import json
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuthenticatorApp, Organisation, Role, User
from audit.models import AuditAction, AuditEvent
from care_providers.models import CareProvider, Placement, PlacementOffer
from notifications.models import InboxItem, Notification
from referrals.models import AnonymousNotification
from tests.factories import CareProviderFactory, OrganisationFactory, contractor, manager, responder

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", "root@example.test", "a-long-admin-password")


@pytest.fixture
def admin_client(settings: Any, root: User) -> Client:
    settings.REQUIRE_MFA = False  # these tests are about the trail, not how one signs in
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(root)
    return client


def last_admin_event() -> AuditEvent:
    return AuditEvent.objects.filter(what__startswith="admin: ").latest("id")


def trail_text() -> str:
    return json.dumps([[event.what, event.changes] for event in AuditEvent.objects.all()])


def user_change_data(user: User, **overrides: Any) -> dict[str, Any]:
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": f"{joined:%Y-%m-%d}",
        "date_joined_1": f"{joined:%H:%M:%S}",
        # A field with a callable default is compared with its initial value as the page sent it.
        "initial-date_joined_0": f"{joined:%Y-%m-%d}",
        "initial-date_joined_1": f"{joined:%H:%M:%S}",
        "organisation": user.organisation_id,
        "role": user.role,
    }
    data.update(overrides)
    return data


def test_promoting_a_user_to_manager_in_the_admin_is_audited_with_who_where_and_before_after(
    admin_client, root
):
    user = responder()
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        user_change_data(
            user, role=Role.MANAGER, organisation=contractor().pk, first_name="Amina", email="a.haile@x.test"
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = last_admin_event()
    assert (event.actor, event.action, event.referral, event.ip_address) == (
        root,
        AuditAction.CHANGE,
        None,
        ADDRESS,
    )
    assert event.what == f"admin: user {user.pk} ({user.username}) changed"
    assert event.changes == {
        "first_name": "changed",
        "email": "changed",
        "organisation": {"before": user.organisation.name, "after": "Victim Care Contractor"},
        "role": {"before": "first_responder", "after": "manager"},
    }
    assert "Amina" not in trail_text() and "a.haile" not in trail_text()


def test_adding_a_user_in_the_admin_is_audited_without_the_password(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "new-manager",
            "usable_password": "true",
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
            "email": "",
            "organisation": contractor().pk,
            "role": Role.MANAGER,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="new-manager")
    event = last_admin_event()
    assert event.what == f"admin: user {user.pk} (new-manager) added"
    assert event.changes["username"] == {"after": "new-manager"}
    assert event.changes["role"] == {"after": "manager"}
    assert event.changes["password1"] == event.changes["password2"] == "changed"
    assert "a-brand-new-passphrase" not in trail_text() and user.password not in trail_text()


def test_setting_a_password_in_the_admin_is_audited_without_it(admin_client, root):
    user = manager()
    old_hash = user.password
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    event = last_admin_event()
    assert (event.actor, event.ip_address, event.changes) == (root, ADDRESS, {"password": "changed"})
    assert event.what == f"admin: user {user.pk} ({user.username}) password changed"
    for secret in ("a-brand-new-passphrase", old_hash, user.password):
        assert secret not in trail_text()


def test_a_refused_password_form_writes_no_audit_row(admin_client):
    user = manager()
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "a-brand-new-passphrase", "password2": "something-else", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(what__startswith="admin: ").exists()


def test_an_organisation_edit_is_audited_without_its_webhook_secret_or_addresses(admin_client):
    organisation = OrganisationFactory(kind="police")
    response = admin_client.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {
            "name": organisation.name,
            "kind": "ngo",
            "notification_emails": "jo.bloggs@ngo.test",
            "webhook_url": "https://hooks.ngo.test/T000/B000/credential-in-the-path",
            "webhook_secret": "whsec-do-not-log",
        },
    )
    assert response.status_code == 302
    event = last_admin_event()
    assert event.what == f"admin: organisation {organisation.pk} ({organisation.name}) changed"
    assert event.changes == {
        "kind": {"before": "police", "after": "ngo"},
        "notification_emails": "changed",
        "webhook_url": {"before": "", "after": "hooks.ngo.test"},
        "webhook_secret": "changed",
    }
    for secret in ("whsec-do-not-log", "credential-in-the-path", "jo.bloggs"):
        assert secret not in trail_text()


def test_a_care_provider_edit_is_audited_with_its_capacity_and_without_its_secret(admin_client):
    provider = CareProviderFactory(beds_women=5)
    response = admin_client.post(
        reverse("admin:care_providers_careprovider_change", args=[provider.pk]),
        {
            "organisation": provider.organisation_id,
            "name": provider.name,
            "active": "on",
            "regions": provider.regions,
            "services": provider.services,
            "beds_women": 9,
            "beds_men": provider.beds_men,
            "beds_family": provider.beds_family,
            "supports_children": "on",
            "languages": provider.languages,
            "notification_emails": "\n".join(provider.organisation.notification_emails),
            "webhook_url": "",
            "webhook_secret": "whsec-do-not-log",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = last_admin_event()
    assert event.what == f"admin: care provider {provider.pk} ({provider.name}) changed"
    assert event.changes == {"beds_women": {"before": 5, "after": 9}, "webhook_secret": "changed"}
    assert "whsec-do-not-log" not in trail_text()


def test_deleting_in_the_admin_is_audited_one_row_per_record(admin_client, root):
    lone = OrganisationFactory()
    response = admin_client.post(
        reverse("admin:accounts_organisation_delete", args=[lone.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Organisation.objects.filter(pk=lone.pk).exists()
    event = last_admin_event()
    assert (event.what, event.actor, event.ip_address) == (
        f"admin: organisation {lone.pk} ({lone.name}) deleted",
        root,
        ADDRESS,
    )

    providers = [CareProviderFactory(), CareProviderFactory()]
    response = admin_client.post(
        reverse("admin:care_providers_careprovider_changelist"),
        {"action": "delete_selected", "_selected_action": [p.pk for p in providers], "post": "yes"},
    )
    assert response.status_code == 302
    assert not CareProvider.objects.exists()
    deleted = AuditEvent.objects.filter(what__endswith=") deleted", what__contains="care provider")
    assert sorted(deleted.values_list("what", flat=True)) == sorted(
        f"admin: care provider {p.pk} ({p.name}) deleted" for p in providers
    )


def test_removing_an_authenticator_app_in_the_admin_is_audited(admin_client):
    device = AuthenticatorApp.objects.create(user=manager(), name="Authenticator app", confirmed=True)
    response = admin_client.post(
        reverse("admin:accounts_authenticatorapp_delete", args=[device.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert last_admin_event().what == f"admin: authenticator app {device.pk} ({device}) deleted"
    assert device.key not in trail_text()


def test_changing_a_groups_permissions_in_the_admin_is_audited(admin_client, root):
    group = Group.objects.create(name="Configuration")
    permission = Permission.objects.get(codename="change_careprovider")
    response = admin_client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "Configuration", "permissions": [permission.pk]},
    )
    assert response.status_code == 302
    event = last_admin_event()
    assert (event.what, event.actor, event.ip_address) == (
        f"admin: group {group.pk} (Configuration) changed",
        root,
        ADDRESS,
    )
    assert event.changes == {"permissions": {"before": [], "after": [str(permission)]}}


def test_lifting_a_lockout_in_the_admin_is_audited(admin_client, root):
    attempt = AccessAttempt.objects.create(
        username="responder",
        ip_address="203.0.113.9",
        failures_since_start=5,
        user_agent="",
        get_data="",
        post_data="",
        http_accept="",
        path_info="/login/",
    )
    response = admin_client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    event = last_admin_event()
    assert event.what == f"admin: access attempt {attempt.pk} ({attempt}) deleted"
    # Whose lockout was lifted: the record's own name says only when the attempt was.
    assert event.changes == {"username": "responder", "ip_address": "203.0.113.9"}


@pytest.mark.parametrize(
    "model",
    [Notification, InboxItem, AnonymousNotification, PlacementOffer, Placement, AuditEvent],
    ids=lambda model: model._meta.model_name,
)
def test_records_only_the_services_write_are_read_only_in_the_admin(admin_client, model):
    """Nothing the trail would not show: a deleted escalation, an edited outbox row, an inbox message."""
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    listing = admin_client.get(reverse(f"{prefix}_changelist"))
    assert listing.status_code == 200
    assert b"delete_selected" not in listing.content
    assert admin_client.get(reverse(f"{prefix}_add")).status_code == 403
    assert admin_client.post(reverse(f"{prefix}_delete", args=[1]), {"post": "yes"}).status_code == 403


def test_an_admin_edit_reads_in_words_on_the_managers_trail_page(admin_client, client):
    organisation = OrganisationFactory(kind="police")
    user = responder()
    admin_client.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {"name": organisation.name, "kind": "ngo", "notification_emails": "", "webhook_url": ""},
    )
    admin_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        user_change_data(user, role=Role.MANAGER, organisation=contractor().pk),
    )
    client.force_login(manager())
    trail = client.get(reverse("audit-log"), {"username": "root"}).content.decode()
    assert "Kind: Police → NGO" in trail
    assert "Role: First responder → Manager" in trail
    assert "kind: police" not in trail and "first_responder" not in trail
