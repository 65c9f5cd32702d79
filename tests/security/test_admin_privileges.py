"""A staff user who is not a superuser cannot raise themselves, or anyone, through the admin: admin rights,
the manager role and the contractor are given only by a superuser, and privileged accounts, their own
included, are not theirs to change or to set the password of."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.models import AuthenticatorApp, Organisation, OrganisationKind, Role, User
from tests.factories import OrganisationFactory, contractor, manager, responder

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase"


def staff_user(*codenames: str) -> User:
    """A help-desk account: staff, not a superuser, with only the given permissions."""
    user = User.objects.create_user("helpdesk", password="Helpdesk-pass-2026", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture(autouse=True)
def no_second_factor(settings: Any) -> None:
    settings.REQUIRE_MFA = False  # these tests are about what the admin allows, not how one signs in


def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.test", "a-long-admin-password")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def helpdesk() -> User:
    return staff_user(
        "view_user", "change_user", "add_user", "view_organisation", "change_organisation", "add_organisation"
    )


@pytest.fixture
def helpdesk_client(helpdesk: User) -> Client:
    return signed_in(helpdesk)


def change_data(user: User, **overrides: Any) -> dict[str, Any]:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "date_joined_0": f"{user.date_joined:%Y-%m-%d}",
        "date_joined_1": f"{user.date_joined:%H:%M:%S}",
        "organisation": user.organisation_id or "",
        "role": user.role,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def set_password(client: Client, user: User) -> int:
    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    return response.status_code


def test_a_staff_user_cannot_make_themselves_superuser_or_manager_in_the_admin(helpdesk, helpdesk_client):
    url = reverse("admin:accounts_user_change", args=[helpdesk.pk])
    page = helpdesk_client.get(url)
    assert page.status_code == 200  # seen, read-only
    assert 'name="is_superuser"' not in page.content.decode()
    assert 'name="role"' not in page.content.decode()
    response = helpdesk_client.post(
        url,
        change_data(
            helpdesk,
            is_superuser="on",
            role=Role.MANAGER,
            organisation=contractor().pk,
            groups=[Group.objects.create(name="Everything").pk],
            user_permissions=list(Permission.objects.values_list("pk", flat=True)),
        ),
    )
    assert response.status_code == 403
    helpdesk.refresh_from_db()
    assert (helpdesk.is_superuser, helpdesk.role, helpdesk.organisation_id) == (False, "", None)
    assert not helpdesk.groups.exists()
    assert set(helpdesk.user_permissions.values_list("codename", flat=True)) == {
        "view_user",
        "change_user",
        "add_user",
        "view_organisation",
        "change_organisation",
        "add_organisation",
    }


def test_a_staff_user_cannot_set_their_own_or_a_managers_or_a_superusers_password_in_the_admin(
    helpdesk, helpdesk_client
):
    root = superuser()
    others = [helpdesk, manager(), root, responder(is_staff=True)]
    for user in others:
        before = User.objects.get(pk=user.pk).password
        assert set_password(helpdesk_client, user) == 403
        assert User.objects.get(pk=user.pk).password == before


def test_a_staff_user_cannot_change_a_manager_or_a_superuser_in_the_admin(helpdesk, helpdesk_client):
    boss = manager()
    root = superuser()
    for user in (boss, root):
        url = reverse("admin:accounts_user_change", args=[user.pk])
        response = helpdesk_client.post(url, change_data(user, email="taken-over@x.test", is_active=""))
        assert response.status_code == 403
        user.refresh_from_db()
        assert (user.email, user.is_active) != ("taken-over@x.test", False)
        assert user.is_active


def test_a_staff_user_looks_after_responders_but_cannot_raise_them(helpdesk, helpdesk_client):
    user = responder()
    url = reverse("admin:accounts_user_change", args=[user.pk])
    refused = helpdesk_client.post(url, change_data(user, role=Role.MANAGER, organisation=contractor().pk))
    assert refused.status_code == 200 and "role" in refused.context["adminform"].form.errors
    response = helpdesk_client.post(
        url, change_data(user, first_name="Renamed", is_staff="on", is_superuser="on")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert (user.first_name, user.role, user.is_staff, user.is_superuser) == (
        "Renamed",
        Role.FIRST_RESPONDER,
        False,
        False,
    )
    assert set_password(helpdesk_client, user) == 302  # a password reset is the help desk's work
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_staff_user_cannot_add_a_superuser_or_a_manager_in_the_admin(helpdesk_client):
    data = {
        "username": "new-account",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "is_superuser": "on",
        "is_staff": "on",
        "organisation": contractor().pk,
        "role": Role.MANAGER,
    }
    refused = helpdesk_client.post(reverse("admin:accounts_user_add"), data)
    assert refused.status_code == 200 and "role" in refused.context["adminform"].form.errors
    assert not User.objects.filter(username="new-account").exists()
    police = OrganisationFactory(kind=OrganisationKind.POLICE)
    added = helpdesk_client.post(
        reverse("admin:accounts_user_add"), {**data, "organisation": police.pk, "role": Role.FIRST_RESPONDER}
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    user = User.objects.get(username="new-account")
    assert (user.is_superuser, user.is_staff, user.role) == (False, False, Role.FIRST_RESPONDER)


def test_a_superuser_still_grants_admin_rights_and_the_manager_role():
    root = superuser()
    client = signed_in(root)
    user = responder()
    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        change_data(user, is_staff="on", role=Role.MANAGER, organisation=contractor().pk),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert (user.is_staff, user.role) == (True, Role.MANAGER)
    assert set_password(client, user) == 302


def organisation_data(organisation: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": organisation.name,
        "kind": organisation.kind,
        "notification_emails": "",
        "webhook_url": "",
    }
    data.update(overrides)
    return data


def test_a_staff_user_cannot_make_an_organisation_the_contractor_or_change_the_contractor(
    helpdesk_client,
):
    police = OrganisationFactory(kind=OrganisationKind.POLICE)
    refused = helpdesk_client.post(
        reverse("admin:accounts_organisation_change", args=[police.pk]),
        organisation_data(police, kind=OrganisationKind.CONTRACTOR),
    )
    assert refused.status_code == 200 and "kind" in refused.context["adminform"].form.errors
    police.refresh_from_db()
    assert police.kind == OrganisationKind.POLICE
    added = helpdesk_client.post(
        reverse("admin:accounts_organisation_add"),
        organisation_data(police, name="Second contractor", kind=OrganisationKind.CONTRACTOR),
    )
    assert added.status_code == 200 and "kind" in added.context["adminform"].form.errors
    assert not Organisation.objects.filter(name="Second contractor").exists()
    the_contractor = contractor()
    response = helpdesk_client.post(
        reverse("admin:accounts_organisation_change", args=[the_contractor.pk]),
        organisation_data(the_contractor, kind=OrganisationKind.NGO),
    )
    assert response.status_code == 403
    the_contractor.refresh_from_db()
    assert the_contractor.kind == OrganisationKind.CONTRACTOR


def test_a_staff_user_cannot_give_their_group_more_permissions_in_the_admin():
    user = staff_user("view_group", "change_group", "add_group")
    group = Group.objects.create(name="Help desk")
    user.groups.add(group)
    client = signed_in(user)
    everything = list(Permission.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": "Help desk", "permissions": everything}
    )
    assert response.status_code == 403
    assert not group.permissions.exists()
    added = client.post(reverse("admin:auth_group_add"), {"name": "All", "permissions": everything})
    assert added.status_code == 403
    assert not Group.objects.filter(name="All").exists()


def test_a_staff_user_cannot_delete_their_own_or_a_managers_or_a_superusers_account_in_the_admin():
    user = staff_user("view_user", "delete_user")
    client = signed_in(user)
    root = superuser()
    for account in (user, manager(), root, responder(is_staff=True)):
        url = reverse("admin:accounts_user_delete", args=[account.pk])
        assert client.get(url).status_code == 403
        assert client.post(url, {"post": "yes"}).status_code == 403
        assert User.objects.filter(pk=account.pk).exists()
    tidied = responder()
    response = client.post(reverse("admin:accounts_user_delete", args=[tidied.pk]), {"post": "yes"})
    assert response.status_code == 302  # tidying away responders' accounts is the help desk's work
    assert not User.objects.filter(pk=tidied.pk).exists()


def test_delete_selected_refuses_a_selection_holding_a_privileged_account():
    user = staff_user("view_user", "delete_user")
    client = signed_in(user)
    boss, leaver = manager(), responder()
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [boss.pk, leaver.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert User.objects.filter(pk__in=[boss.pk, leaver.pk]).count() == 2


def authenticator_app_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Authenticator app",
        "confirmed": "on",
        "step": 30,
        "t0": 0,
        "digits": 6,
        "tolerance": 1,
        "drift": 0,
        "throttling_failure_count": 0,
    }
    data.update(overrides)
    return data


def test_no_one_changes_an_authenticator_app_in_the_admin():
    user = staff_user("view_authenticatorapp", "change_authenticatorapp", "delete_authenticatorapp")
    root = superuser()
    for admin_user in (user, root):
        client = signed_in(admin_user)
        for owner in (manager(), responder()):
            app = AuthenticatorApp.objects.create(user=owner, name="Authenticator app", confirmed=True)
            url = reverse("admin:accounts_authenticatorapp_change", args=[app.pk])
            assert 'name="tolerance"' not in client.get(url).content.decode()  # shown read-only
            response = client.post(url, authenticator_app_data(tolerance=32000, digits=8, confirmed=""))
            assert response.status_code == 403
            app.refresh_from_db()
            assert (app.tolerance, app.digits, app.confirmed) == (1, 6, True)


def test_only_a_superuser_deletes_a_privileged_accounts_authenticator_app_in_the_admin():
    user = staff_user("view_authenticatorapp", "delete_authenticatorapp")
    client = signed_in(user)
    root = superuser()
    for owner in (user, manager(), root):
        app = AuthenticatorApp.objects.create(user=owner, name="Authenticator app", confirmed=True)
        url = reverse("admin:accounts_authenticatorapp_delete", args=[app.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403
        assert AuthenticatorApp.objects.filter(pk=app.pk).exists()
    bulk = client.post(
        reverse("admin:accounts_authenticatorapp_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(AuthenticatorApp.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    assert bulk.status_code == 403
    assert AuthenticatorApp.objects.count() == 3
    lost = AuthenticatorApp.objects.create(user=responder(), name="Authenticator app", confirmed=True)
    response = client.post(reverse("admin:accounts_authenticatorapp_delete", args=[lost.pk]), {"post": "yes"})
    assert response.status_code == 302  # a responder's lost phone is the help desk's to remove
    assert not AuthenticatorApp.objects.filter(pk=lost.pk).exists()
    client.force_login(root)
    boss_app = AuthenticatorApp.objects.get(user__role=Role.MANAGER)
    response = client.post(
        reverse("admin:accounts_authenticatorapp_delete", args=[boss_app.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AuthenticatorApp.objects.filter(pk=boss_app.pk).exists()
