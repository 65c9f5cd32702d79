"""The case page costs the same number of queries for a short history as for a long one: no N+1 over
offers, placements or transitions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from care_providers.models import CareProvider
from referrals import services
from referrals.wording import NO_DUTY_PHONE
from tests.factories import CareProviderFactory, manager, provider_user, submitted_referral
from tests.web.conftest import signed_in
from tests.web.test_list_query_counts import queries_for

pytestmark = pytest.mark.django_db


def placed_case(boss: User, providers: list[CareProvider], *, progress_notes: int) -> int:
    """A case offered to each provider in turn, rejected by all but the last, which accepts it."""
    referral = submitted_referral(gender="female")
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    for n, provider in enumerate(providers):
        staff = provider_user(provider)
        services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
        if n < len(providers) - 1:
            services.reject_offer(referral_id=referral.pk, actor=staff, reason="no_capacity")
        else:
            services.accept_offer(referral_id=referral.pk, actor=staff)
            for note in range(progress_notes):
                services.record_progress(
                    referral_id=referral.pk, actor=staff, note=f"Week {note + 1}: settled."
                )
    return referral.pk


def test_the_case_page_costs_the_same_queries_for_one_offer_as_for_several_and_a_long_history() -> None:
    boss = manager()
    providers = [CareProviderFactory(beds_women=10) for _ in range(4)]
    short = placed_case(boss, providers[-1:], progress_notes=0)
    long = placed_case(boss, providers, progress_notes=5)

    short_queries = queries_for(boss, reverse("referrals:case", kwargs={"pk": short}))
    long_queries = queries_for(boss, reverse("referrals:case", kwargs={"pk": long}))

    assert long_queries == short_queries


def test_a_manager_on_a_placed_case_reads_its_offers_with_the_placement_and_organisation_once() -> None:
    boss = manager()
    provider = CareProviderFactory(beds_women=10)
    case = placed_case(boss, [provider], progress_notes=1)
    url = reverse("referrals:case", kwargs={"pk": case})
    client = signed_in(boss)
    client.get(url)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)

    assert response.status_code == 200
    reads = [query["sql"] for query in captured]
    offer_reads = [sql for sql in reads if 'FROM "care_providers_placementoffer" ' in sql]
    assert len(offer_reads) == 1
    assert sum('"care_providers_placement"' in sql for sql in reads) == 1
    assert '"care_providers_placement"' in offer_reads[0]
    # Read with the provider, in no query of its own.
    assert f"Placed with {escape(provider.name)} ({NO_DUTY_PHONE}) since" in response.content.decode()
    assert not any(sql.startswith('SELECT "accounts_organisation"') for sql in reads)
    assert not any(sql.startswith('SELECT "care_providers_careprovider"') for sql in reads)


def test_a_placed_provider_reads_the_offers_once_and_the_placement_with_them() -> None:
    boss = manager()
    provider = CareProviderFactory(beds_women=10)
    case = placed_case(boss, [provider], progress_notes=1)
    url = reverse("referrals:case", kwargs={"pk": case})
    client = signed_in(provider_user(provider))
    client.get(url)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)

    assert response.status_code == 200
    assert "Record progress" in response.content.decode()
    reads = [query["sql"] for query in captured]
    assert sum(sql.startswith('SELECT "care_providers_placementoffer"') for sql in reads) == 1
    assert not any(sql.startswith('SELECT "care_providers_placement"."id"') for sql in reads)
    assert len(reads) <= 10


def test_a_manager_reads_the_case_once_and_no_duplicates_of_a_person_without_a_namesake() -> None:
    referral = submitted_referral(family_name="Only-One")
    url = reverse("referrals:case", kwargs={"pk": referral.pk})
    client = signed_in(manager())
    client.get(url)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)

    assert response.status_code == 200
    assert "referred more than once" not in response.content.decode()
    reads = [query["sql"] for query in captured]
    assert sum(sql.startswith('SELECT "referrals_referral"') for sql in reads) == 1
