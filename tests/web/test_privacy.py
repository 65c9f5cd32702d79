"""Need to know and escaping: what a care provider's page never shows, and free text shown as typed."""

import re
from html import escape
from html.parser import HTMLParser

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from referrals import services
from referrals.forms import ReferralForm
from referrals.permissions import may_read_correction_note, may_see_transition_input
from referrals.retention import PERSONAL_FIELDS_BLANKED
from referrals.selectors import referrals_visible_to
from referrals.validation import PERSONAL_FIELDS
from tests.factories import (
    CareProviderFactory,
    OrganisationFactory,
    manager,
    provider_user,
    responder,
    submitted_referral,
)
from tests.web.conftest import offered, placed, signed_in

pytestmark = pytest.mark.django_db

HIDDEN = {
    "account": "Seen at the docks by PC Secret-Account",
    "crime_reference": "CRIME-REF-998877",
    "responder_reference": "RESP-REF-112233",
    "aliases": "Alias-Known-As-Zed",
}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.parametrize("stage", ["offered", "placed"])
def test_a_care_provider_never_sees_the_account_references_or_aliases(stage):
    if stage == "offered":
        referral, provider, _boss = offered(**HIDDEN)
        from tests.factories import provider_user

        staff = provider_user(provider)
    else:
        referral, staff, _boss = placed(**HIDDEN)
    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert referral.reference in html
    for value in HIDDEN.values():
        assert value not in html
    if stage == "offered":  # who the person is comes with taking them, not with the offer
        assert "Amina" not in html and "Shown once you accept the placement" in html
    else:
        assert "Amina" in html  # the name is needed to support the person


def test_the_referring_responder_and_managers_see_them():
    referral = submitted_referral(**HIDDEN)
    for user in (responder(organisation=referral.organisation), manager()):
        html = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
        for value in HIDDEN.values():
            assert value in html


def test_a_provider_reallocated_away_does_not_see_the_managers_note_on_it():
    referral, staff, boss = placed()
    services.reallocate_referral(
        referral_id=referral.pk, actor=boss, reason="needs_changed", note="Manager-only note"
    )
    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "Manager-only note" not in html


DO_NOT_APPROACH = "Seen with the alleged trafficker at Victoria coach station; do not approach"


def test_the_placed_provider_reads_the_managers_notes_from_its_offer_on_in_the_page_and_the_api():
    boss = manager()
    referral = submitted_referral()
    services.assess_referral(
        referral_id=referral.pk, actor=boss, risk="high", route="accommodation", notes="Assessor's own view"
    )
    provider = CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    staff = provider_user(provider)
    services.accept_offer(referral_id=referral.pk, actor=staff)
    services.report_missing(
        referral_id=referral.pk, actor=boss, last_seen_at=timezone.now(), note=DO_NOT_APPROACH
    )
    services.mark_found(referral_id=referral.pk, actor=boss, note="Found by police; back at the house")

    html = signed_in(staff).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    api = APIClient()
    api.force_authenticate(staff)
    inputs = {
        row["transition"]: row.get("input")
        for row in api.get(f"/api/v1/referrals/{referral.pk}/history/").json()
    }

    for note in (DO_NOT_APPROACH, "Found by police; back at the house"):
        assert escape(note) in html
    assert inputs["report_missing"]["note"] == DO_NOT_APPROACH
    assert inputs["found"]["note"] == "Found by police; back at the house"
    # Not how the managers assessed the referral, before the case came to the provider.
    assert "Assessor&#x27;s own view" not in html and inputs["assess"] is None


@pytest.mark.parametrize(
    ("actor_kind", "from_current_offer", "shown"),
    [
        ("contractor", True, True),
        ("contractor", False, False),  # the assessment, or another provider's time
        ("police", True, False),  # the referrer
        ("care_provider", True, False),  # another provider
    ],
)
def test_a_provider_reads_only_its_own_inputs_and_the_managers_from_its_offer_on(
    actor_kind, from_current_offer, shown
):
    staff = provider_user()
    other = OrganisationFactory(kind=actor_kind)
    assert (
        may_see_transition_input(
            staff, "report_missing", other.pk, actor_kind, from_current_offer=from_current_offer
        )
        is shown
    )
    assert may_see_transition_input(
        staff, "reject", staff.organisation_id, "care_provider", from_current_offer=from_current_offer
    )


@pytest.mark.parametrize(
    ("actor_kind", "from_current_offer", "shown", "note_shown"),
    [
        ("contractor", True, True, True),
        ("police", True, True, False),  # the referrer: why and which details, not its words
        ("police", False, False, False),  # before the provider's offer: another provider's time
        ("contractor", False, False, False),
    ],
)
def test_a_provider_reads_a_correction_from_its_offer_on_whoever_made_it_and_only_the_managers_note(
    actor_kind, from_current_offer, shown, note_shown
):
    staff = provider_user()
    other = OrganisationFactory(kind=actor_kind)
    assert (
        may_see_transition_input(
            staff, "correct", other.pk, actor_kind, from_current_offer=from_current_offer
        )
        is shown
    )
    assert (
        may_read_correction_note(
            staff, other.pk, actor_kind, from_current_offer=from_current_offer, identity=True
        )
        is note_shown
    )
    # Whoever does not see who the person is reads no correction's note.
    assert not may_read_correction_note(
        staff, other.pk, actor_kind, from_current_offer=from_current_offer, identity=False
    )


