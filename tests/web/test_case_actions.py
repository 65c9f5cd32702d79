"""The case page's actions, driven through the web as a manager, a responder and a care provider."""

import datetime
import re
from html import escape

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from care_providers.models import CareProvider, OfferState, Placement
from referrals import services, views
from referrals.choices import ReferralState
from referrals.forms import ProgressForm
from referrals.local_time import local_time
from referrals.models import Clock, Referral
from referrals.permissions import missing_child_exit_message
from referrals.templatetags.moments import moment
from referrals.views import TRANSITIONS
from tests.api.cases import bring_to
from tests.factories import (
    CareProviderFactory,
    aware,
    manager,
    placed_since,
    provider_user,
    submitted_referral,
)
from tests.web.conftest import (
    DUTY_LINE,
    assert_field_error_reported,
    offered,
    placed,
    recovery_review_near,
    signed_in,
)

pytestmark = pytest.mark.django_db


def act(client, referral, transition, data=None, **kwargs):
    return client.post(reverse("referrals:case_action", args=[referral.pk, transition]), data or {}, **kwargs)


# --------------------------------------------------------------------------------------------- manager


def test_the_triage_queue_lists_emergencies_then_the_oldest_first_with_the_assessment_due_time():
    first, second = submitted_referral(), submitted_referral()
    emergency = submitted_referral(emergency=True, needs_accommodation=True)
    html = signed_in(manager()).get(reverse("referrals:triage")).content.decode()
    assert html.index(emergency.reference) < html.index(first.reference) < html.index(second.reference)
    due = first.deadlines.get().due_at
    assert timezone.localtime(due).strftime("%-d %b %Y %H:%M") in html
    assert "Overdue" not in html


def test_lists_mark_a_deadline_that_has_passed():
    late = submitted_referral()
    late.deadlines.update(due_at=timezone.now() - datetime.timedelta(hours=1))
    for user, page in ((manager(), "referrals:triage"), (late.submitted_by, "referrals:case_list")):
        html = signed_in(user).get(reverse(page)).content.decode()
        assert '<span class="tag tag-urgent">Overdue</span>' in html, page


def test_the_case_page_marks_a_clock_due_soon_once_reminded_and_overdue_once_past_as_the_lists_do():
    referral = submitted_referral()
    boss = manager()
    url = reverse("referrals:case", args=[referral.pk])

    def assessment_line() -> str:
        section = signed_in(boss).get(url).content.decode().split('id="deadlines-title"')[1]
        return re.search(r"<li>Assessment: (.*?)</li>", section)[1]

    assert "tag" not in assessment_line()
    now = timezone.now()
    referral.deadlines.update(remind_at=now - datetime.timedelta(minutes=1))
    assert assessment_line().endswith('<span class="tag tag-soon">Due soon</span>')
    # Past due before the sweep has run: overdue already, as on the triage queue.
    referral.deadlines.update(due_at=now - datetime.timedelta(minutes=1), breached_at=None)
    assert assessment_line().endswith('<span class="tag tag-urgent">Overdue</span>')
    assert (
        '<span class="tag tag-urgent">Overdue</span>'
        in signed_in(boss).get(reverse("referrals:triage")).content.decode()
    )


def test_the_case_history_labels_what_was_given_with_a_transition_and_leaves_an_empty_cell_unlabelled():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="outreach")
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    history = html.split('id="history-title"')[1].split("</tbody>")[0]
    submitted, assessed = history.split("<tbody>")[1].split("</tr>")[:2]
    # Nothing is given with a submission: a phone leaves the empty cell out, with no bare "Details".
    assert submitted.endswith("<td></td>") and "Details" not in submitted
    assert '<td data-label="Details"><span class="history-input">Risk: High</span>' in assessed


def test_a_manager_assesses_from_the_case_page():
    referral = submitted_referral()
    client = signed_in(manager())
    response = act(
        client, referral, "assess", {"assess-risk": "high", "assess-route": "accommodation"}, follow=True
    )
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    assert (referral.risk, referral.route) == ("high", "accommodation")
    assert "Assessed." in response.content.decode()


