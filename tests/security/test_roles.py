"""A role fits the kind of organisation its user works for (SPEC §2).

What a user may see follows from the role alone, so a manager's role given to a police officer would
open every case in the country to them. The admin refuses it, either way round.
"""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import Organisation, OrganisationKind, Role, User
from tests.factories import OrganisationFactory, contractor, responder
from tests.security.test_admin_audit import user_change_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(settings: Any) -> Client:
    settings.REQUIRE_MFA = False  # these tests are about the rule, not how one signs in
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "a-long-admin-password"))
    return client


@pytest.mark.parametrize(
    ("role", "kind", "fits"),
    [
        (Role.MANAGER, OrganisationKind.CONTRACTOR, True),
        (Role.MANAGER, OrganisationKind.POLICE, False),
        (Role.MANAGER, OrganisationKind.CARE_PROVIDER, False),
        (Role.FIRST_RESPONDER, OrganisationKind.NGO, True),
        (Role.FIRST_RESPONDER, OrganisationKind.BORDER_FORCE, True),
        (Role.FIRST_RESPONDER, OrganisationKind.CONTRACTOR, False),
        (Role.FIRST_RESPONDER, OrganisationKind.CARE_PROVIDER, False),
        (Role.CARE_PROVIDER, OrganisationKind.CARE_PROVIDER, True),
        (Role.CARE_PROVIDER, OrganisationKind.LOCAL_AUTHORITY, False),
    ],
)
def test_a_role_needs_an_organisation_of_a_kind_that_has_it(role, kind, fits):
    user = User(username="someone", role=role, organisation=OrganisationFactory(kind=kind))
    if fits:
        user.full_clean(exclude=["password"])
        return
    with pytest.raises(ValidationError) as refused:
        user.full_clean(exclude=["password"])
    assert "role" in refused.value.message_dict


def test_a_role_needs_an_organisation_but_an_account_without_a_role_does_not():
    with pytest.raises(ValidationError) as refused:
        User(username="someone", role=Role.MANAGER).full_clean(exclude=["password"])
    assert refused.value.message_dict["organisation"] == ["A manager belongs to an organisation: choose one."]
    User(username="admin-only").full_clean(exclude=["password"])


def test_the_admin_refuses_to_make_a_police_officer_a_manager(admin_client):
    officer = responder()
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[officer.pk]), user_change_data(officer, role=Role.MANAGER)
    )
    assert response.status_code == 200
    assert "Police organisations have no manager users" in response.content.decode()
    officer.refresh_from_db()
    assert officer.role == Role.FIRST_RESPONDER


def test_the_admin_moves_an_officer_to_the_contractor_as_a_manager(admin_client):
    officer = responder()
    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[officer.pk]),
        user_change_data(officer, role=Role.MANAGER, organisation=contractor().pk),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    officer.refresh_from_db()
    assert (officer.role, officer.organisation.kind) == (Role.MANAGER, OrganisationKind.CONTRACTOR)


def test_the_admin_refuses_a_kind_that_leaves_users_in_a_role_it_has_not(admin_client):
    force = responder().organisation
    url = reverse("admin:accounts_organisation_change", args=[force.pk])
    form = {"name": force.name, "notification_emails": "", "webhook_url": ""}

    response = admin_client.post(url, {**form, "kind": OrganisationKind.CONTRACTOR})
    assert response.status_code == 200
    assert (
        "Victim care contractor organisations have no first responder users, and this one has some"
        in response.content.decode()
    )
    assert Organisation.objects.get(pk=force.pk).kind == OrganisationKind.POLICE

    response = admin_client.post(url, {**form, "kind": OrganisationKind.NGO})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Organisation.objects.get(pk=force.pk).kind == OrganisationKind.NGO