def test_the_referring_responder_follows_the_case_without_the_providers_support_notes_or_answers():
    referral, provider, boss = offered()
    first = provider_user(provider)
    services.reject_offer(
        referral_id=referral.pk, actor=first, reason="other", note="Turned down: staff rota"
    )
    second = CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=second.pk)
    staff = provider_user(second)
    services.accept_offer(referral_id=referral.pk, actor=staff)
    services.record_progress(referral_id=referral.pk, actor=staff, note="Disclosed a health condition")
    seen = timezone.now()
    services.report_missing(
        referral_id=referral.pk, actor=staff, last_seen_at=seen, note="Left in a grey van"
    )
    referrer = responder(organisation=referral.organisation)

    html = signed_in(referrer).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    api = APIClient()
    api.force_authenticate(referrer)
    history = api.get(f"/api/v1/referrals/{referral.pk}/history/").json()

    for private in ("Turned down: staff rota", "Disclosed a health condition"):
        assert private not in html
    assert "Left in a grey van" in html  # what the police need to look for the person
    inputs = {row["transition"]: row.get("input") for row in history}
    assert inputs["reject"] is None and inputs["record_progress"] is None  # absent, not empty
    assert inputs["report_missing"]["note"] == "Left in a grey van"
    for user in (boss, staff):  # managers see every note; the provider its own
        html = signed_in(user).get(reverse("referrals:case", args=[referral.pk])).content.decode()
        assert "Disclosed a health condition" in html


def test_html_in_the_account_and_notes_is_shown_escaped():
    referral = submitted_referral(account=XSS, given_name=XSS)
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach", notes=XSS)
    html = signed_in(boss).get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


class FormControls(HTMLParser):
    """The attributes of a page's forms, and of its controls by name (the first control of each)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.controls: dict[str, dict[str, str | None]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.forms.append(named)
        elif tag in {"input", "textarea", "select"} and named.get("name"):
            self.controls.setdefault(str(named["name"]), named)


# Every field of the intake that the project counts as personal, whichever list counts it: the one the
# anonymous notification refuses, or the one retention blanks.
PERSONAL_INTAKE_FIELDS = sorted(
    (set(PERSONAL_FIELDS) | set(PERSONAL_FIELDS_BLANKED)) & set(ReferralForm.base_fields)
)


@pytest.mark.parametrize("field", PERSONAL_INTAKE_FIELDS)
def test_a_shared_computers_browser_is_asked_not_to_remember_a_personal_field_of_the_intake(field):
    page = FormControls(signed_in(responder()).get(reverse("referrals:intake"), follow=True).content.decode())
    intake = [form for form in page.forms if form.get("action", "").startswith(reverse("referrals:intake"))]
    # Not the whole form: "off" also stops the browser putting a field back on Back.
    assert [form.get("autocomplete") for form in intake] == [None]
    if isinstance(ReferralForm.base_fields[field].widget, forms.Textarea):
        assert page.controls[field].get("autocomplete") is None  # a browser keeps no text area's value
    else:
        assert page.controls[field].get("autocomplete") == "off"


def test_html_typed_into_the_intake_form_is_escaped_when_redisplayed():
    response = signed_in(responder()).post(
        reverse("referrals:intake"), {"given_name": XSS, "action": "submit"}
    )
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_a_case_reallocated_away_is_gone_for_its_past_provider_and_its_new_one_sees_only_its_own_part():
    referral, staff, boss = placed()
    services.reallocate_referral(referral_id=referral.pk, actor=boss, reason="needs_changed")
    refusing, taking = CareProviderFactory(), CareProviderFactory()
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=refusing.pk)
    services.reject_offer(referral_id=referral.pk, actor=provider_user(refusing), reason="no_capacity")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=taking.pk)
    url = reverse("referrals:case", args=[referral.pk])

    def history(user):
        html = signed_in(user).get(url).content.decode()
        return re.findall(r'<td data-label="Action">([^<]+)</td>', html)

    gone = signed_in(staff).get(url)
    assert gone.status_code == 302 and gone.url == reverse("care_providers:offers")
    assert history(provider_user(taking)) == ["Submitted", "Assessed", "Offered a placement"]
    page = signed_in(provider_user(taking)).get(url).content.decode()
    assert "The referring organisation" in page and referral.submitted_by.username not in page
    assert history(boss) == [
        "Submitted",
        "Assessed",
        "Offered a placement",
        "Accepted by a provider",
        "Reallocated",
        "Offered a placement",
        "Rejected by a provider",
        "Offered a placement",
    ]


@pytest.mark.parametrize("ending", ["recover", "exit"])
def test_a_provider_keeps_the_case_it_closed_but_not_one_that_closed_after_it_was_reallocated_away(ending):
    closed_here, staff, boss = placed()
    reallocated, _other_staff, _boss = placed(provider=staff.provider)
    services.report_missing(referral_id=reallocated.pk, actor=staff, last_seen_at=timezone.now())
    services.reallocate_referral(referral_id=reallocated.pk, actor=boss, reason="needs_changed")
    if ending == "recover":
        services.recover_referral(referral_id=closed_here.pk, actor=staff, outcome="independent_living")
    else:
        services.exit_referral(referral_id=closed_here.pk, actor=staff, reason="left_support")
    # The person reallocated while missing never came back: the case closes from no placement.
    services.exit_referral(referral_id=reallocated.pk, actor=boss, reason="lost_contact")

    assert list(referrals_visible_to(staff)) == [closed_here]
    api = APIClient()
    api.force_authenticate(staff)
    assert api.get(f"/api/v1/referrals/{closed_here.pk}/history/").status_code == 200
    assert api.get(f"/api/v1/referrals/{reallocated.pk}/").status_code == 404
    assert api.get(f"/api/v1/referrals/{reallocated.pk}/history/").status_code == 404
