"""The region, where the person is now, corrected when they move or are moved for their safety: saved
whatever the provider of the offer or placement serves, which the case page then says; suggestions look
in the new region, and a running clock keeps its due time."""

from html import escape

import pytest
from django.urls import reverse

from care_providers.selectors import suggested_providers
from referrals import services
from referrals.exceptions import ProviderNoLongerSuitable
from referrals.models import Clock, Referral
from tests.api.cases import bring_to
from tests.factories import CareProviderFactory, birthday_years_ago, provider_user
from tests.web.conftest import DUTY_LINE, offered, placed, signed_in
from tests.web.test_correction import as_posted, correct_url

pytestmark = pytest.mark.django_db


def case_page(user, referral: Referral) -> str:
    return signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()


def london_only():
    return CareProviderFactory(regions=["london"])


def test_the_region_is_corrected_logged_by_name_and_suggestions_look_in_the_new_one():
    provider = london_only()
    case = bring_to("assessed", provider=provider)  # the person is in London
    clock = case.referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="wales"
    )
    referral = case.refresh()
    assert referral.region == "wales"
    log = referral.transitions.order_by("-at", "-id").first()
    assert (log.transition, log.input["fields"]) == ("correct", ["region"])
    # The running clock keeps the due time it was given, counted with England's bank holidays.
    again = referral.deadlines.get(clock=Clock.PLACEMENT, stopped_at__isnull=True)
    assert (again.pk, again.due_at) == (clock.pk, clock.due_at)
    suggestion = next(s for s in suggested_providers(referral) if s.provider == provider)
    assert not suggestion.suitable
    assert "does not serve the person's region" in " ".join(suggestion.reasons)


def test_the_form_asks_for_the_region_where_the_person_is_now_filled_in():
    referral, _provider, boss = offered()
    html = signed_in(boss).get(correct_url(referral), follow=True).content.decode()
    assert "Region where the person is now" in html
    assert '<option value="london" selected>London</option>' in html


def test_a_pending_offer_to_a_provider_outside_the_new_region_is_kept_and_the_page_says_so():
    provider = london_only()
    referral, _provider, boss = offered(provider)
    response = signed_in(boss).post(
        correct_url(referral), as_posted(referral, region="wales", reason="new_information"), follow=True
    )
    assert "Details corrected." in response.content.decode()
    referral.refresh_from_db()
    assert referral.region == "wales" and referral.offers.get().state == "pending"
    staff = provider_user(provider)
    for user in (boss, staff):
        html = case_page(user, referral)
        assert 'id="provider-misfit"' in html
        assert (
            escape(
                f"This person is now in Wales, and {provider.name}, offered the person, does not serve Wales."
            )
            in html
        )
        assert ("reject the offer" if user is staff else "withdraw the offer") in html
    # Nor can the provider take the person now: it would support them where it does not work.
    with pytest.raises(ProviderNoLongerSuitable, match="does not serve the person's region"):
        services.accept_offer(referral_id=referral.pk, actor=staff)


def test_a_child_moved_out_of_the_region_of_their_placement_is_told_of_both():
    provider = CareProviderFactory(regions=["london"], supports_children=False)
    referral, staff, boss = placed(provider)
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="age_assessment",
        date_of_birth=birthday_years_ago(15, days_from_today=100),
        local_authority="Glasgow City Council",
        region="scotland",
    )
    html = case_page(boss, referral)
    expected = (
        f"This person is treated as a child and is now in Scotland, and {provider.name}, where they are placed, "
        "does not support children or serve Scotland. Reallocate them to a provider that does."
    )
    assert escape(expected) in html


def test_no_notice_while_the_provider_serves_the_new_region():
    provider = CareProviderFactory(regions=["london", "wales"])
    referral, _staff, boss = placed(provider)
    services.correct_referral(referral_id=referral.pk, actor=boss, reason="new_information", region="wales")
    assert 'id="provider-misfit"' not in case_page(boss, referral)


def test_the_provider_offered_a_child_it_cannot_support_is_told_to_reject_and_the_placed_one_to_call():
    offered_to = CareProviderFactory(supports_children=False)
    referral, _offered_to, boss = offered(offered_to)
    services.correct_referral(
        referral_id=referral.pk,
        actor=boss,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Newham",
    )
    html = case_page(provider_user(offered_to), referral)
    assert "reject the offer (unsuitable), so that the managers can offer them" in html
    assert "reject the offer" not in case_page(boss, referral)

    house = CareProviderFactory(supports_children=False)
    placed_case, staff, boss = placed(house)
    services.correct_referral(
        referral_id=placed_case.pk,
        actor=boss,
        reason="age_assessment",
        age_in_doubt=True,
        local_authority="Leeds",
    )
    assert f"Phone the managers on {DUTY_LINE}: they will reallocate them" in case_page(staff, placed_case)


def test_an_offer_the_provider_can_no_longer_accept_has_reject_as_unsuitable_for_main_action():
    case = bring_to("offered", provider=london_only())
    services.correct_referral(
        referral_id=case.referral.pk, actor=case.manager, reason="new_information", region="wales"
    )
    html = case_page(case.provider_user, case.referral)
    assert 'id="action-reject"' in html and 'id="action-accept"' not in html
    assert '<option value="unsuitable" selected>' in html
    assert reverse("referrals:case_action", args=[case.referral.pk, "accept"]) not in html
    offers = signed_in(case.provider_user).get(reverse("care_providers:offers")).content.decode()
    assert "Cannot accept: you do not serve Wales</span>: reject it" in offers


def test_an_offer_the_provider_can_accept_keeps_accept_for_main_action():
    case = bring_to("offered", provider=london_only())
    html = case_page(case.provider_user, case.referral)
    assert 'id="action-accept"' in html and 'id="action-reject"' not in html
    offers = signed_in(case.provider_user).get(reverse("care_providers:offers")).content.decode()
    assert "Cannot accept" not in offers