def test_an_assessment_without_a_risk_shows_the_error_summary_linked_to_the_field():
    referral = submitted_referral()
    response = act(signed_in(manager()), referral, "assess", {"assess-route": "outreach"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'href="#id_assess-risk_0"' in html
    assert 'id="id_assess-risk_0"' in html
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECEIVED


def test_a_second_assessment_from_a_stale_tab_shows_a_message_not_an_error_page():
    referral = submitted_referral()
    client = signed_in(manager())
    data = {"assess-risk": "low", "assess-route": "outreach"}
    assert act(client, referral, "assess", data).status_code == 302
    response = act(client, referral, "assess", data)
    assert response.status_code == 409
    assert "already been assessed" in response.content.decode()
    assert [log.transition for log in referral.transitions.all()].count("assess") == 1


def test_a_manager_declines_with_a_reason():
    referral = submitted_referral()
    act(
        signed_in(manager()),
        referral,
        "decline",
        {"decline-reason": "not_eligible", "decline-note": "Out of scope"},
    )
    referral.refresh_from_db()
    assert referral.state == ReferralState.DECLINED
    assert referral.transitions.last().input == {"reason": "not_eligible", "note": "Out of scope"}


def test_the_case_page_ranks_suggested_providers_with_reasons_and_says_why_others_cannot_take():
    boss = manager()
    referral = submitted_referral(region="wales")
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    good = CareProviderFactory(name="Good Shelter", languages=["ti"])
    CareProviderFactory(name="Far Away", regions=["london"])
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert html.index("Good Shelter") < html.index("Far Away")
    assert "speaks Tigrinya" in html
    assert "does not serve the person&#x27;s region" in html
    assert f'<option value="{good.pk}">Good Shelter</option>' in html


def test_the_case_page_says_how_many_free_beds_are_already_offered_and_marks_a_provider_with_none_left():
    full_up = CareProviderFactory(name="Full Up House", beds_women=2)
    offered(full_up)
    offered(full_up)
    boss = manager()
    referral = submitted_referral(region="wales")
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "2 free beds for women, 2 already offered" in html
    assert '<strong>Full Up House</strong>\n      <span class="tag">Every free bed offered</span>' in html
    assert f'<option value="{full_up.pk}">Full Up House (every free bed already offered)</option>' in html


def test_a_manager_offers_a_placement_and_sees_it_in_the_offer_history_and_the_assessed_queue():
    boss = manager()
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    provider = CareProviderFactory(name="Safe Harbour House")
    client = signed_in(boss)
    response = act(client, referral, "offer", {"offer-provider": provider.pk}, follow=True)
    assert referral.offers.get().provider == provider
    html = response.content.decode()
    assert "Offer history" in html and "Safe Harbour House" in html
    queue = client.get(reverse("referrals:assessed")).content.decode()
    assert referral.reference in queue and "Safe Harbour House" in queue


def test_a_manager_offers_with_a_note_of_what_the_provider_needs_to_know():
    boss = manager()
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="accommodation")
    provider = CareProviderFactory()
    client = signed_in(boss)
    form = client.get(action_url(referral, "offer"), follow=True).content.decode()
    assert 'name="offer-note"' in form and "keep the person safe" in form
    note = "Do not contact her brother.\r\nNeeds a ground-floor room."
    data = {"offer-provider": provider.pk, "offer-note": note}
    assert act(client, referral, "offer", data).status_code == 302
    assert referral.offers.get().note == "Do not contact her brother.\nNeeds a ground-floor room."
    other = submitted_referral()
    services.assess_referral(referral_id=other.pk, actor=boss, risk="low", route="outreach")
    too_long = act(client, other, "offer", {"offer-provider": provider.pk, "offer-note": "x" * 5001})
    assert too_long.status_code == 400 and 'href="#id_offer-note"' in too_long.content.decode()


def test_an_offer_to_a_provider_that_cannot_take_the_person_says_why_on_the_field():
    boss = manager()
    referral = submitted_referral(region="wales")
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    provider = CareProviderFactory(name="London Only", regions=["london"])
    response = act(signed_in(boss), referral, "offer", {"offer-provider": provider.pk})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'href="#id_offer-provider"' in html
    assert "does not serve the person" in html
    assert not referral.offers.exists()


def pending_offer_message(referral) -> str:
    offer = referral.offers.get(state=OfferState.PENDING)
    due = timezone.localtime(offer.response_due_at).strftime("%H:%M on %-d %B")
    return (
        f"{referral.reference}: This referral already has a pending offer with {offer.provider.name}; "
        f"its answer is due at {due}. Wait for the answer, or withdraw the offer, before offering the person "
        "elsewhere."
    )


def test_a_second_offer_from_a_stale_tab_goes_back_to_the_case_naming_the_pending_offer():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    other = CareProviderFactory()
    response = act(signed_in(boss), referral, "offer", {"offer-provider": other.pk}, follow=True)
    assert response.redirect_chain == [(reverse("referrals:case", args=[referral.pk]), 302)]
    html = response.content.decode()
    assert pending_offer_message(referral) in html
    assert 'id="action-offer"' not in html  # no offer form to fill in again
    assert referral.offers.get(state=OfferState.PENDING).provider.name == "Medaille Trust"
    assert not referral.offers.filter(provider=other).exists()


def test_an_offer_past_its_answer_time_is_closed_by_the_next_offer_on_the_case_page():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    client = signed_in(boss)
    html = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "no answer came by" in html and "A new offer closes it" in html
    assert 'id="action-offer"' in html
    other = CareProviderFactory(name="Snowdrop")
    response = act(client, referral, "offer", {"offer-provider": other.pk}, follow=True)
    assert response.status_code == 200
    assert referral.offers.get(state=OfferState.PENDING).provider == other
    assert referral.offers.get(provider__name="Medaille Trust").state == OfferState.EXPIRED


def test_suggested_providers_sit_one_heading_level_below_the_page_they_are_on():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
    CareProviderFactory()
    client = signed_in(boss)
    assert (
        "<h3>Suggested providers</h3>"
        in client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    )
    assert (
        "<h2>Suggested providers</h2>"
        in client.get(action_url(referral, "offer"), follow=True).content.decode()
    )


def test_the_offer_page_of_a_case_with_a_pending_offer_names_it_instead_of_showing_the_form():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    response = signed_in(boss).get(action_url(referral, "offer"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert pending_offer_message(referral) in response.content.decode()


def test_the_referring_responder_withdraws_and_the_pending_offer_is_revoked():
    referral, _provider, _boss = offered()
    from tests.factories import responder

    client = signed_in(responder(organisation=referral.organisation))
    act(client, referral, "withdraw", {"withdraw-reason": "consent_withdrawn"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.WITHDRAWN
    assert referral.offers.get().state == OfferState.REVOKED


def test_the_withdraw_form_offers_consent_withdrawn_for_an_adult_only():
    adult = submitted_referral()
    child = submitted_referral(date_of_birth=None, age_estimate=16, consent=False)
    for referral, offered_there in ((adult, True), (child, False)):
        client = signed_in(referral.submitted_by)
        html = client.get(action_url(referral, "withdraw"), follow=True).content.decode()
        assert '<option value="referred_elsewhere">' in html
        assert ('<option value="consent_withdrawn">' in html) is offered_there


def test_a_childs_referral_sent_to_be_withdrawn_for_consent_withdrawn_says_why_not_on_the_reason():
    referral = submitted_referral(date_of_birth=None, age_estimate=16, consent=False)
    client = signed_in(referral.submitted_by)
    response = act(client, referral, "withdraw", {"withdraw-reason": "consent_withdrawn"})
    assert response.status_code == 400
    html = response.content.decode()
    message = escape(services.CHILD_CONSENT_WITHDRAWN_MESSAGE)
    assert f'<a href="#id_withdraw-reason">{message}</a>' in html
    assert f'<span class="visually-hidden">Error: </span>{message}</p>' in html
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECEIVED
    act(client, referral, "withdraw", {"withdraw-reason": "referred_elsewhere"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.WITHDRAWN


# -------------------------------------------------------------------------------------------- provider


def test_the_offers_page_lists_pending_offers_with_their_response_deadline():
    referral, provider, _boss = offered()
    html = signed_in(provider_user(provider)).get(reverse("care_providers:offers")).content.decode()
    assert referral.reference in html
    from django.utils import timezone

    assert timezone.localtime(referral.offers.get().response_due_at).strftime("%-d %b %Y %H:%M") in html


def open_deadlines(html: str) -> list[str]:
    """The clocks the case page lists under "Open deadlines", by name."""
    section = html.split('id="deadlines-title"')[1].split("</section>")[0]
    return re.findall(r"<li>([^:<]+):", section)


def test_a_provider_is_shown_only_the_clocks_it_has_to_meet_not_the_managers_placement_clock():
    referral, provider, boss = offered()
    url = reverse("referrals:case", args=[referral.pk])
    assert open_deadlines(signed_in(boss).get(url).content.decode()) == ["Offer response", "Placement"]
    assert open_deadlines(signed_in(provider_user(provider)).get(url).content.decode()) == ["Offer response"]
    api = f"/api/v1/referrals/{referral.pk}/"
    for user, clocks in (
        (boss, {"offer_response", "placement"}),
        (provider_user(provider), {"offer_response"}),
    ):
        assert {deadline["clock"] for deadline in signed_in(user).get(api).json()["deadlines"]} == clocks


def test_a_provider_accepts_an_offer_and_the_person_joins_its_caseload():
    referral, provider, _boss = offered()
    client = signed_in(provider_user(provider))
    response = act(client, referral, "accept", follow=True)
    referral.refresh_from_db()
    assert referral.state == ReferralState.PLACED
    assert "Offer accepted" in response.content.decode()
    caseload = client.get(reverse("care_providers:caseload")).content.decode()
    assert referral.reference in caseload


def test_the_caseload_shows_when_each_recovery_review_is_due_marked_due_soon_then_overdue():
    provider = CareProviderFactory()
    on_time, staff, _ = placed(provider)
    near, _, _ = placed(provider)
    late, _, _ = placed(provider)
    recovery_review_near(near)
    late.deadlines.filter(clock=Clock.RECOVERY_REVIEW).update(
        due_at=timezone.now() - datetime.timedelta(hours=1)
    )
    html = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    assert '<th scope="col">Recovery review due</th>' in html
    rows = {
        referral: re.search(rf">{referral.reference}</a>.*?</tr>", html, re.S)[0]
        for referral in (on_time, near, late)
    }
    cells = {
        referral: re.search(r'<td data-label="Recovery review due">(.*?)</td>', row)[1]
        for referral, row in rows.items()
    }
    due = on_time.deadlines.get(clock=Clock.RECOVERY_REVIEW).due_at
    assert cells[on_time] == moment(due)
    # Told apart at a glance: the two tags have styles of their own (static/css: amber and dashed, red).
    assert cells[near].endswith('<span class="tag tag-soon">Due soon</span>')
    assert cells[late].endswith('<span class="tag tag-urgent">Overdue</span>')


def caseload_order(client) -> list[str]:
    """The caseload's references, top to bottom."""
    html = client.get(reverse("care_providers:caseload")).content.decode()
    return re.findall(r'<td data-label="Reference"><a [^>]*>([^<]+)</a>', html)


def test_the_caseload_puts_an_overdue_recovery_review_above_check_ins_due_later():
    provider = CareProviderFactory()
    first, staff, _ = placed(provider)
    second, _, _ = placed(provider)
    reviewed_late, _, _ = placed(provider)
    now = timezone.now()
    for hours, referral in ((1, first), (2, second)):
        referral.deadlines.filter(clock=Clock.CHECK_IN).update(due_at=now + datetime.timedelta(hours=hours))
    reviewed_late.deadlines.filter(clock=Clock.CHECK_IN).update(due_at=now + datetime.timedelta(days=3))
    reviewed_late.deadlines.filter(clock=Clock.RECOVERY_REVIEW).update(
        due_at=now - datetime.timedelta(hours=1)
    )
    client = signed_in(staff)
    assert caseload_order(client) == [reviewed_late.reference, first.reference, second.reference]
    html = client.get(reverse("care_providers:caseload")).content.decode()
    assert "then whoever has the soonest check-in or recovery review due" in html


def test_a_recovery_review_done_reads_done_on_its_day_on_the_caseload_never_none():
    provider = CareProviderFactory()
    reviewed, staff, _ = placed(provider)
    recovery_review_near(reviewed)
    services.record_progress(referral_id=reviewed.pk, actor=staff, note="Settled in.", recovery_review=True)
    html = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    row = re.search(rf">{reviewed.reference}</a>.*?</tr>", html, re.S)[0]
    done = reviewed.deadlines.get(clock=Clock.RECOVERY_REVIEW).stopped_at
    assert f'<td data-label="Recovery review due">Done on {timezone.localtime(done):%-d %b %Y}</td>' in row
    assert "None" not in html


def test_a_missing_persons_recovery_review_reads_on_hold_on_the_caseload_and_one_done_before_done():
    provider = CareProviderFactory()
    waiting, staff, _ = placed(provider)
    reviewed, _, _ = placed(provider)
    recovery_review_near(reviewed)
    services.record_progress(referral_id=reviewed.pk, actor=staff, note="Settled in.", recovery_review=True)
    for referral in (waiting, reviewed):
        services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    html = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    cells = {
        referral: re.search(
            rf'>{referral.reference}</a>.*?<td data-label="Recovery review due">(.*?)</td>', html, re.S
        )[1]
        for referral in (waiting, reviewed)
    }
    assert cells[waiting] == "On hold until they are found"
    done = reviewed.deadlines.get(clock=Clock.RECOVERY_REVIEW).stopped_at
    assert cells[reviewed] == f"Done on {timezone.localtime(done):%-d %b %Y}"


def test_an_accepting_worker_whose_colleague_rejected_the_offer_at_once_is_told_once_who_did_and_when(
    monkeypatch,
):
    referral, provider, _boss = offered()
    rejecting, accepting = provider_user(provider), provider_user(provider)
    assert act(signed_in(rejecting), referral, "reject", {"reject-reason": "unsuitable"}).status_code == 302
    # The race: the acceptance read the case, and locked its row, before the rejection was committed.
    real_visible = views.visible_referral_or_404
    calls = []

    def read_before_the_rejection(user, pk, *args):
        calls.append(pk)
        return Referral.objects.get(pk=pk) if len(calls) == 1 else real_visible(user, pk, *args)

    monkeypatch.setattr(views, "visible_referral_or_404", read_before_the_rejection)
    monkeypatch.setattr(
        services,
        "_lock_visible",
        lambda referral_id, actor: Referral.objects.select_for_update().get(pk=referral_id),
    )
    response = act(signed_in(accepting), referral, "accept", follow=True)
    assert response.redirect_chain[-1][0] == reverse("care_providers:offers")
    html = response.content.decode()
    at = local_time(referral.offers.get().responded_at, "%H:%M on %-d %B %Y")
    assert (
        f"Your answer was not recorded. The placement offer for {referral.reference} was rejected by "
        f"{rejecting.username} at {at}. Nothing more is needed from you." in html
    )
    assert "This offer was rejected." not in html and "withdrawn" not in html
    assert html.count(referral.reference) == 1


PERSON_ACTIONS = ("report_missing", "record_progress", "recover", "exit", "reallocate")


def test_the_case_heading_and_every_action_page_name_the_person_to_whoever_may_see_who_they_are():
    referral, staff, boss = placed(given_name="Merhawit", family_name="Tran")
    age = services.age_on(referral.date_of_birth, timezone.localdate())
    for user in (staff, boss):
        client = signed_in(user)
        case = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
        assert re.search(
            rf'<h1>Case {referral.reference}: Merhawit Tran, aged {age} <span class="case-state">'
            r'<span class="visually-hidden">State: </span><span class="state',
            case,
        )
        for transition in PERSON_ACTIONS if user == staff else set(PERSON_ACTIONS) - {"record_progress"}:
            page = client.get(action_url(referral, transition), follow=True).content.decode()
            assert f"Case {referral.reference}: <strong>Merhawit Tran, aged {age}</strong>" in page, (
                transition
            )


def test_every_action_page_tags_a_child_beside_the_reference_as_the_case_heading_does():
    child = {
        "date_of_birth": None,
        "age_estimate": 15,
        "consent": False,
        "local_authority": "Kent County Council",
    }
    received, boss = submitted_referral(**child), manager()
    referral, staff, _boss = placed(**child)
    client = signed_in(boss)
    tag = '<span class="tag">Child</span>'
    assert tag in client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    for case, transition in [
        *[(received, name) for name in ("assess", "decline", "withdraw", "correct")],
        *[(referral, name) for name in ("report_missing", "reallocate", "exit", "correct")],
    ]:
        page = client.get(action_url(case, transition), follow=True).content.decode()
        meta = page.split('<p class="meta">Case ', 1)[1].split("</p>", 1)[0]
        assert tag in meta, transition
    adult = submitted_referral()
    assert tag not in client.get(action_url(adult, "assess"), follow=True).content.decode()


def test_the_case_heading_says_an_estimated_age_as_aged_about():
    referral, _staff, boss = placed(
        given_name="Merhawit", family_name="Tran", date_of_birth=None, age_estimate=30
    )
    case = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert f"<h1>Case {referral.reference}: Merhawit Tran, aged about 30 <span" in case


def test_an_offered_provider_is_not_told_the_name_on_the_case_heading_or_the_answer_pages():
    referral, provider, _boss = offered(given_name="Merhawit", family_name="Tran")
    client = signed_in(provider_user(provider))
    pages = [client.get(reverse("referrals:case", args=[referral.pk])).content.decode()]
    pages += [
        client.get(action_url(referral, answer), follow=True).content.decode()
        for answer in ("accept", "reject")
    ]
    assert pages[0].count("Merhawit") == 0 and f"<h1>Case {referral.reference} <span" in pages[0]
    assert all("Merhawit" not in page and "Tran" not in page for page in pages)


def messages_in_the_cookie(client) -> list[str]:
    """The messages the browser holds in its cookie, decoded as anyone holding the cookie can."""
    stored = CookieStorage(HttpRequest())._decode(client.cookies["messages"].value)
    return [message.message for message in stored]


@pytest.mark.parametrize(
    ("state", "by", "transition", "sent", "done"),
    [
        (
            "received",
            "manager",
            "assess",
            {"assess-risk": "high", "assess-route": "accommodation"},
            "Assessed",
        ),
        ("offered", "provider_user", "accept", {}, "Offer accepted"),
        ("placed", "provider_user", "record_progress", {"record_progress-note": "Settled in."}, "Progress"),
        ("missing", "manager", "found", {"found-note": "Back at the house."}, "Marked as found"),
    ],
)
def test_the_message_after_an_action_names_the_case_by_its_reference_alone_never_the_person(
    state, by, transition, sent, done
):
    case = bring_to(state, given_name="Merhawit", family_name="Tran")
    client = signed_in(getattr(case, by))
    response = act(client, case.referral, transition, sent)
    assert response.status_code == 302
    (message,) = messages_in_the_cookie(client)
    assert message.startswith(f"{case.referral.reference}: {done}")
    assert "Merhawit" not in message and "Tran" not in message and "aged" not in message
    # The case page it leads to names the person.
    page = client.get(response["Location"]).content.decode()
    assert f"{case.referral.reference}: Merhawit Tran, aged" in page


def already_accepted(referral, by) -> str:
    """What a provider answering an offer its organisation accepted is told: who accepted it, and when."""
    offer = referral.offers.get(state=OfferState.ACCEPTED)
    return (
        f"This offer was accepted by {by.username} at "
        f"{local_time(offer.responded_at, '%H:%M on %-d %B')}: the person is placed with you."
    )


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_answering_after_a_colleague_accepted_says_who_did_and_when_and_shows_the_case(answer):
    referral, provider, _boss = offered()
    colleague = provider_user(provider)
    first, second = signed_in(colleague), signed_in(provider_user(provider))
    assert act(first, referral, "accept").status_code == 302
    response = act(second, referral, answer, {"reject-reason": "no_capacity"}, follow=True)
    assert response.redirect_chain == [(reverse("referrals:case", args=[referral.pk]), 302)]
    assert f"{referral.reference}: {already_accepted(referral, colleague)}" in response.content.decode()
    assert Placement.objects.filter(referral=referral).count() == 1
    assert referral.offers.get().state == OfferState.ACCEPTED


def test_a_provider_rejects_with_a_reason_and_then_no_one_there_sees_the_case_but_is_told_who_rejected_it():
    referral, provider, _boss = offered()
    caseworker, colleague = provider_user(provider), provider_user(provider)
    response = act(
        signed_in(caseworker), referral, "reject", {"reject-reason": "no_capacity", "reject-note": "Full"}
    )
    assert response.status_code == 302
    offer = referral.offers.get()
    assert (offer.state, offer.reject_reason) == (OfferState.REJECTED, "no_capacity")
    again = signed_in(colleague).get(reverse("referrals:case", args=[referral.pk]), follow=True)
    assert again.redirect_chain[-1][0] == reverse("care_providers:offers")
    at = local_time(offer.responded_at, "%H:%M on %-d %B %Y")
    told = f"{referral.reference}: this offer was rejected by {caseworker.username} at {at}."
    assert told in again.content.decode()


def test_who_rejected_the_offer_is_the_providers_own_caseworker_not_whoever_rejected_a_later_offer():
    referral, provider, boss = offered()
    caseworker, colleague = provider_user(provider), provider_user(provider)
    services.reject_offer(referral_id=referral.pk, actor=caseworker, reason="no_capacity")
    elsewhere = CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=elsewhere.pk)
    other = provider_user(elsewhere)
    services.reject_offer(referral_id=referral.pk, actor=other, reason="unsuitable")
    client = signed_in(colleague)
    for response in (
        client.get(reverse("referrals:case", args=[referral.pk]), follow=True),
        act(client, referral, "accept", follow=True),
    ):
        html = response.content.decode()
        assert f"rejected by {caseworker.username} at" in html
        assert other.username not in html


@pytest.mark.parametrize("ending", ["expire", "withdraw", "revoke_offer"])
def test_a_provider_answering_an_offer_that_has_ended_is_told_why_on_its_offers_page(ending):
    referral, provider, boss = offered()
    client = signed_in(provider_user(provider))
    offer = referral.offers.get()
    if ending == "expire":
        services.expire_offer(offer_id=offer.pk)
        answered = (
            f"ran out unanswered at {local_time(offer.response_due_at, '%H:%M on %-d %B %Y')}; the managers "
            "will look for another placement."
        )
    elif ending == "withdraw":
        services.withdraw_referral(referral_id=referral.pk, actor=boss, reason="duplicate")
        withdrawn = referral.transitions.get(transition="withdraw").at
        answered = (
            f"was withdrawn at {local_time(withdrawn, '%H:%M on %-d %B %Y')}, because the referral was "
            "withdrawn."
        )
    else:
        services.revoke_offer(referral_id=referral.pk, actor=boss, reason="no_answer")
        withdrawn = referral.transitions.get(transition="revoke_offer").at
        # Later withdrawn with the case, it was still the managers who withdrew the offer, and then.
        services.withdraw_referral(referral_id=referral.pk, actor=boss, reason="duplicate")
        answered = f"was withdrawn by the managers at {local_time(withdrawn, '%H:%M on %-d %B %Y')}."
    # The answer is told it was not recorded, how the offer ended and when; the case's page the same.
    words = f"this offer {answered}"
    response = act(client, referral, "accept", follow=True)
    assert response.redirect_chain[-1][0] == reverse("care_providers:offers")
    html = response.content.decode()
    assert f"Your answer was not recorded. The placement offer for {referral.reference} {answered}" in html
    assert "Nothing more is needed from you." in html
    response = client.get(reverse("referrals:case", args=[referral.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("care_providers:offers")
    assert f"{referral.reference}: {words}" in response.content.decode()
    # A case never offered to the provider is the ordinary 404.
    stranger = submitted_referral()
    assert client.get(reverse("referrals:case", args=[stranger.pk])).status_code == 404


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_a_provider_is_told_its_offer_ran_out_and_can_no_longer_answer_it(answer):
    referral, provider, _boss = offered()
    referral.offers.update(response_due_at=timezone.now() - datetime.timedelta(minutes=1))
    client = signed_in(provider_user(provider))
    html = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "no answer came by" in html and "A new offer closes it" not in html
    assert reverse("referrals:case_action", args=[referral.pk, answer]) not in html
    # Sent from a page shown before, with nothing typed: back to the case, which says the offer ran out,
    # with no form.
    response = act(client, referral, answer, {"reject-reason": "no_capacity"}, follow=True)
    assert response.redirect_chain == [(reverse("referrals:case", args=[referral.pk]), 302)]
    html = response.content.decode()
    ran_out = (
        f"ran out unanswered at {local_time(referral.offers.get().response_due_at, '%H:%M on %-d %B %Y')};"
    )
    assert f"{referral.reference}: This offer {ran_out}" in html and "no answer came by" in html
    assert 'id="action-' not in html and "reject-reason" not in html
    assert referral.offers.get().state == OfferState.PENDING  # for the sweep to expire, telling the managers
    assert not Placement.objects.filter(referral=referral).exists()
    offers = client.get(reverse("care_providers:offers")).content.decode()
    assert referral.reference in offers and "Ran out" in offers


CONCERN = "Safety: her trafficker's associates live two streets from our London house."


def reject_with_a_concern(client, referral):
    return act(client, referral, "reject", {"reject-reason": "safety_concern", "reject-note": CONCERN})


def assert_rejection_shown_again(response, *, saying: str) -> None:
    """The rejection form is back with the note as typed, the refusal at the top of the page."""
    assert response.status_code == 409
    html = response.content.decode()
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert summary and f"Your rejection was not recorded. {escape(saying)}" in summary[0]
    assert re.search(
        r'<textarea name="reject-note"[^>]*>\s*' + re.escape(escape(CONCERN)) + "</textarea>", html
    )
    assert_only_to_copy(response, "reject", {"Reason for rejecting": "Safety concern"})


@pytest.mark.parametrize("swept", [False, True], ids=["ran out", "expired by the sweep"])
def test_a_rejection_with_a_note_sent_after_the_offer_ran_out_is_shown_again_not_dropped(swept):
    referral, provider, _boss = offered()
    client = signed_in(provider_user(provider))
    offer = referral.offers.get()
    offer.response_due_at = timezone.now() - datetime.timedelta(seconds=1)
    offer.save(update_fields=["response_due_at"])
    if swept:  # the case is out of the provider's sight by the time the form arrives
        services.expire_offer(offer_id=offer.pk)
    response = reject_with_a_concern(client, referral)
    # Out of sight, the offer is named by the case's reference, as an answer sent too late hears.
    ran_out = (
        f"The placement offer for {referral.reference} ran out unanswered at "
        f"{local_time(offer.response_due_at, '%H:%M on %-d %B %Y')}; the managers will look for another "
        "placement."
    )
    assert_rejection_shown_again(response, saying=ran_out if swept else services.offer_ran_out(offer).message)
    html = response.content.decode()
    assert f"phone it to the managers on {DUTY_LINE}, quoting case {referral.reference}." in html
    # The way on: the case while the provider still sees it, its offers (which say why) once it does not.
    way_on = (
        ("Back to your offers", "care_providers:offers", [])
        if swept
        else ("Back to the case", "referrals:case", [referral.pk])
    )
    assert (
        f'<a class="button button-secondary" href="{reverse(way_on[1], args=way_on[2])}">{way_on[0]}</a>'
        in html
    )
    offer.refresh_from_db()
    assert offer.state == (OfferState.EXPIRED if swept else OfferState.PENDING)
    assert not referral.transitions.filter(transition="reject").exists()


def test_a_rejection_with_a_note_sent_after_a_colleague_accepted_is_shown_again_pointing_to_a_progress_note():
    referral, provider, _boss = offered()
    colleague = provider_user(provider)
    client = signed_in(provider_user(provider))
    services.accept_offer(referral_id=referral.pk, actor=colleague)
    response = reject_with_a_concern(client, referral)
    assert_rejection_shown_again(response, saying=already_accepted(referral, colleague))
    assert "copy it into a progress note on the case" in response.content.decode()
    assert '<span class="state state-placed">Placed</span>' in response.content.decode()
    assert referral.offers.get().state == OfferState.ACCEPTED


@pytest.mark.parametrize("swept", [False, True], ids=["ran out", "expired by the sweep"])
@pytest.mark.parametrize("note", ["", CONCERN], ids=["nothing typed", "a note"])
def test_a_rejection_with_no_reason_chosen_sent_after_the_offer_ran_out_says_first_that_it_is_over(
    note, swept
):
    referral, provider, _boss = offered()
    client = signed_in(provider_user(provider))
    offer = referral.offers.get()
    offer.response_due_at = timezone.now() - datetime.timedelta(seconds=1)
    offer.save(update_fields=["response_due_at"])
    if swept:
        services.expire_offer(offer_id=offer.pk)
    response = act(client, referral, "reject", {"reject-reason": "", "reject-note": note}, follow=True)
    html = response.content.decode()
    # The reason cannot matter any more: it is not asked for.
    assert "Choose why you cannot take this person." not in html
    ran_out = f"ran out unanswered at {local_time(offer.response_due_at, '%H:%M on %-d %B %Y')};"
    if note:
        summary = assert_shown_again(response, "reject-note", CONCERN)
        if swept:
            assert (
                f"Your rejection was not recorded. The placement offer for {referral.reference} {ran_out}"
                in summary
            )
        else:
            assert f"Your rejection was not recorded. {services.offer_ran_out(offer).message}" in summary
    elif swept:
        assert response.redirect_chain == [(reverse("care_providers:offers"), 302)]
        assert f"Your answer was not recorded. The placement offer for {referral.reference} {ran_out}" in html
    else:
        assert response.redirect_chain == [(reverse("referrals:case", args=[referral.pk]), 302)]
        assert f"{referral.reference}: {services.offer_ran_out(offer).message}" in html
    assert not referral.transitions.filter(transition="reject").exists()


def assert_only_to_copy(response, transition: str, chosen: dict[str, str]) -> str:
    """A refused form is shown to copy from: its choices in words, no form that sends the action (it
    could only be refused again) and nothing of the session's time limit. Returns the page."""
    html = response.content.decode()
    for label, words in chosen.items():
        assert f"<dt>{label}</dt><dd>{escape(words)}</dd>" in html
    assert not re.search(rf'<form[^>]*action="[^"]*/{transition}/', html)
    assert "<select" not in html and 'type="radio"' not in html
    assert "You are signed out after" not in html
    return html


def refusal_shown(response) -> str:
    """The error summary at the top of a refused form."""
    assert response.status_code == 409
    return re.search(r'<div class="error-summary".*?</div>', response.content.decode(), re.S)[0]


def test_a_missing_report_sent_after_the_case_was_reallocated_is_shown_again_saying_to_phone_the_managers():
    referral, staff, boss = placed(given_name="Amina", family_name="Haile")
    client = signed_in(staff)
    last_seen = f"{timezone.localtime():%Y-%m-%dT%H:%M}"
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    response = act(
        client,
        referral,
        "report_missing",
        {"report_missing-last_seen_at": last_seen, "report_missing-note": "Did not come back from college"},
    )
    summary = refusal_shown(response)
    assert "was not recorded. This person is no longer placed with you." in summary
    assert (
        f"not told anyone that the person is missing: phone the managers now on {DUTY_LINE} (24 hours)"
        in summary
    )
    assert f"quoting case {referral.reference}." in summary
    html = response.content.decode()
    assert re.search(
        r'<textarea name="report_missing-note"[^>]*>\s*Did not come back from college</textarea>', html
    )
    assert f'value="{last_seen}"' in html
    # Of the case it no longer holds, the provider is shown its reference and nothing else.
    assert "state-assessed" not in html and "Amina" not in html and "Haile" not in html
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    assert not referral.transitions.filter(transition="report_missing").exists()


@pytest.mark.parametrize("transition", ["record_progress", "found", "recover", "exit", "reallocate"])
def test_a_note_sent_after_the_case_was_reallocated_is_shown_again_not_recorded(transition):
    referral, staff, boss = placed()
    client = signed_in(staff)
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    response = act(client, referral, transition, {f"{transition}-note": CONCERN})
    summary = refusal_shown(response)
    assert "was not recorded. This person is no longer placed with you." in summary
    assert f"phone it to the managers on {DUTY_LINE}, quoting case {referral.reference}." in summary
    assert re.search(
        rf'<textarea name="{transition}-note"[^>]*>\s*' + re.escape(escape(CONCERN)) + "</textarea>",
        response.content.decode(),
    )
    assert referral.transitions.order_by("-at", "-id").values_list("transition", flat=True)[0] == "reallocate"


def test_a_time_seen_in_person_sent_after_the_case_was_reallocated_is_shown_again_as_typed_to_copy():
    referral, staff, boss = placed()
    seen = f"{timezone.localtime():%Y-%m-%dT%H:%M}"
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    response = act(signed_in(staff), referral, "record_progress", {"record_progress-seen_at": seen})
    assert "was not recorded. This person is no longer placed with you." in refusal_shown(response)
    assert re.search(
        rf'<input type="datetime-local" name="record_progress-seen_at" value="{seen}"[^>]*readonly',
        response.content.decode(),
    )


def test_an_action_with_nothing_typed_sent_after_the_case_was_reallocated_says_why_on_the_offers_page():
    referral, staff, boss = placed()
    client = signed_in(staff)
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    response = act(client, referral, "recover", {"recover-outcome": "independent_living"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("care_providers:offers")
    assert f"{referral.reference}: this person is no longer placed with you." in response.content.decode()


def test_an_unknown_action_on_a_case_the_provider_holds_is_a_404_not_an_ended_offer():
    referral, staff, _boss = placed()
    response = signed_in(staff).get(
        reverse("referrals:case_action", args=[referral.pk, "nonsense"]), follow=True
    )
    assert response.status_code == 404


def offered_with_the_last_bed_taken():
    """A man offered to a provider whose one bed for men was taken by another man meanwhile."""
    provider = CareProviderFactory(name="Medaille Trust", beds_men=1)
    referral, _provider, _boss = offered(provider, gender="male")
    placed(provider, gender="male")
    return referral, provider_user(provider)


def test_accepting_with_no_free_bed_offers_the_rejection_with_no_capacity_chosen_not_accept_again():
    referral, staff = offered_with_the_last_bed_taken()
    client = signed_in(staff)
    response = act(client, referral, "accept")
    assert response.status_code == 409
    html = response.content.decode()
    assert "Medaille Trust has no free bed for men left." in html
    assert ">Accept</button>" not in html
    assert f'action="{action_url(referral, "reject")}?send=' in html
    assert '<option value="no_capacity" selected>' in html
    assert referral.offers.get().state == OfferState.PENDING
    rejected = act(client, referral, "reject", {"reject-reason": "no_capacity"})
    assert rejected.status_code == 302
    offer = referral.offers.get()
    assert (offer.state, offer.reject_reason) == (OfferState.REJECTED, "no_capacity")


def test_accepting_a_child_once_the_provider_no_longer_supports_children_offers_the_rejection_as_unsuitable():
    provider = CareProviderFactory(name="Medaille Trust")
    referral, _provider, _boss = offered(provider, date_of_birth=None, age_estimate=15, consent=False)
    CareProvider.objects.filter(pk=provider.pk).update(supports_children=False)
    client = signed_in(provider_user(provider))
    response = act(client, referral, "accept")
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        "This offer can no longer be accepted: Medaille Trust does not support children. Reject it, so that "
        "the managers can offer the person elsewhere."
    ) in html
    assert ">Accept</button>" not in html
    assert '<option value="unsuitable" selected>' in html
    assert referral.offers.get().state == OfferState.PENDING
    assert not Placement.objects.filter(referral=referral).exists()


def test_the_case_page_warns_a_provider_with_no_free_bed_before_it_accepts_and_links_the_rejection():
    referral, staff = offered_with_the_last_bed_taken()
    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "Medaille Trust has no free bed for men. Accepting will fail until one is free." in html
    assert f'href="{action_url(referral, "reject")}?reason=no_capacity"' in html


def test_a_provider_with_a_free_bed_is_not_warned():
    referral, provider, _boss = offered(CareProviderFactory(beds_men=1), gender="male")
    html = (
        signed_in(provider_user(provider)).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    )
    assert 'id="no-free-bed"' not in html


def test_a_link_to_the_reject_page_may_choose_the_reason():
    referral, provider, _boss = offered()
    client = signed_in(provider_user(provider))
    html = client.get(action_url(referral, "reject"), {"reason": "no_capacity"}, follow=True).content.decode()
    assert '<option value="no_capacity" selected>' in html
    plain = client.get(action_url(referral, "reject"), follow=True).content.decode()
    assert '<option value="" selected>Choose a reason</option>' in plain


def test_rejecting_without_a_reason_is_a_field_error():
    referral, provider, _boss = offered()
    response = act(signed_in(provider_user(provider)), referral, "reject", {})
    assert response.status_code == 400
    assert 'href="#id_reject-reason"' in response.content.decode()
    assert referral.offers.get().state == OfferState.PENDING


def test_a_provider_records_progress_with_the_next_check_in():
    referral, staff, _boss = placed()
    day = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    act(
        signed_in(staff),
        referral,
        "record_progress",
        {"record_progress-note": "Settling in", "record_progress-next_check_in": day},
    )
    log = referral.transitions.last()
    assert log.transition == "record_progress"
    assert log.input == {"note": "Settling in", "next_check_in": day}
    check_in = referral.deadlines.get(clock="check_in", stopped_at__isnull=True)
    assert timezone.localtime(check_in.due_at).date().isoformat() == day


SEEN_AT = "record_progress-seen_at"
SEEN_AT_HINT = ProgressForm.base_fields["seen_at"].help_text


def test_a_provider_records_when_they_last_saw_the_person_and_the_history_says_so_to_who_reads_notes():
    referral, staff, boss = placed()
    placed_since(referral, timezone.now() - datetime.timedelta(days=3))
    seen = timezone.localtime() - datetime.timedelta(hours=5)
    client = signed_in(staff)
    page = reverse("referrals:case_action", args=[referral.pk, "record_progress"])
    form = client.get(page, follow=True).content.decode()
    assert (
        '<label for="id_record_progress-seen_at">When did you last see them in person? (optional)</label>'
        in form
    )
    assert re.search(r'<input type="datetime-local" name="record_progress-seen_at"[^>]*>', form)
    response = act(
        client,
        referral,
        "record_progress",
        {"record_progress-note": "Visited", SEEN_AT: f"{seen:%Y-%m-%dT%H:%M}"},
    )
    assert response.status_code == 302
    log = referral.transitions.last()
    assert log.input["seen_at"] == seen.replace(second=0, microsecond=0).isoformat()
    line = f'<span class="history-input">Seen in person at: {seen:%-d %B %Y %H:%M}</span>'
    for reader in (staff, boss):
        assert line in signed_in(reader).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    # A progress note is the provider's business: the referrer sees that one was written, not what it says.
    referrer = signed_in(referral.submitted_by).get(reverse("referrals:case", args=[referral.pk]))
    assert "Seen in person" not in referrer.content.decode()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("last Tuesday", "Enter when you last saw them as a date and time."),
        ("2999-01-01T09:30", "The time you last saw them cannot be in the future."),
        (None, "Enter when you saw them since their placement began, at {began}, or leave this empty."),
    ],
    ids=["not a time", "in the future", "before the placement began"],
)
def test_a_wrong_time_seen_in_person_is_refused_on_its_field_keeping_the_note(typed, message):
    referral, staff, _boss = placed()
    began = timezone.localtime() - datetime.timedelta(hours=1)
    placed_since(referral, began)
    if typed is None:
        typed = f"{began - datetime.timedelta(hours=10):%Y-%m-%dT%H:%M}"
    response = act(
        signed_in(staff), referral, "record_progress", {"record_progress-note": "Visited", SEEN_AT: typed}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert_field_error_reported(
        html,
        field_id=f"id_{SEEN_AT}",
        hint=SEEN_AT_HINT,
        message=message.format(began=f"{began:%H:%M on %-d %B %Y}"),
    )
    assert "Visited" in html and f'value="{typed}"' in html
    assert referral.transitions.last().transition == "accept"


def test_a_progress_note_left_empty_with_a_time_seen_in_the_future_hears_of_both_at_once():
    referral, staff, _boss = placed()
    response = act(signed_in(staff), referral, "record_progress", {SEEN_AT: "2999-01-01T09:30"})
    html = response.content.decode()
    assert 'href="#id_record_progress-note"' in html and f'href="#id_{SEEN_AT}"' in html


MISSING_AT = "report_missing-last_seen_at"
SIGHTING_CORRECTION = (
    "If that time was wrong, Elm House can correct it first with a progress note giving the right time."
)


def test_a_missing_report_before_a_recorded_sighting_is_refused_saying_how_to_correct_it():
    referral, staff, _boss = placed(CareProviderFactory(name="Elm House"))
    placed_since(referral, timezone.now() - datetime.timedelta(days=3))
    seen = timezone.localtime() - datetime.timedelta(hours=5)
    client = signed_in(staff)
    act(
        client,
        referral,
        "record_progress",
        {"record_progress-note": "Visited", SEEN_AT: f"{seen:%Y-%m-%dT%H:%M}"},
    )
    # The form says it before a time is typed, as the hint of the time last seen.
    sighting = (
        f"Last recorded as seen in person at {seen:%H:%M on %-d %B %Y}, by Elm House. {SIGHTING_CORRECTION}"
    )
    form = client.get(
        reverse("referrals:case_action", args=[referral.pk, "report_missing"]), follow=True
    ).content.decode()
    assert f'<div class="hint" id="id_{MISSING_AT}_helptext">{sighting}</div>' in form
    earlier = seen - datetime.timedelta(hours=1)
    response = act(client, referral, "report_missing", {MISSING_AT: f"{earlier:%Y-%m-%dT%H:%M}"})
    assert response.status_code == 400
    assert_field_error_reported(
        response.content.decode(),
        field_id=f"id_{MISSING_AT}",
        hint=sighting,
        message=(
            "The person cannot have been last seen before they were recorded as seen in person by Elm House, "
            f"at {seen:%H:%M on %-d %B %Y}: enter when they were last seen since then. {SIGHTING_CORRECTION}"
        ),
    )
    assert act(client, referral, "report_missing", {MISSING_AT: f"{seen:%Y-%m-%dT%H:%M}"}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING


def test_the_missing_form_says_nothing_of_a_sighting_since_passed_by_a_finding():
    referral, staff, _boss = placed()
    placed_since(referral, timezone.now() - datetime.timedelta(days=3))
    seen = timezone.now() - datetime.timedelta(hours=5)
    services.record_progress(referral_id=referral.pk, actor=staff, note="Visited.", seen_at=seen)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=seen)
    services.mark_found(referral_id=referral.pk, actor=staff)
    client = signed_in(staff)
    form = client.get(reverse("referrals:case_action", args=[referral.pk, "report_missing"]), follow=True)
    assert 'id="id_report_missing-last_seen_at"' in form.content.decode()
    assert "seen in person" not in form.content.decode()


def test_a_time_seen_in_person_typed_wrong_is_corrected_by_a_later_note_and_a_manager_reports_the_true_time():
    referral, staff, boss = placed(CareProviderFactory(name="Elm House"))
    placed_since(referral, timezone.now() - datetime.timedelta(days=1))
    right = timezone.localtime() - datetime.timedelta(hours=13)  # typed 12 hours late: PM for AM
    client = signed_in(staff)
    for seen in (right + datetime.timedelta(hours=12), right):
        note = {"record_progress-note": "Visited", SEEN_AT: f"{seen:%Y-%m-%dT%H:%M}"}
        assert act(client, referral, "record_progress", note).status_code == 302
    manager_client = signed_in(boss)
    form = manager_client.get(
        reverse("referrals:case_action", args=[referral.pk, "report_missing"]), follow=True
    )
    assert (
        f"Last recorded as seen in person at {right:%H:%M on %-d %B %Y}, by Elm House."
        in form.content.decode()
    )
    last_seen = right + datetime.timedelta(minutes=30)
    response = act(manager_client, referral, "report_missing", {MISSING_AT: f"{last_seen:%Y-%m-%dT%H:%M}"})
    assert response.status_code == 302
    assert (
        referral.transitions.last().input["last_seen_at"]
        == last_seen.replace(second=0, microsecond=0).isoformat()
    )


def test_a_progress_note_too_long_or_an_early_recovery_review_is_refused_on_its_field_and_kept():
    referral, staff, _boss = placed()
    client = signed_in(staff)
    long_note = "x" * 5_001
    response = act(client, referral, "record_progress", {"record_progress-note": long_note})
    message = "The note must be at most 5,000 characters; it is 5,001 characters: remove 1."
    assert message in response.content.decode()
    assert long_note in response.content.decode()
    response = act(
        client,
        referral,
        "record_progress",
        {"record_progress-note": "Week one", "record_progress-recovery_review": "on"},
    )
    page = response.content.decode()
    review = referral.deadlines.get(clock="recovery_review")
    assert f"can be recorded from {local_time(review.met_from, '%H:%M on %-d %B')}." in page
    assert "Week one" in page
    assert referral.transitions.last().transition == "accept"


def test_a_note_with_line_breaks_counts_each_once_and_is_stored_with_them_as_the_api_stores_it():
    referral, staff, _boss = placed()
    note = "\n".join(["Settling in; she calls her sister every evening."] * 102)  # 4,997; 5,098 with "\r\n"
    posted = {"record_progress-note": note.replace("\n", "\r\n")}  # as a browser sends a textarea
    response = act(signed_in(staff), referral, "record_progress", posted)
    assert response.status_code == 302
    assert referral.transitions.last().input["note"] == note


RECOVERY_REVIEW_TICKBOX = 'name="record_progress-recovery_review"'


def recovery_review_recorded(referral, staff):
    recovery_review_near(referral)
    services.record_progress(referral_id=referral.pk, actor=staff, note="Day 30 review", recovery_review=True)


def test_the_recovery_review_tickbox_is_offered_from_its_reminder_until_the_review_is_recorded():
    referral, staff, _boss = placed()
    client = signed_in(staff)
    pages = [
        reverse("referrals:case", args=[referral.pk]),
        reverse("referrals:case_action", args=[referral.pk, "record_progress"]),
    ]

    def offered() -> list[bool]:
        shown = []
        for page in pages:
            html = client.get(page, follow=True).content.decode()
            assert "Progress note" in html, page
            shown.append(RECOVERY_REVIEW_TICKBOX in html and "This note is the recovery review" in html)
        return shown

    assert offered() == [False, False]  # placed today: the review is weeks away
    recovery_review_near(referral)
    assert offered() == [True, True]
    recovery_review_recorded(referral, staff)
    assert offered() == [False, False]


def test_a_recovery_review_ticked_on_a_page_opened_before_it_was_recorded_is_refused_not_dropped():
    referral, staff, _boss = placed()
    recovery_review_recorded(referral, staff)
    response = act(
        signed_in(staff),
        referral,
        "record_progress",
        {"record_progress-note": "Day 30 review, again", "record_progress-recovery_review": "on"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "This placement has no recovery review waiting." in page
    assert "Day 30 review, again" in page
    assert referral.transitions.filter(transition="record_progress").count() == 1


def placed_a_week_ago(referral):
    """A missing person cannot have been last seen before their placement began."""
    placed_since(referral, timezone.now() - datetime.timedelta(days=7))


def test_the_caseload_lists_missing_people_first_longest_gone_first_saying_when_last_seen():
    settled, staff, _boss = placed()
    provider = staff.provider
    reported_first, _, _ = placed(provider)
    gone_longer, _, _ = placed(provider)
    now = timezone.now()
    services.report_missing(referral_id=reported_first.pk, actor=staff, last_seen_at=now)
    placed_a_week_ago(gone_longer)
    last_seen = now - datetime.timedelta(days=2)
    services.report_missing(referral_id=gone_longer.pk, actor=staff, last_seen_at=last_seen)
    html = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    rows = html.split("<tbody>")[1].split("</tr>")
    assert gone_longer.reference in rows[0] and reported_first.reference in rows[1]
    shown = timezone.localtime(last_seen).strftime("%-d %b %Y %H:%M")
    assert f"Missing</span> last seen {shown}" in rows[0]
    assert settled.reference in rows[2]
    assert ">None<" not in html


def test_the_case_page_shows_a_missing_person_overdue_since_last_seen_and_the_next_escalation():
    referral, staff, boss = placed()
    placed_a_week_ago(referral)
    last_seen = timezone.now() - datetime.timedelta(days=2)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=last_seen)
    next_escalation = referral.deadlines.get(clock=Clock.MISSING).due_at
    shown = (
        f'Missing: <span class="tag tag-urgent">Overdue</span> since {moment(last_seen)}, when last seen '
        f"(2\xa0days ago); next escalation {moment(next_escalation)}"
    )
    for viewer in (boss, staff):
        html = signed_in(viewer).get(reverse("referrals:case", args=[referral.pk])).content.decode()
        deadlines = html.split('id="deadlines-title"')[1].split("</section>")[0]
        assert shown in deadlines, viewer


def test_the_caseload_names_the_people_placed_and_each_name_shown_is_an_audited_read():
    referral, staff, _boss = placed(given_name="Amina", family_name="Haile")
    html = signed_in(staff).get(reverse("care_providers:caseload")).content.decode()
    assert '<td data-label="Name">Amina Haile</td>' in html
    reads = AuditEvent.objects.filter(
        referral=referral, actor=staff, action=AuditAction.READ, what="caseload"
    )
    assert reads.count() == 1


def test_missing_then_found_then_recovered_from_the_provider_portal():
    referral, staff, _boss = placed()
    client = signed_in(staff)
    act(
        client,
        referral,
        "report_missing",
        {
            "report_missing-last_seen_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
            "report_missing-note": "Did not return",
        },
    )
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING
    assert referral.reference in client.get(reverse("care_providers:caseload")).content.decode()
    act(client, referral, "found", {"found-note": "Back"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.PLACED
    act(client, referral, "recover", {"recover-outcome": "independent_living"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECOVERED
    assert not Placement.objects.filter(referral=referral, ended_at__isnull=True).exists()


def test_exit_frees_the_bed_and_a_second_exit_says_the_person_already_exited():
    referral, staff, _boss = placed()
    client = signed_in(staff)
    assert act(client, referral, "exit", {"exit-reason": "left_support"}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == ReferralState.EXITED
    response = act(client, referral, "exit", {"exit-reason": "left_support"})
    assert response.status_code == 409
    assert "already exited" in response.content.decode()


def past_placement_rows(client) -> list[str]:
    """The references in the rows of the provider's past placements table."""
    html = client.get(reverse("care_providers:past")).content.decode()
    return re.findall(r'<td data-label="Reference"><a href="[^"]*">([^<]+)</a></td>', html)


def test_reallocating_ends_the_placement_and_the_provider_no_longer_lists_or_opens_the_case():
    referral, staff, _boss = placed()
    recovered, _, _ = placed(staff.provider)
    services.recover_referral(referral_id=recovered.pk, actor=staff, outcome="independent_living")
    client = signed_in(staff)
    act(client, referral, "reallocate", {"reallocate-reason": "needs_changed"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    # A past placement it closed stays listed, read-only; the one reallocated away is gone.
    assert past_placement_rows(client) == [recovered.reference]
    response = client.get(reverse("referrals:case", args=[referral.pk]), follow=True)
    assert response.redirect_chain == [(reverse("care_providers:offers"), 302)]
    assert f"{referral.reference}: this person is no longer placed with you." in response.content.decode()


@pytest.mark.parametrize("missing", [False, True], ids=["placed", "missing"])
def test_reallocating_says_first_that_the_provider_loses_the_case_and_after_what_comes_next(missing):
    referral, staff, _boss = placed()
    if missing:
        services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    client = signed_in(staff)
    page = client.get(action_url(referral, "reallocate"), follow=True).content.decode()
    assert "the care provider can then no longer open this case or record anything on it" in page
    assert f"the provider phones the managers on {DUTY_LINE}, who record them found" in page
    response = act(client, referral, "reallocate", {"reallocate-reason": "safety_concern"}, follow=True)
    html = response.content.decode()
    still_missing = "The person is still missing: managers will offer them a placement once they are found."
    assert (still_missing in html) is missing
    assert ("managers will offer the person elsewhere" in html) is not missing


@pytest.mark.parametrize("child", [True, False], ids=["child", "adult"])
def test_the_missing_report_form_tells_the_provider_to_call_the_police_first_for_a_child_or_an_adult(child):
    fields = {"date_of_birth": None, "age_estimate": 15, "consent": False} if child else {}
    referral, staff, _boss = placed(**fields)
    # An adult gone missing may be trafficked again: in danger, as a child may be.
    police_first = (
        "If the child may be in danger and the police have not been told they are missing, call 999 first, "
        "then report them missing here."
        if child
        else "If the person may be in danger (someone gone missing from support may be trafficked again) and "
        "the police have not been told they are missing, call 999 first, then report them missing here."
    )
    page = signed_in(staff).get(action_url(referral, "report_missing"), follow=True).content.decode()
    assert f'<p class="notice">{police_first}</p>' in page
    assert page.count("call 999 first") == 1


def test_every_page_gives_the_managers_duty_line_in_its_footer_to_tap_to_call(client):
    footer = re.search(
        r'<footer class="site-footer">.*?</footer>', client.get(reverse("login")).content.decode(), re.S
    )
    assert f"The managers’ 24-hour duty line: {DUTY_LINE}" in footer[0]


def test_a_missing_report_in_the_future_is_refused_on_its_field():
    referral, staff, _boss = placed()
    response = act(
        signed_in(staff), referral, "report_missing", {"report_missing-last_seen_at": "2999-01-01T09:30"}
    )
    assert response.status_code == 400
    assert 'href="#id_report_missing-last_seen_at"' in response.content.decode()


def test_a_missing_report_a_few_minutes_ahead_of_harbours_clock_is_recorded_as_the_api_records_it():
    referral, staff, _boss = placed()
    ahead = timezone.localtime() + datetime.timedelta(minutes=3)  # the provider's phone runs fast
    response = act(
        signed_in(staff),
        referral,
        "report_missing",
        {"report_missing-last_seen_at": f"{ahead:%Y-%m-%dT%H:%M}"},
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING


def test_a_missing_report_before_the_placement_began_is_refused_on_its_field_keeping_the_note():
    referral, staff, _boss = placed()
    began = timezone.localtime() - datetime.timedelta(hours=1)
    placed_since(referral, began)
    earlier = began - datetime.timedelta(hours=10)  # placed at 11:54, "last seen at 01:30"
    response = act(
        signed_in(staff),
        referral,
        "report_missing",
        {"report_missing-last_seen_at": f"{earlier:%Y-%m-%dT%H:%M}", "report_missing-note": "Did not return"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"cannot have been last seen before their placement began, at {began:%H:%M on %-d %B %Y}" in page
    assert 'href="#id_report_missing-last_seen_at"' in page
    assert "Did not return" in page
    referral.refresh_from_db()
    assert referral.state == ReferralState.PLACED


def _report_missing_at(last_seen: str) -> Referral:
    referral, staff, _boss = placed()
    # Placed well before the night the clocks changed, so that night is a time it could have happened.
    placed_since(referral, aware(2025, 1, 6, 9, 0))
    response = act(signed_in(staff), referral, "report_missing", {"report_missing-last_seen_at": last_seen})
    assert response.status_code == 302, response.content.decode()
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING
    return referral


def test_a_last_seen_time_in_the_hour_repeated_when_the_clocks_go_back_counts_from_its_first_occurrence():
    # 01:30 happens twice on 26 October 2025: first in summer time (00:30 UTC), then in GMT. The first
    # counts the person as missing for longer.
    referral = _report_missing_at("2025-10-26T01:30")
    started = referral.deadlines.get(clock=Clock.MISSING).started_at
    assert started == datetime.datetime(2025, 10, 26, 0, 30, tzinfo=datetime.UTC)


# The clocks go back at 02:00 BST on 25 October 2026: 01:00 to 02:00 happens twice, first in BST.
CHANGE_NIGHT = datetime.date(2026, 10, 25)


def _at_utc(hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime.combine(CHANGE_NIGHT, datetime.time(hour, minute), tzinfo=datetime.UTC)


def _seen_in_person_at(when: datetime.datetime):
    def record(referral, staff):
        services.record_progress(referral_id=referral.pk, actor=staff, note="Visited.", seen_at=when)

    return record


def _found_at(when: datetime.datetime):
    def record(referral, staff):
        services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=aware(2026, 10, 20, 9, 0))
        services.mark_found(referral_id=referral.pk, actor=staff)
        referral.transitions.filter(transition="found").update(at=when)

    return record


def _placed_at(when: datetime.datetime):
    return lambda referral, _staff: placed_since(referral, when)


@pytest.mark.parametrize(
    ("known_there", "typed", "last_seen"),
    [
        # Seen at 01:30 GMT: "01:45" is 01:45 GMT, as 01:45 BST is before then.
        (_seen_in_person_at(_at_utc(1, 30)), "2026-10-25T01:45", _at_utc(1, 45)),
        (_found_at(_at_utc(1, 30)), "2026-10-25T01:45", _at_utc(1, 45)),
        (_placed_at(_at_utc(1, 30)), "2026-10-25T01:45", _at_utc(1, 45)),
        # Seen at 01:10 BST: 01:45 BST is allowed, and counts the person as gone the longer.
        (_seen_in_person_at(_at_utc(0, 10)), "2026-10-25T01:45", _at_utc(0, 45)),
    ],
    ids=["seen in person in GMT", "found in GMT", "placed in GMT", "seen in person in BST"],
)
def test_a_last_seen_time_in_the_repeated_hour_is_its_second_occurrence_where_only_that_is_allowed(
    known_there, typed, last_seen
):
    referral, staff, _boss = placed()
    placed_since(referral, aware(2026, 10, 1, 9, 0))
    known_there(referral, staff)
    response = act(signed_in(staff), referral, "report_missing", {MISSING_AT: typed})
    assert response.status_code == 302, response.content.decode()
    assert datetime.datetime.fromisoformat(referral.transitions.last().input["last_seen_at"]) == last_seen


def test_a_last_seen_time_in_the_repeated_hour_before_a_sighting_in_both_its_readings_is_refused():
    referral, staff, _boss = placed(CareProviderFactory(name="Elm House"))
    placed_since(referral, aware(2026, 10, 1, 9, 0))
    _seen_in_person_at(_at_utc(1, 30))(referral, staff)
    response = act(signed_in(staff), referral, "report_missing", {MISSING_AT: "2026-10-25T01:15"})
    assert response.status_code == 400
    assert (
        "recorded as seen in person by Elm House, at 01:30 GMT on 25 October 2026: enter when they were last "
        "seen since then."
    ) in response.content.decode()
    referral.refresh_from_db()
    assert referral.state == ReferralState.PLACED


def test_a_time_seen_in_person_in_the_repeated_hour_is_its_second_occurrence_after_a_placement_begun_in_it():
    referral, staff, _boss = placed()
    placed_since(referral, _at_utc(1, 30))  # 01:30 GMT: a sighting at 01:45 BST would be before it
    note = {"record_progress-note": "Arrived and settled", SEEN_AT: "2026-10-25T01:45"}
    response = act(signed_in(staff), referral, "record_progress", note)
    assert response.status_code == 302, response.content.decode()
    assert datetime.datetime.fromisoformat(referral.transitions.last().input["seen_at"]) == _at_utc(1, 45)


def test_a_last_seen_time_in_the_hour_skipped_when_the_clocks_go_forward_moves_on_by_the_gap():
    # 01:30 never happens on 30 March 2025: the clocks go from 01:00 GMT to 02:00 BST. Read as 02:30 BST.
    referral = _report_missing_at("2025-03-30T01:30")
    started = referral.deadlines.get(clock=Clock.MISSING).started_at
    assert started == datetime.datetime(2025, 3, 30, 1, 30, tzinfo=datetime.UTC)
    assert f"{timezone.localtime(started):%H:%M %Z}" == "02:30 BST"


def test_a_manager_may_report_missing_and_exit_from_the_case_page():
    referral, _staff, boss = placed()
    client = signed_in(boss)
    last_seen = f"{timezone.localtime():%Y-%m-%dT%H:%M}"
    assert (
        act(client, referral, "report_missing", {"report_missing-last_seen_at": last_seen}).status_code == 302
    )
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING
    act(client, referral, "exit", {"exit-reason": "lost_contact"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.EXITED


def test_an_unknown_action_is_a_404():
    referral = submitted_referral()
    assert act(signed_in(manager()), referral, "teleport").status_code == 404


def test_a_responder_may_not_assess_and_is_told_so():
    referral = submitted_referral()
    from tests.factories import responder

    client = signed_in(responder(organisation=referral.organisation))
    html = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "/assess/" not in html
    response = act(client, referral, "assess", {"assess-risk": "low", "assess-route": "outreach"})
    assert response.status_code == 403
    referral.refresh_from_db()
    assert referral.state == ReferralState.RECEIVED


def test_the_managers_case_list_filters_by_state_and_region():
    in_london = submitted_referral(region="london")
    in_wales = submitted_referral(region="wales")
    declined = submitted_referral(region="wales")
    boss = manager()
    services.decline_referral(referral_id=declined.pk, actor=boss, reason="duplicate")
    client = signed_in(boss)
    html = client.get(
        reverse("referrals:case_list"), {"state": "received", "region": "wales"}
    ).content.decode()
    assert in_wales.reference in html
    assert in_london.reference not in html
    assert declined.reference not in html


def test_a_manager_finds_a_case_by_reference_or_lists_only_the_overdue_longest_overdue_first():
    on_time, late = submitted_referral(), submitted_referral()
    late.deadlines.update(due_at=timezone.now() - datetime.timedelta(hours=1))
    referral, staff, boss = placed()
    placed_a_week_ago(referral)
    services.report_missing(
        referral_id=referral.pk, actor=staff, last_seen_at=timezone.now() - datetime.timedelta(days=3)
    )
    client = signed_in(boss)
    url = reverse("referrals:case_list")
    found = client.get(url, {"reference": f" {late.reference.lower()} "}).content.decode()
    assert late.reference in found and on_time.reference not in found
    # As read out over the phone: "2026 stroke 182", the HBR and the zeros left off.
    _prefix, year, number = late.reference.split("-")
    read_out = client.get(url, {"reference": f"{year}/{int(number)}"}).content.decode()
    assert late.reference in read_out and on_time.reference not in read_out
    overdue = client.get(url, {"overdue": "on"}).content.decode()
    rows = overdue.split("<tbody>")[1].split("</tr>")
    # Missing for three days comes before an hour late, and says since when: last seen, not a due time.
    assert referral.reference in rows[0] and "Missing</span>, last seen" in rows[0]
    assert late.reference in rows[1] and "Overdue</span> since" in rows[1]
    assert on_time.reference not in overdue


def test_the_case_list_and_page_show_a_person_reallocated_while_missing_as_missing_since_last_seen():
    referral, staff, boss = placed()
    placed_a_week_ago(referral)
    last_seen = timezone.now() - datetime.timedelta(days=3)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=last_seen)
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    waiting, _, _ = placed()
    services.reallocate_referral(referral_id=waiting.pk, actor=boss, reason="needs_changed")
    client = signed_in(boss)
    url = reverse("referrals:case_list")
    shown = f'<span class="tag tag-urgent">Missing</span>, last seen {moment(last_seen)}'
    for filters in ({}, {"state": "missing"}, {"overdue": "on"}):
        html = client.get(url, filters).content.decode()
        [row] = [row for row in html.split("</tr>") if f">{referral.reference}</a>" in row]
        assert shown in row, filters
        assert 'Assessed</span> <span class="tag tag-urgent">Missing</span>' in row, filters
    missing = client.get(url, {"state": "missing"}).content.decode()
    assert waiting.reference not in missing
    everything = client.get(url).content.decode().split("</tr>")
    [waiting_row] = [row for row in everything if f">{waiting.reference}</a>" in row]
    assert "tag-urgent" not in waiting_row
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert 'Assessed</span> <span class="tag tag-urgent">Missing</span></span></h1>' in case_page
    waiting_page = client.get(reverse("referrals:case", args=[waiting.pk])).content.decode()
    assert "Assessed</span></span></h1>" in waiting_page
    assessed = client.get(url, {"state": "assessed"}).content.decode()
    assert waiting.reference in assessed and referral.reference not in assessed  # in one list, as the report
    assert referral.reference not in client.get(url, {"state": "placed"}).content.decode()


def test_a_missing_persons_next_deadline_in_the_case_lists_says_when_they_were_last_seen_not_overdue_since():
    """The time last seen is no deadline missed: "Overdue since 03:34" read as one, on the responder's
    list and the managers' (all cases and overdue only) alike, as the case page words it."""
    referral, staff, boss = placed()
    placed_a_week_ago(referral)
    last_seen = timezone.now() - datetime.timedelta(days=2)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=last_seen)
    url = reverse("referrals:case_list")
    for viewer, filters in (
        (referral.submitted_by, {}),
        (boss, {}),
        (boss, {"overdue": "on"}),
        (boss, {"state": "missing"}),
    ):
        html = signed_in(viewer).get(url, filters).content.decode()
        [row] = [row for row in html.split("</tr>") if f">{referral.reference}</a>" in row]
        cell = row.split('data-label="Next deadline">')[1].split("</td>")[0]
        assert cell == f'<span class="tag tag-urgent">Missing</span>, last seen {moment(last_seen)}', filters


CHILD_TAG = '<span class="tag">Child</span>'


def row_for(html: str, referral) -> str:
    [row] = [row for row in html.split("</tr>") if f">{referral.reference}</a>" in row]
    return row


def test_every_list_of_cases_and_the_case_heading_flag_a_child_beside_the_state():
    house = CareProviderFactory()
    child, staff, boss = placed(house, date_of_birth=None, age_estimate=16, consent=False)
    adult, _, _ = placed(house, actor=child.submitted_by)
    past_child, _, _ = placed(house, date_of_birth=None, age_in_doubt=True)
    services.recover_referral(referral_id=past_child.pk, actor=staff, outcome="other_support")
    lists = (
        (child.submitted_by, reverse("referrals:case_list")),
        (boss, reverse("referrals:case_list")),
        (staff, reverse("care_providers:caseload")),
    )
    for user, url in lists:
        html = signed_in(user).get(url).content.decode()
        assert f"Placed</span> {CHILD_TAG}</td>" in row_for(html, child), url
        assert CHILD_TAG not in row_for(html, adult), url
    past = signed_in(staff).get(reverse("care_providers:past")).content.decode()
    assert f">Recovered {CHILD_TAG}</td>" in row_for(past, past_child)
    for user in (child.submitted_by, boss, staff):
        client = signed_in(user)
        heading = client.get(reverse("referrals:case", args=[child.pk])).content.decode().split("</h1>")[0]
        assert heading.endswith(f"Placed</span> {CHILD_TAG}</span>"), user
        assert CHILD_TAG not in client.get(reverse("referrals:case", args=[adult.pk])).content.decode()


def test_a_case_list_filter_with_an_error_lists_nothing_and_says_why():
    submitted_referral()
    response = signed_in(manager()).get(
        reverse("referrals:case_list"), {"reference": "X" * 21, "overdue": "on"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert_field_error_reported(
        html,
        field_id="id_reference",
        hint="For example HBR-2026-004217, or 2026-4217.",
        message="Enter a case reference of at most 20 characters, like HBR-2026-004217.",
    )
    assert "No cases are listed until the filter is corrected." in html


def test_a_responder_filters_by_state_but_is_offered_no_region_filter():
    user = submitted_referral().submitted_by
    html = signed_in(user).get(reverse("referrals:case_list"), {"state": "declined"}).content.decode()
    assert "No cases match." in html
    assert 'name="region"' not in html


# ------------------------------------------------------------------------ actions on pages of their own


def action_url(referral, transition):
    return reverse("referrals:case_action", args=[referral.pk, transition])


def test_a_provider_is_not_offered_the_exit_of_a_missing_child_which_a_manager_records():
    referral, staff, boss = placed(date_of_birth=None, age_estimate=15, consent=False)
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    client = signed_in(staff)
    exit_link = f'href="{action_url(referral, "exit")}"'
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert exit_link not in case_page
    opened = client.get(action_url(referral, "exit"), follow=True)
    assert opened.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert escape(f"{referral.reference}: {missing_child_exit_message()}") in opened.content.decode()
    sent = act(client, referral, "exit", {"exit-reason": "lost_contact"})
    assert sent.status_code == 403
    assert escape(missing_child_exit_message()) in sent.content.decode()
    referral.refresh_from_db()
    assert referral.state == ReferralState.MISSING
    managers = signed_in(boss)
    assert exit_link in managers.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    act(managers, referral, "exit", {"exit-reason": "lost_contact"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.EXITED


def test_a_provider_is_still_offered_the_exit_of_a_missing_adult():
    referral, staff, _boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    case_page = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert f'href="{action_url(referral, "exit")}"' in case_page


def test_a_person_reallocated_while_missing_is_marked_found_before_any_offer():
    referral, staff, boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    client = signed_in(boss)
    html = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert 'id="action-found"' in html
    assert action_url(referral, "offer") not in html and 'id="action-offer"' not in html
    response = client.get(action_url(referral, "offer"), follow=True)
    assert "This person is still missing: record that they are found" in response.content.decode()


def test_nobody_is_offered_the_withdrawal_of_a_referral_reallocated_while_the_person_is_missing():
    referral, staff, boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    withdraw_link = f'href="{action_url(referral, "withdraw")}"'
    for user in (referral.submitted_by, boss):
        client = signed_in(user)
        refusal = escape(services.withdraw_while_missing_message(user))
        assert withdraw_link not in client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
        opened = client.get(action_url(referral, "withdraw"), follow=True)
        assert opened.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
        assert f"{referral.reference}: {refusal}" in opened.content.decode()
        sent = act(client, referral, "withdraw", {"withdraw-reason": "referred_elsewhere"})
        assert sent.status_code == 409
        assert refusal in sent.content.decode()
        referral.refresh_from_db()
        assert referral.state == ReferralState.ASSESSED and referral.still_missing()
    services.mark_found(referral_id=referral.pk, actor=boss)
    client = signed_in(referral.submitted_by)
    assert withdraw_link in client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    act(client, referral, "withdraw", {"withdraw-reason": "referred_elsewhere"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.WITHDRAWN


def test_every_action_page_tags_a_person_reallocated_while_missing_as_missing_as_the_case_heading_does():
    referral, staff, boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="safety_concern")
    waiting, _, _ = placed()
    services.reallocate_referral(referral_id=waiting.pk, actor=boss, reason="needs_changed")
    client = signed_in(boss)
    tag = 'Assessed</span> <span class="tag tag-urgent">Missing</span>'
    for transition in ("found", "exit", "correct", "reassess"):
        page = client.get(action_url(referral, transition), follow=True).content.decode()
        meta = page.split('<p class="meta">Case ', 1)[1].split("</p>", 1)[0]
        assert tag in meta, transition
    # Refused, too: the page that says why names the state as the case page does.
    refused = act(signed_in(referral.submitted_by), referral, "withdraw", {"withdraw-reason": "other"})
    assert tag in refused.content.decode()
    assert "tag-urgent" not in client.get(action_url(waiting, "correct")).content.decode()


def test_the_usual_next_step_is_in_place_and_every_other_action_a_link_to_its_own_page():
    referral, staff, boss = placed()
    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert 'id="action-record_progress"' in html and 'name="record_progress-note"' in html
    for transition in ("report_missing", "reallocate", "recover", "exit"):
        assert f'href="{action_url(referral, transition)}"' in html
        assert f'name="{transition}-note"' not in html


def test_an_action_done_from_its_own_page_goes_back_to_the_case():
    referral, _staff, boss = placed()
    client = signed_in(boss)
    page = client.get(action_url(referral, "reallocate"), follow=True)
    assert page.status_code == 200
    assert "<h1>Reallocate</h1>" in page.content.decode()
    response = act(client, referral, "reallocate", {"reallocate-reason": "needs_changed"}, follow=True)
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])


def test_a_failed_action_comes_back_on_its_own_page_with_the_error_summary():
    referral, staff, _boss = placed()
    response = act(signed_in(staff), referral, "report_missing", {"report_missing-note": "Gone"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Error: Report missing: case" in html
    assert 'href="#id_report_missing-last_seen_at"' in html
    assert "Gone</textarea>" in html  # what was typed is kept
    referral.refresh_from_db()
    assert referral.state == ReferralState.PLACED


def test_an_action_that_is_not_open_now_sends_the_user_back_to_the_case_saying_so():
    referral, _staff, boss = placed()
    response = signed_in(boss).get(action_url(referral, "assess"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert f"{referral.reference}: This person is placed with a care provider." in response.content.decode()


def test_going_back_to_an_action_already_done_says_so_as_a_second_press_does():
    referral = submitted_referral()
    client = signed_in(referral.submitted_by)
    url = action_url(referral, "withdraw")
    page = client.get(url, follow=True)
    assert page.status_code == 200  # the page, before the referral is withdrawn
    act(client, referral, "withdraw", {"withdraw-reason": "consent_withdrawn"})
    back = client.get(page.redirect_chain[-1][0], follow=True)  # the page's own address, with its key
    assert back.redirect_chain == [(reverse("referrals:case", args=[referral.pk]), 302)]
    assert f"{referral.reference}: This referral has already been withdrawn." in back.content.decode()
    assert "cannot be withdrawn" not in back.content.decode()
    again = act(client, referral, "withdraw", {"withdraw-reason": "consent_withdrawn"})
    assert again.status_code == 409
    assert "This referral has already been withdrawn." in again.content.decode()


def test_a_form_sent_again_to_an_action_already_done_is_refused_without_the_form_whatever_it_holds():
    referral = submitted_referral()
    client = signed_in(referral.submitted_by)
    assert act(client, referral, "withdraw", {"withdraw-reason": "other"}).status_code == 302
    again = act(client, referral, "withdraw", {"withdraw-reason": ""})  # Back to the refused form, sent
    assert again.status_code == 409
    html = again.content.decode()
    assert "This referral has already been withdrawn." in html
    assert "Choose why" not in html
    assert 'id="action-withdraw"' not in html and TRANSITIONS["withdraw"].button not in html
    assert [log.transition for log in referral.transitions.all()].count("withdraw") == 1


def test_an_action_the_role_may_not_take_is_refused_before_its_form_is_checked():
    referral = submitted_referral()
    response = act(signed_in(referral.submitted_by), referral, "assess", {"assess-risk": ""})
    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not assess" in html
    assert 'id="action-assess"' not in html
    assert "assess-risk" not in html


def test_a_note_sent_to_an_action_the_case_has_closed_is_shown_again_as_not_recorded():
    referral, staff, boss = placed()
    client = signed_in(staff)
    services.exit_referral(referral_id=referral.pk, actor=boss, reason="other")
    response = act(client, referral, "record_progress", {"record_progress-note": "Settling in"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Your progress note was not recorded. This person has already exited support." in html
    assert "Settling in</textarea>" in html
    assert not referral.transitions.filter(transition="record_progress").exists()


def test_the_provider_a_case_closed_from_is_told_when_it_closed_on_sending_and_on_opening_an_action():
    referral, staff, boss = placed()
    client = signed_in(staff)
    services.recover_referral(referral_id=referral.pk, actor=boss, outcome="independent_living")
    referral.refresh_from_db()
    when = f"Their recovery was recorded at {local_time(referral.closed_at, '%H:%M on %-d %B %Y')}"
    sent = act(client, referral, "report_missing", {"report_missing-note": "Not seen since Monday"})
    assert sent.status_code == 409
    assert escape(when) in sent.content.decode() and "You may not" not in sent.content.decode()
    opened = client.get(action_url(referral, "record_progress"), follow=True)
    assert escape(when) in opened.content.decode()


def assert_shown_again(response, field: str, typed: str) -> str:
    """The form is back with what was typed into ``field``, refused (409): the refusal at the top."""
    summary = refusal_shown(response)
    assert re.search(
        rf'<textarea name="{field}"[^>]*>\s*' + re.escape(escape(typed)) + "</textarea>",
        response.content.decode(),
    )
    return summary


MANAGERS_NOTE = "Her solicitor says she will only speak to a woman caseworker."


def test_a_managers_assessment_notes_sent_after_a_colleague_declined_are_shown_again_not_recorded():
    referral = submitted_referral()
    services.decline_referral(referral_id=referral.pk, actor=manager(), reason="duplicate")
    response = act(
        signed_in(manager()),
        referral,
        "assess",
        {"assess-risk": "high", "assess-route": "accommodation", "assess-notes": MANAGERS_NOTE},
    )
    summary = assert_shown_again(response, "assess-notes", MANAGERS_NOTE)
    assert "Your assessment was not recorded. This referral has already been declined." in summary
    assert f"phone it to the other managers on {DUTY_LINE}, quoting case {referral.reference}." in summary
    assert not referral.transitions.filter(transition="assess").exists()


@pytest.mark.parametrize("when", ["before it was sent", "as it was sent"])
def test_a_decline_note_sent_when_a_colleague_assessed_the_referral_is_shown_again_not_recorded(
    when, monkeypatch
):
    referral = submitted_referral()
    colleague = manager()

    def colleague_assesses():
        services.assess_referral(referral_id=referral.pk, actor=colleague, risk="low", route="outreach")

    if when == "before it was sent":
        colleague_assesses()
    else:  # after the page checked the case, before the service locked it: the race is lost
        perform = services.perform_transition

        def after_the_colleague(*args, **kwargs):
            colleague_assesses()
            return perform(*args, **kwargs)

        monkeypatch.setattr(services, "perform_transition", after_the_colleague)
    response = act(
        signed_in(manager()),
        referral,
        "decline",
        {"decline-reason": "not_eligible", "decline-note": MANAGERS_NOTE},
    )
    summary = assert_shown_again(response, "decline-note", MANAGERS_NOTE)
    assert (
        "Your decline was not recorded. This referral has already been assessed and is waiting for a placement."
        in summary
    )
    assert "To close the case with your note, withdraw the referral instead" in summary
    assert_only_to_copy(response, "decline", {"Reason for declining": "Not eligible"})
    referral.refresh_from_db()
    assert referral.state == ReferralState.ASSESSED
    assert not referral.transitions.filter(transition="decline").exists()


def test_a_responders_withdrawal_note_sent_after_the_referral_was_declined_is_shown_again_not_recorded():
    referral = submitted_referral()
    services.decline_referral(referral_id=referral.pk, actor=manager(), reason="insufficient_information")
    note = "She has moved to her aunt's in Leeds and asked us to stop."
    response = act(
        signed_in(referral.submitted_by),
        referral,
        "withdraw",
        {"withdraw-reason": "referred_elsewhere", "withdraw-note": note},
    )
    summary = assert_shown_again(response, "withdraw-note", note)
    assert "Your withdrawal was not recorded. This referral has already been declined." in summary
    assert (
        f"copy it and phone it to the managers on {DUTY_LINE}, quoting case {referral.reference}." in summary
    )
    assert not referral.transitions.filter(transition="withdraw").exists()


def test_an_offer_note_sent_from_a_stale_tab_while_another_offer_is_pending_is_shown_again_not_recorded():
    referral, _provider, boss = offered(CareProviderFactory(name="Medaille Trust"))
    other = CareProviderFactory()
    response = act(
        signed_in(boss), referral, "offer", {"offer-provider": other.pk, "offer-note": MANAGERS_NOTE}
    )
    summary = assert_shown_again(response, "offer-note", MANAGERS_NOTE)
    pending = pending_offer_message(referral).removeprefix(f"{referral.reference}: ")
    assert f"Your offer was not recorded. {pending}" in summary
    # The provider deciding now is the one the note's safety concerns are for.
    assert (
        f"Medaille Trust has not seen your note: phone them with it now, quoting case {referral.reference}, "
        "or give it with the next offer if they reject the person."
    ) in summary
    assert_only_to_copy(response, "offer", {"Care provider": other.name})
    assert not referral.offers.filter(provider=other).exists()


def test_an_offer_note_refused_because_the_referral_was_withdrawn_does_not_promise_a_next_offer():
    referral, provider, boss = offered()
    services.withdraw_referral(referral_id=referral.pk, actor=boss, reason="consent_withdrawn")
    response = act(
        signed_in(boss), referral, "offer", {"offer-provider": provider.pk, "offer-note": MANAGERS_NOTE}
    )
    summary = assert_shown_again(response, "offer-note", MANAGERS_NOTE)
    assert "Your offer was not recorded. This referral has already been withdrawn." in summary
    assert "next offer" not in summary
    assert (
        f"Harbour cannot pass your note on now: copy it and phone it to the other managers on {DUTY_LINE}"
        in summary
    )


def test_a_refused_assessment_is_shown_to_copy_without_a_button_that_sends_it_again():
    referral = submitted_referral()
    services.assess_referral(referral_id=referral.pk, actor=manager(), risk="low", route="outreach")
    response = act(
        signed_in(manager()),
        referral,
        "assess",
        {"assess-risk": "high", "assess-route": "accommodation", "assess-notes": MANAGERS_NOTE},
    )
    assert_shown_again(response, "assess-notes", MANAGERS_NOTE)
    html = assert_only_to_copy(response, "assess", {"Risk": "High", "Route": "Accommodation (safe house)"})
    assert re.search(r'<label for="id_assess-notes">Notes \(optional\)</label>', html)
    assert re.search(r'<textarea name="assess-notes"[^>]*readonly', html)
    case = reverse("referrals:case", args=[referral.pk])
    assert f'<a class="button button-secondary" href="{case}">Back to the case</a>' in html
    assert '<button type="submit" class="button">Assess</button>' not in html


def test_a_managers_missing_report_sent_after_the_provider_made_one_does_not_say_nobody_was_told():
    referral, staff, boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    response = act(
        signed_in(boss),
        referral,
        "report_missing",
        {
            "report_missing-last_seen_at": f"{timezone.localtime():%Y-%m-%dT%H:%M}",
            "report_missing-note": "At Victoria",
        },
    )
    summary = assert_shown_again(response, "report_missing-note", "At Victoria")
    assert (
        "Your report that the person is missing was not recorded. This person has already been reported missing."
        in summary
    )
    assert "not told anyone" not in summary
    # What the manager typed is theirs to give by phone: the time last seen first, not "your note".
    assert (
        "If the time they were last seen that you give is not the one on the case, or you know more, phone "
        f"the other managers on {DUTY_LINE}, quoting case {referral.reference}." in summary
    )
    assert referral.transitions.filter(transition="report_missing").count() == 1


def test_going_back_to_an_offer_already_accepted_says_the_person_is_placed():
    referral, staff, _boss = placed()
    response = signed_in(staff).get(action_url(referral, "accept"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert f"{referral.reference}: {already_accepted(referral, staff)}" in response.content.decode()


def test_an_offer_accepted_by_a_provider_the_person_has_since_left_says_so():
    referral, staff, _boss = placed()
    services.recover_referral(referral_id=referral.pk, actor=staff, outcome="independent_living")
    response = signed_in(staff).get(action_url(referral, "accept"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert (
        f"{referral.reference}: You accepted this offer; the person is no longer placed with you."
        in response.content.decode()
    )


def test_an_offer_not_made_to_the_user_says_there_is_no_offer_waiting_for_them():
    referral, _staff, boss = placed()
    response = signed_in(boss).get(action_url(referral, "accept"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referrals:case", args=[referral.pk])
    assert f"{referral.reference}: This case has no offer waiting for you." in response.content.decode()


def test_an_action_the_user_may_not_take_says_so_in_a_sentence():
    referral = submitted_referral()
    from tests.factories import responder

    client = signed_in(responder(organisation=referral.organisation))
    response = client.get(action_url(referral, "assess"), follow=True)
    assert f"{referral.reference}: You may not assess this referral." in response.content.decode()


@pytest.mark.parametrize(
    ("transition", "title"),
    [("recover", "Record recovery"), ("exit", "Record an exit from support"), ("reallocate", "Reallocate")],
)
def test_the_action_pages_of_a_placed_case_are_titled_by_what_they_do(transition, title):
    referral, _staff, boss = placed()
    client = signed_in(boss)
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert f'href="{action_url(referral, transition)}">{title}</a>' in case_page
    assert f"<h1>{title}</h1>" in client.get(action_url(referral, transition), follow=True).content.decode()


def test_a_missing_person_is_marked_as_found_not_shown_a_found_heading():
    referral, staff, _boss = placed()
    services.report_missing(referral_id=referral.pk, actor=staff, last_seen_at=timezone.now())
    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "<h3>Mark as found</h3>" in html
    assert "<h3>Found</h3>" not in html


def test_no_action_is_titled_with_the_name_of_a_state():
    states = set(ReferralState.labels)
    assert [spec.title for spec in TRANSITIONS.values() if spec.title in states] == []


def test_the_history_reads_in_words_not_codes():
    referral, provider, boss = offered(CareProviderFactory(name="Medaille House"))
    services.reject_offer(referral_id=referral.pk, actor=provider_user(provider), reason="no_capacity")
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "Received → Assessed" in html
    assert "Medaille House" in html and "No capacity" in html and "no_capacity" not in html


def test_a_refused_form_with_a_date_that_is_no_date_shows_it_as_sent():
    referral, staff, boss = placed()
    services.exit_referral(referral_id=referral.pk, actor=boss, reason="left_support")
    response = signed_in(staff).post(
        reverse("referrals:case_action", args=[referral.pk, "record_progress"]),
        {"record_progress-note": "Safe, eating well", "record_progress-next_check_in": "31/12/2026"},
    )
    assert response.status_code == 409
    assert "31/12/2026" in response.content.decode()
