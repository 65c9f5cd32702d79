"""The gender or the dependants corrected so that the person needs a kind of bed the provider of the offer
or placement has none of at all (a man at a women's safe house): a misfit, as a child or a region is,
never a wait for a bed that will not come. A provider whose beds of that kind are all taken today is
still one that may have one free tomorrow."""

from html import escape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from care_providers.models import OfferState
from care_providers.selectors import suggested_providers
from referrals import services
from referrals.exceptions import ProviderCannotTake, ProviderNoLongerSuitable
from referrals.models import Referral
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, provider_user
from tests.web.conftest import DUTY_LINE, offered, placed, signed_in
from tests.web.test_correction import as_posted, correct_url

pytestmark = pytest.mark.django_db


def case_page(user, referral: Referral) -> str:
    return signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()


def offers_page(user) -> str:
    return signed_in(user).get(reverse("care_providers:offers")).content.decode()


def womens_safe_house(**fields):
    return CareProviderFactory(name="Eaves House", beds_men=0, beds_family=0, **fields)


def test_a_woman_offered_to_a_womens_safe_house_corrected_to_a_man_cannot_be_accepted_and_the_page_says_so():
    provider = womens_safe_house()
    referral, _provider, boss = offered(provider)
    response = signed_in(boss).post(
        correct_url(referral), as_posted(referral, gender="male", reason="typing_error"), follow=True
    )
    assert "Details corrected." in response.content.decode()
    staff = provider_user(provider)
    fit = "This person needs a bed for men, and Eaves House, offered the person, does not have any beds for men."
    managers_page, providers_page = case_page(boss, referral), case_page(staff, referral)
    assert escape(f"{fit} It cannot accept them: withdraw the offer (provider unsuitable)") in managers_page
    assert escape(f"{fit} It cannot accept them: reject the offer (unsuitable)") in providers_page
    # None will ever be free: no wait for one, and rejecting as unsuitable is the main action.
    assert "until one is free" not in providers_page and 'id="no-free-bed"' not in providers_page
    assert 'id="action-reject"' in providers_page and 'id="action-accept"' not in providers_page
    assert '<option value="unsuitable" selected>' in providers_page
    offers = offers_page(staff)
    assert "Cannot accept: you do not have any beds for men</span>: reject it" in offers
    assert "No free bed for men" not in offers
    with pytest.raises(ProviderNoLongerSuitable, match="Eaves House does not have any beds for men"):
        services.accept_offer(referral_id=referral.pk, actor=staff)


def test_accepting_anyway_offers_the_rejection_as_unsuitable_not_a_wait_for_a_bed():
    provider = womens_safe_house()
    referral, _provider, boss = offered(provider)
    services.correct_referral(referral_id=referral.pk, actor=boss, reason="typing_error", gender="male")
    url = reverse("referrals:case_action", args=[referral.pk, "accept"])
    response = signed_in(provider_user(provider)).post(url)
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        escape(
            "This offer can no longer be accepted: Eaves House does not have any beds for men. Reject it, so "
            "that the managers can offer the person elsewhere."
        )
        in html
    )
    assert "until a bed is free" not in html
    assert '<option value="unsuitable" selected>' in html
    assert referral.offers.get().state == OfferState.PENDING


def test_a_provider_whose_beds_of_that_kind_are_all_taken_still_waits_for_one_free():
    provider = CareProviderFactory(name="Medaille Trust", beds_men=1)
    referral, _provider, boss = offered(provider)
    placed(provider, gender="male")  # its one bed for men
    services.correct_referral(referral_id=referral.pk, actor=boss, reason="typing_error", gender="male")
    staff = provider_user(provider)
    assert 'id="provider-misfit"' not in case_page(boss, referral)
    html = case_page(staff, referral)
    assert 'id="provider-misfit"' not in html and 'id="action-accept"' in html
    assert "Medaille Trust has no free bed for men. Accepting will fail until one is free." in html
    offers = offers_page(staff)
    assert "No free bed for men" in offers and "Cannot accept" not in offers


def test_a_woman_placed_at_a_house_without_family_rooms_found_to_have_children_with_her_is_to_be_reallocated():
    provider = womens_safe_house()
    referral, staff, boss = placed(provider)
    services.correct_referral(
        referral_id=referral.pk, actor=boss, reason="new_information", has_dependants=True
    )
    fit = (
        "This person needs a bed for a family, and Eaves House, where they are placed, does not have any "
        "beds for a family."
    )
    assert escape(f"{fit} Reallocate them to a provider that does.") in case_page(boss, referral)
    providers_page = case_page(staff, referral)
    assert escape(fit) in providers_page
    assert f"Phone the managers on {DUTY_LINE}: they will reallocate them" in providers_page


def test_a_person_on_the_outreach_route_needs_no_bed_and_no_provider_is_a_misfit_for_want_of_one():
    provider = womens_safe_house()
    case = bring_to("offered", provider=provider, route="outreach", needs_accommodation=False)
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="typing_error", gender="male"
    )
    assert 'id="provider-misfit"' not in case_page(case.manager, case.referral)
    assert 'id="action-accept"' in case_page(case.provider_user, case.referral)
    services.accept_offer(referral_id=case.referral.pk, actor=case.provider_user)


def test_a_provider_with_no_bed_of_that_kind_is_not_suggested_nor_offered_the_person_and_says_why():
    house = womens_safe_house()
    full = CareProviderFactory(name="Medaille Trust", beds_men=1)
    placed(full, gender="male")
    case = bring_to("assessed", gender="male")
    suggestions = {s.provider: s for s in suggested_providers(case.refresh())}
    assert not suggestions[house].suitable
    assert suggestions[house].reasons == ["Eaves House does not have any beds for men."]
    assert not suggestions[full].suitable
    assert suggestions[full].reasons == ["Medaille Trust has no free bed for men."]
    for provider, says in (
        (house, "Eaves House does not have any beds for men."),
        (full, "Medaille Trust has no free bed for men."),
    ):
        with pytest.raises(ProviderCannotTake) as refused:
            services.offer_placement(
                referral_id=case.referral.pk, actor=case.manager, provider_id=provider.pk
            )
        assert refused.value.message == says


def test_the_case_page_reads_whether_the_provider_fits_with_its_offers_not_in_queries_of_its_own():
    referral, _provider, boss = offered(womens_safe_house())
    services.correct_referral(referral_id=referral.pk, actor=boss, reason="typing_error", gender="male")
    client = signed_in(boss)
    client.get(reverse("referrals:case", args=[referral.pk]))  # the session's first queries aside
    with CaptureQueriesContext(connection) as page:
        html = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert 'id="provider-misfit"' in html
    assert not [
        query for query in page.captured_queries if 'FROM "care_providers_careprovider"' in query["sql"]
    ]
