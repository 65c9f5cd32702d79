"""A provider changed in the admin at the moment a manager offers it a person, on PostgreSQL with real
threads: the offer is checked against the provider as the admin leaves it, never as it was before."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from care_providers.forms import CareProviderForm
from care_providers.models import OfferState
from referrals import services
from referrals.exceptions import ProviderCannotTake
from tests.api.cases import bring_to
from tests.api.test_concurrency import wait_until_waiting_for_a_lock
from tests.factories import CareProviderFactory, provider_admin_form

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("change", "person", "refusal"),
    [
        ({"services": ["outreach"]}, {}, "offers outreach only"),
        (
            {"supports_children": ""},
            {"date_of_birth": None, "age_estimate": 15, "consent": False},
            "does not support children",
        ),
    ],
    ids=["stops-offering-accommodation", "stops-supporting-children"],
)
def test_an_offer_made_while_the_admin_saves_a_change_that_rules_the_person_out_is_refused(
    change, person, refusal
):
    case = bring_to("assessed", **person)
    provider = CareProviderFactory()
    saved, release = threading.Event(), threading.Event()

    def save_in_the_admin() -> None:
        """The admin's form checks no one is offered to the provider (none is yet) and saves, its
        transaction still open, as the admin's is until the page is answered."""
        try:
            with transaction.atomic():
                form = CareProviderForm(provider_admin_form(provider, **change), instance=provider)
                assert form.is_valid(), form.errors
                form.save()
                saved.set()
                release.wait(30)
        finally:
            connection.close()

    outcome: dict[str, Any] = {}

    def offer() -> None:
        try:
            services.offer_placement(
                referral_id=case.referral.pk, actor=case.manager, provider_id=provider.pk
            )
        except ProviderCannotTake as refused:
            outcome["refused"] = refused.message
        else:
            outcome["offered"] = True
        finally:
            connection.close()

    admin = threading.Thread(target=save_in_the_admin)
    admin.start()
    assert saved.wait(30)
    manager = threading.Thread(target=offer)
    manager.start()
    wait_until_waiting_for_a_lock()  # the offer waits for the admin's change
    release.set()
    admin.join(30)
    manager.join(30)

    assert "offered" not in outcome, "offered to a provider that can no longer take the person"
    assert refusal in outcome["refused"]
    assert not case.referral.offers.filter(state=OfferState.PENDING).exists()
