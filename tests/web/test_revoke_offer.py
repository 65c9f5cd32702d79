"""The managers' "Withdraw the offer": beside the pending offer on the case page, a page of its own with a
reason and a note, after which the person can be offered elsewhere at once."""

import datetime
import re
from html import escape

import pytest
from django.urls import reverse
from django.utils import timezone

from care_providers.models import OfferState
from referrals import services
from referrals.local_time import local_time
from referrals.models import Referral
from tests.factories import CareProviderFactory, provider_user, responder
from tests.web.conftest import offered, signed_in

pytestmark = pytest.mark.django_db

NOTE = "Their duty phone rang out twice; she cannot wait another night."


def revoke_url(referral: Referral) -> str:
    return reverse("referrals:case_action", args=[referral.pk, "revoke_offer"])


def case_url(referral: Referral) -> str:
    return reverse("referrals:case", args=[referral.pk])


def placement_section(html: str) -> str:
    return re.search(r'<section aria-labelledby="placement-title">.*?</section>', html, re.S)[0]


def test_a_manager_finds_it_beside_the_pending_offer_and_nowhere_else():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    html = signed_in(boss).get(case_url(referral)).content.decode()
    placement = placement_section(html)
    assert "Offered to Medaille Trust" in placement and "answer due" in placement
    assert f'href="{revoke_url(referral)}">Withdraw the offer</a>' in placement
    assert html.count(f'href="{revoke_url(referral)}"') == 1


def test_neither_the_referrer_nor_the_provider_may_and_a_post_from_them_is_refused():
    referral, provider, _boss = offered()
    for user in (responder(organisation=referral.organisation), provider_user(provider)):
        client = signed_in(user)
        assert revoke_url(referral) not in client.get(case_url(referral)).content.decode()
        assert client.post(revoke_url(referral), {"revoke_offer-reason": "no_answer"}).status_code == 403
    assert referral.offers.get().state == OfferState.PENDING


def test_an_offer_past_its_answer_time_has_no_withdrawal_but_a_new_offer_closes_it():
    referral, _provider, boss = offered()
    referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    html = signed_in(boss).get(case_url(referral)).content.decode()
    assert "A new offer closes it" in html and revoke_url(referral) not in html


