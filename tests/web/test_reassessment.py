"""The case page's "Change assessment" action: for managers, on an assessed case with no offer awaiting
its answer, prefilled with the case's risk and route; the suggestions follow the new route at once."""

import re
from html import escape

import pytest
from django.urls import reverse

from referrals import services
from referrals.choices import Service
from referrals.models import Referral
from referrals.validation import ASSESSMENT_NOTES_HELP
from tests.factories import CareProviderFactory, manager, submitted_referral
from tests.web.conftest import offered, signed_in

pytestmark = pytest.mark.django_db


def reassess_url(referral: Referral) -> str:
    return reverse("referrals:case_action", args=[referral.pk, "reassess"])


def case_url(referral: Referral) -> str:
    return reverse("referrals:case", args=[referral.pk])


def assessed(route: str = "accommodation") -> tuple[Referral, object]:
    boss = manager()
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route=route)
    referral.refresh_from_db()
    return referral, boss


def checked(html: str, name: str) -> str:
    """The value of the checked radio button of the field."""
    for tag in re.findall(rf'<input [^>]*name="{name}"[^>]*>', html):
        if "checked" in tag:
            return re.search(r'value="([^"]*)"', tag)[1]
    return ""


def test_a_manager_gets_the_link_on_an_assessed_case_with_no_offer_pending():
    referral, boss = assessed()
    html = signed_in(boss).get(case_url(referral)).content.decode()
    assert f'href="{reassess_url(referral)}"' in html and "Change assessment" in html


def test_no_link_while_an_offer_awaits_its_answer_nor_for_the_referrer_nor_before_assessment():
    referral, _provider, boss = offered()
    assert f'href="{reassess_url(referral)}"' not in signed_in(boss).get(case_url(referral)).content.decode()
    referrer_page = signed_in(referral.submitted_by).get(case_url(referral)).content.decode()
    assert f'href="{reassess_url(referral)}"' not in referrer_page
    received = submitted_referral()
    assert "Change assessment" not in signed_in(boss).get(case_url(received)).content.decode()


def test_the_form_is_prefilled_with_the_current_risk_and_route():
    referral, boss = assessed(route="outreach")
    response = signed_in(boss).get(reassess_url(referral), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Change assessment</h1>" in html
    assert checked(html, "reassess-risk") == "medium"
    assert checked(html, "reassess-route") == "outreach"


def test_the_notes_say_as_the_assessments_do_that_the_referring_organisation_reads_them():
    referral, boss = assessed()
    client = signed_in(boss)
    hint = escape(ASSESSMENT_NOTES_HELP)
    assert hint in client.get(reassess_url(referral), follow=True).content.decode()
    received = submitted_referral()
    assess_page = client.get(reverse("referrals:case_action", args=[received.pk, "assess"]), follow=True)
    assert hint in assess_page.content.decode()
    # As it says: the referrer reads the notes in the history.
    data = {"reassess-risk": "high", "reassess-route": "accommodation", "reassess-notes": "Threatened again"}
    assert client.post(reassess_url(referral), data).status_code == 302
    assert "Threatened again" in signed_in(referral.submitted_by).get(case_url(referral)).content.decode()


def test_a_new_route_goes_back_to_the_case_page_with_the_history_and_suggestions_following_it():
    outreach_only = CareProviderFactory(services=[Service.OUTREACH], name="Outreach North")
    referral, boss = assessed()
    client = signed_in(boss)
    before = client.get(case_url(referral)).content.decode()
    assert f"{escape(outreach_only.name)} (cannot take this person)" in before
    data = {"reassess-risk": "high", "reassess-route": "outreach", "reassess-notes": "Wants outreach only."}
    response = client.post(reassess_url(referral), data, follow=True)
    assert response.redirect_chain[-1][0] == case_url(referral)
    html = response.content.decode()
    assert "Assessment changed." in html
    history = html[html.index("Assessment changed</") :]
    assert "High" in history and "Outreach" in history and "Wants outreach only." in history
    assert escape(outreach_only.name) in html
    assert f"{escape(outreach_only.name)} (cannot take this person)" not in html
    referral.refresh_from_db()
    assert (referral.risk, referral.route, referral.state) == ("high", "outreach", "assessed")


def test_the_same_risk_and_route_says_nothing_changed():
    referral, boss = assessed()
    data = {"reassess-risk": "medium", "reassess-route": "accommodation"}
    response = signed_in(boss).post(reassess_url(referral), data)
    assert response.status_code == 400
    assert "Nothing changed" in response.content.decode()
    assert not referral.transitions.filter(transition="reassess").exists()


def test_the_page_opened_before_an_offer_says_to_wait_and_keeps_the_notes():
    referral, boss = assessed()
    client = signed_in(boss)
    assert client.get(reassess_url(referral), follow=True).status_code == 200
    provider = CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    data = {"reassess-risk": "high", "reassess-route": "outreach", "reassess-notes": "Moved to her sister's."}
    response = client.post(reassess_url(referral), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Your change of assessment was not recorded" in html
    assert "Wait for the answer, or for the offer to run out" in html
    assert (
        "Copy your notes, to change the assessment with them once the offer is answered, has run out or is "
        "withdrawn." in html
    )
    assert "Moved to her sister&#x27;s." in html or "Moved to her sister's." in html
    referral.refresh_from_db()
    assert referral.route == "accommodation"


def test_opening_the_page_while_an_offer_is_pending_says_why_it_is_closed():
    referral, provider, boss = offered()
    response = signed_in(boss).get(reassess_url(referral), follow=True)
    html = response.content.decode()
    assert escape(provider.name) in html
    assert "Wait for the answer, or for the offer to run out" in html