def test_the_page_names_the_offer_and_labels_its_fields():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    response = signed_in(boss).get(revoke_url(referral), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Withdraw the offer</h1>" in html
    due = local_time(referral.offers.get().response_due_at, "%H:%M on %-d %B")
    assert f"Offered to Medaille Trust; answer due {due}." in html
    assert "its placement deadline does not change" in html
    assert '<label for="id_revoke_offer-reason">Reason for withdrawing the offer</label>' in html
    assert '<option value="provider_unsuitable">Provider unsuitable</option>' in html
    assert '<label for="id_revoke_offer-note">Note (optional)</label>' in html
    assert "The provider is told only that the offer is withdrawn, not why." in html
    # The offer it pins is hidden, and so has no label: nothing is named that is not there.
    hidden = re.findall(r'<input type="hidden"[^>]*\bid="([^"]+)"', html)
    labelled = re.findall(r'<label[^>]*\bfor="([^"]+)"', html)
    assert "id_revoke_offer-offer" in hidden and not set(hidden) & set(labelled)
    # A plain form post: it works without JavaScript.
    assert f'<form method="post" action="{revoke_url(referral)}?send=' in html
    assert '<button type="submit" class="button button-warning">Withdraw offer</button>' in html


def test_without_a_reason_the_form_comes_back_saying_what_to_choose():
    referral, _provider, boss = offered()
    response = signed_in(boss).post(revoke_url(referral), {"revoke_offer-note": NOTE})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Error: " in html
    assert '<a href="#id_revoke_offer-reason">Choose why the offer is withdrawn.</a>' in html
    select = re.search(r'<select [^>]*id="id_revoke_offer-reason"[^>]*>', html)[0]
    assert 'aria-invalid="true"' in select and 'aria-describedby="id_revoke_offer-reason_error"' in select
    assert escape(NOTE) in html  # kept as typed
    assert referral.offers.get().state == OfferState.PENDING


def test_withdrawn_the_case_page_offers_the_person_again_and_the_history_says_why():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    data = {"revoke_offer-reason": "no_answer", "revoke_offer-note": NOTE}
    response = signed_in(boss).post(revoke_url(referral), data, follow=True)
    assert response.redirect_chain == [(case_url(referral), 302)]
    html = response.content.decode()
    assert (
        f"{referral.reference}: Offer withdrawn. The provider has been told; you can make a new offer now."
        in html
    )
    assert 'id="action-offer"' in html  # the offer form, open at once
    history = html[html.index('id="history-title"') :]
    assert "Offer to Medaille Trust withdrawn: no answer from the provider" in history
    assert escape(NOTE) in history
    assert referral.offers.get().state == OfferState.REVOKED
    # The offer history, the managers' own, says why.
    assert '<td data-label="Outcome">Withdrawn: no answer from the provider</td>' in html
    # The assessed queue says what became of the last offer.
    queue = signed_in(boss).get(reverse("referrals:assessed")).content.decode()
    assert "Withdrawn from Medaille Trust: no answer from the provider" in queue


def test_the_provider_is_told_it_was_withdrawn_but_not_why_and_the_referrer_reads_why():
    referral, provider, boss = offered()
    services.revoke_offer(referral_id=referral.pk, actor=boss, reason="safety_concern", note=NOTE)
    response = signed_in(provider_user(provider)).get(case_url(referral), follow=True)
    assert response.redirect_chain[-1][0] == reverse("care_providers:offers")
    html = response.content.decode()
    assert (
        f"{referral.reference}: this offer was withdrawn by the managers at {withdrawn_at(referral)}." in html
    )
    assert "Safety concern" not in html and escape(NOTE) not in html
    referrer_page = signed_in(responder(organisation=referral.organisation)).get(case_url(referral))
    history = referrer_page.content.decode()
    assert "withdrawn: safety concern" in history and escape(NOTE) in history


def offer_history(html: str) -> str:
    return re.search(r'<section aria-labelledby="offers-title">.*?</section>', html, re.S)[0]


def test_the_managers_offer_history_says_why_they_withdrew_an_offer_and_not_of_one_withdrawn_with_its_case():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    services.revoke_offer(referral_id=referral.pk, actor=boss, reason="provider_unsuitable")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=CareProviderFactory().pk)
    services.withdraw_referral(referral_id=referral.pk, actor=boss, reason="referred_elsewhere")
    outcomes = re.findall(
        r'<td data-label="Outcome">(.*?)</td>',
        offer_history(signed_in(boss).get(case_url(referral)).content.decode()),
    )
    # Newest first: the second offer went with the withdrawn referral, for no reason of the managers'.
    assert outcomes == ["Withdrawn", "Withdrawn: provider unsuitable"]


def test_a_provider_offered_the_person_again_never_reads_why_its_earlier_offer_was_withdrawn():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    services.revoke_offer(referral_id=referral.pk, actor=boss, reason="provider_unsuitable", note=NOTE)
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    staff = provider_user(provider)
    client = signed_in(staff)
    offers_page = client.get(reverse("care_providers:offers")).content.decode()
    assert referral.reference in offers_page
    pending = client.get(case_url(referral)).content.decode()
    services.accept_offer(referral_id=referral.pk, actor=staff)
    placed_page = client.get(case_url(referral)).content.decode()
    for html in (offers_page, pending, placed_page):
        assert "provider unsuitable" not in html.lower() and "provider_unsuitable" not in html
        assert 'id="offers-title"' not in html and escape(NOTE) not in html
    # The managers read it on the same case.
    assert "Withdrawn: provider unsuitable" in signed_in(boss).get(case_url(referral)).content.decode()


def answer_url(referral: Referral, transition: str) -> str:
    return reverse("referrals:case_action", args=[referral.pk, transition])


def withdrawn_at(referral: Referral) -> str:
    return local_time(referral.transitions.get(transition="revoke_offer").at, "%H:%M on %-d %B %Y")


def test_an_acceptance_from_a_page_opened_before_the_withdrawal_is_told_it_was_not_recorded_and_when():
    referral, provider, boss = offered(given_name="Merhawit", family_name="Tran")
    client = signed_in(provider_user(provider))
    assert client.get(answer_url(referral, "accept"), follow=True).status_code == 200  # the page, opened
    services.revoke_offer(referral_id=referral.pk, actor=boss, reason="safety_concern", note=NOTE)
    response = client.post(answer_url(referral, "accept"), follow=True)
    assert response.redirect_chain == [(reverse("care_providers:offers"), 302)]
    html = response.content.decode()
    assert (
        f"Your answer was not recorded. The placement offer for {referral.reference} was withdrawn by the "
        f"managers at {withdrawn_at(referral)}. Nothing more is needed from you." in html
    )
    for unsaid in ("Merhawit", "Tran", "Safety concern", "safety concern", escape(NOTE)):
        assert unsaid not in html
    assert referral.offers.get().state == OfferState.REVOKED and not referral.placements.exists()
    # A provider never offered the person meets the 404 of a case that does not exist.
    stranger = signed_in(provider_user(CareProviderFactory()))
    assert stranger.post(answer_url(referral, "accept")).status_code == 404


def test_a_rejection_with_a_note_sent_after_the_withdrawal_is_shown_again_saying_how_and_when_it_ended():
    referral, provider, boss = offered()
    services.revoke_offer(referral_id=referral.pk, actor=boss, reason="no_answer")
    concern = "Her trafficker's associates live near our house."
    response = signed_in(provider_user(provider)).post(
        answer_url(referral, "reject"), {"reject-reason": "safety_concern", "reject-note": concern}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        f"Your rejection was not recorded. The placement offer for {referral.reference} was withdrawn by the "
        f"managers at {withdrawn_at(referral)}. Harbour cannot pass your note on now" in html
    )
    assert escape(concern) in html
    assert not referral.transitions.filter(transition="reject").exists()


def test_a_withdrawal_sent_after_the_provider_accepted_records_nothing_and_says_to_reallocate_with_the_note():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    client = signed_in(boss)
    assert client.get(revoke_url(referral), follow=True).status_code == 200
    services.accept_offer(referral_id=referral.pk, actor=provider_user(provider))
    response = client.post(
        revoke_url(referral), {"revoke_offer-reason": "safety_concern", "revoke_offer-note": NOTE}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        "Your withdrawal of the offer was not recorded. The offer to Medaille Trust was accepted, so there is "
        "no offer waiting for an answer to withdraw: it may have changed since you loaded the page. The "
        "person is now placed with Medaille Trust: if they must not stay there, reallocate them from the case "
        "page, with your note." in html
    )
    assert escape(NOTE) in html
    # What a withdrawal would have done is not said of a case now placed.
    assert "stays assessed" not in html
    assert referral.offers.get().state == OfferState.ACCEPTED
    # Sent with nothing typed, it says the same of the offer.
    response = client.post(revoke_url(referral), {"revoke_offer-reason": "safety_concern"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "The offer to Medaille Trust was accepted" in html and "stays assessed" not in html


def test_opening_it_once_the_offer_is_answered_says_what_became_of_the_offer():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    services.reject_offer(referral_id=referral.pk, actor=provider_user(provider), reason="no_capacity")
    response = signed_in(boss).get(revoke_url(referral), follow=True)
    assert response.redirect_chain[-1] == (case_url(referral), 302)
    assert (
        "The offer to Medaille Trust was rejected, so there is no offer waiting" in response.content.decode()
    )


def test_where_the_managers_are_told_to_wait_for_the_answer_they_read_that_they_may_withdraw_the_offer():
    referral, _provider, boss = offered(needs_accommodation=True)
    services.correct_referral(
        referral_id=referral.pk, actor=boss, reason="new_information", needs_accommodation=False
    )
    client = signed_in(boss)
    case_page = client.get(case_url(referral)).content.decode()
    assert "change the assessment once the offer is answered, has run out or is withdrawn" in case_page
    for action in ("reassess", "offer"):
        page = client.get(reverse("referrals:case_action", args=[referral.pk, action]), follow=True)
        assert "withdraw" in re.search(r"pending offer with [^<]*", page.content.decode())[0]


def test_a_page_shown_before_the_offer_was_rejected_and_another_made_withdraws_nothing():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    client = signed_in(boss)
    page = client.get(revoke_url(referral), follow=True).content.decode()
    first = referral.offers.get()
    assert f'<input type="hidden" name="revoke_offer-offer" value="{first.pk}"' in page
    services.reject_offer(referral_id=referral.pk, actor=provider_user(provider), reason="no_capacity")
    services.offer_placement(
        referral_id=referral.pk, actor=boss, provider_id=CareProviderFactory(name="Snowdrop").pk
    )
    data = {"revoke_offer-offer": first.pk, "revoke_offer-reason": "no_answer"}
    response = client.post(revoke_url(referral), data, follow=True)
    assert response.redirect_chain[-1] == (case_url(referral), 302)
    assert (
        "The offer to Medaille Trust was rejected, and the person has been offered to Snowdrop since: "
        "nothing was withdrawn." in response.content.decode()
    )
    assert referral.offers.get(state=OfferState.PENDING).provider.name == "Snowdrop"
