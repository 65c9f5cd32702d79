"""The append-only audit trail: every change and read, with who, when and from where (SPEC §10)."""

import datetime
import json

import pytest
from django.db import DatabaseError, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.context import AuditContextMiddleware
from audit.models import AuditAction, AuditEvent
from audit.services import record_read
from referrals import services
from referrals.drafts import save_draft
from referrals.exceptions import TransitionNotAllowed
from referrals.models import Referral, ReferralDraft
from referrals.tasks import purge_expired_drafts
from tests.api.cases import bring_to, transition_url, valid_body
from tests.factories import (
    CareProviderFactory,
    manager,
    provider_user,
    referral_fields,
    responder,
    submitted_referral,
)
from tests.web.conftest import intake_data

pytestmark = pytest.mark.django_db


def served_from(address: str, action):
    """Run ``action`` as if inside a request from ``address``."""
    request = RequestFactory().get("/", REMOTE_ADDR=address)
    outcome = {}

    def view(_request):
        outcome["value"] = action()
        return None

    AuditContextMiddleware(view)(request)
    return outcome["value"]


def test_a_transition_writes_who_when_where_and_before_after_without_personal_data():
    referral = submitted_referral(given_name="Amina", family_name="Haile")
    boss = manager()
    served_from(
        "203.0.113.7",
        lambda: services.assess_referral(
            referral_id=referral.pk, actor=boss, risk="high", route="accommodation", notes="Amina fears Haile"
        ),
    )
    event = AuditEvent.objects.get(referral=referral, what="transition: assess")
    assert (event.actor, event.action, event.ip_address) == (boss, AuditAction.CHANGE, "203.0.113.7")
    assert event.changes["state"] == {"before": "received", "after": "assessed"}
    assert event.changes["risk"] == {"after": "high"}
    assert "Amina" not in json.dumps(event.changes) and "fears" not in json.dumps(event.changes)


def test_submission_is_audited_and_outside_a_request_no_address_is_recorded():
    referral = submitted_referral()
    event = AuditEvent.objects.get(referral=referral)
    assert event.what == "transition: submit"
    assert event.ip_address is None
    assert event.changes["state"] == {"before": "", "after": "received"}


def test_a_refused_transition_leaves_no_audit_row():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    count = AuditEvent.objects.count()
    with pytest.raises(TransitionNotAllowed):
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    assert AuditEvent.objects.count() == count


@pytest.mark.postgres
def test_postgresql_refuses_to_update_or_delete_an_audit_row():
    event = record_read(actor=manager(), referral=submitted_referral(), what="case page")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(what="nothing to see")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.what == "case page"


# ------------------------------------------------------------------------------------- web pages


def test_a_manager_reads_a_cases_audit_trail_on_the_web(client):
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="high", route="outreach")
    client.force_login(boss)
    response = client.get(reverse("referral-audit", args=[referral.pk]), REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Assessed" in body and "State: Received → Assessed" in body
    assert boss.username in body


def test_a_cases_audit_trail_reads_in_words_as_the_case_pages_history_does(client):
    referral = submitted_referral(given_name="Zebedee")
    boss = manager()
    helper = CareProviderFactory(name="Migrant Help")
    services.assess_referral(
        referral_id=referral.pk, actor=boss, risk="high", route="accommodation", notes="Zebedee is afraid"
    )
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=helper.pk)
    services.reject_offer(referral_id=referral.pk, actor=provider_user(helper), reason="no_capacity")
    client.force_login(boss)
    trail = client.get(reverse("referral-audit", args=[referral.pk])).content.decode()
    for line in (
        "Submitted",
        "State: — → Received",
        "Assessed",
        "Risk: High",
        "Route: Accommodation (safe house)",
        "Offered a placement",
        "Provider: Migrant Help",
        "Rejected by a provider",
        "Reason: No capacity",
        "State: Assessed → Assessed",
    ):
        assert line in trail, line
    for code in ("transition: ", "provider: ", "no_capacity", "accommodation →", "risk: high"):
        assert code not in trail, code
    assert "Zebedee" not in trail and "afraid" not in trail
    case_page = client.get(reverse("referrals:case", args=[referral.pk])).content.decode()
    assert "Provider: Migrant Help" in case_page and "Reason: No capacity" in case_page


def test_a_changed_assessment_shows_the_risk_and_route_before_and_after(client):
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="accommodation")
    services.reassess_referral(referral_id=referral.pk, actor=boss, risk="high", route="outreach")
    client.force_login(boss)
    trail = client.get(reverse("referral-audit", args=[referral.pk])).content.decode()
    changed = trail[trail.index("Assessment changed") :]
    assert "Risk: Medium → High" in changed
    assert "Route: Accommodation (safe house) → Outreach" in changed
    assert "State: Assessed → Assessed" in changed


def test_the_whole_trail_reads_the_filters_of_an_export_in_words(client):
    boss = manager()
    helper = CareProviderFactory(name="Migrant Help")
    client.force_login(boss)
    filters = {"region": "london", "organisation_kind": "police", "date_from": "2026-01-01"}
    download = client.get(
        reverse("reports:caseload_csv"), {"table": "regions", "provider": helper.pk, **filters}
    )
    assert download.status_code == 200
    trail = client.get(reverse("audit-log"), {"action": "export"}).content.decode()
    for line in (
        "Region: London",
        "Referring organisation: Police",
        "Submitted from: 1 January 2026",
        "Placed with: Migrant Help",
    ):
        assert line in trail, line
    for code in ("region: ", "organisation_kind", "date_from", "police<", "provider: "):
        assert code not in trail, code


@pytest.mark.parametrize(
    ("what", "changes", "line"),
    [
        ("transition: exit", {"reason": {"after": "moved_out_of_area"}}, "Reason: Moved out of area"),
        ("transition: recover", {"outcome": {"after": "family_or_friends"}}, "Outcome: Family or friends"),
        ("transition: record_progress", {"next_check_in": {"after": "2026-12-05"}}, "5 December 2026"),
        ("transition: record_progress", {"recovery_review": {"after": True}}, "Recovery review: Yes"),
        ("transition: expire_offer", {"state": {"before": "assessed", "after": "assessed"}}, "Offer expired"),
        ("clock stopped", {"clock": "offer_response"}, "Clock: Offer response"),
        ("admin: user 4 (jo) changed", {"role": {"before": "first_responder", "after": "manager"}}, "Role: First responder → Manager"),
        ("admin: organisation 2 (Acme) changed", {"kind": {"before": "police", "after": "ngo"}}, "Kind: Police → NGO"),
        ("admin: care provider 3 (Haven) changed", {"regions": {"before": ["london"], "after": ["london", "wales"]}}, "Regions: London → London, Wales"),
        ("admin: care provider 3 (Haven) changed", {"languages": {"after": ["ti", "en"]}}, "Languages: Tigrinya, English"),
        ("admin: care provider 3 (Haven) changed", {"supports_children": {"before": False, "after": True}}, "Supports children: No → Yes"),
        ("draft 7: saved", {"fields": ["family_name", "given_name"]}, "Fields: Family name, Given name"),
        ("retention: closed cases anonymised", {"cutoff": "2026-01-31T00:00:00+00:00"}, "Cutoff: 31 January 2026"),
    ],
)  # fmt: skip
def test_each_kind_of_change_on_the_trail_reads_in_words(what, changes, line):
    from audit.wording import trail_rows

    event = AuditEvent.objects.create(action=AuditAction.CHANGE, what=what, changes=changes)
    [row] = trail_rows([event])
    assert any(line in shown for shown in [row.what, *row.changes]), (row.what, row.changes)


def test_the_audit_page_is_403_for_a_role_that_sees_the_case_and_404_outside_scope(client):
    referral = submitted_referral()
    client.force_login(referral.submitted_by)
    assert client.get(reverse("referral-audit", args=[referral.pk])).status_code == 403
    client.force_login(responder())
    assert client.get(reverse("referral-audit", args=[referral.pk])).status_code == 404
    client.force_login(provider_user())
    assert client.get(reverse("referral-audit", args=[referral.pk])).status_code == 404


def test_the_case_audit_page_takes_the_same_queries_for_one_event_as_for_fifty(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boss = manager()
    referral = submitted_referral()
    client.force_login(boss)
    url = reverse("referral-audit", args=[referral.pk])
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    reader = responder()
    for _ in range(50):
        record_read(actor=reader, referral=referral, what="case page")
    with CaptureQueriesContext(connection) as fifty:
        assert client.get(url).status_code == 200
    assert len(fifty) == len(one)


def test_both_trail_pages_name_the_providers_of_fifty_rows_in_one_query_as_for_one(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boss = manager()
    referral = submitted_referral()
    client.force_login(boss)
    pages = [reverse("referral-audit", args=[referral.pk]), reverse("audit-log")]

    def rows_naming_providers(count: int) -> list[str]:
        providers = CareProviderFactory.create_batch(count)
        AuditEvent.objects.bulk_create(
            # An offer names its provider by id; the caseload export records its filter as text.
            AuditEvent(action=AuditAction.CHANGE, referral=referral, what="transition: offer",
                       changes={"provider": {"after": provider.pk}})
            if n % 2 == 0 else
            AuditEvent(action=AuditAction.EXPORT, actor=boss, what="caseload CSV: regions",
                       changes={"provider": str(provider.pk)})
            for n, provider in enumerate(providers)
        )  # fmt: skip
        return [provider.name for provider in providers]

    def queries_and_page(url: str) -> tuple[list[str], str]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return [query["sql"] for query in captured], response.content.decode()

    names = rows_naming_providers(1)
    for url in pages:
        client.get(url)  # warm the session
    one = {url: queries_and_page(url)[0] for url in pages}
    names += rows_naming_providers(49)
    for url in pages:
        fifty, page = queries_and_page(url)
        assert len(fifty) == len(one[url]), url
        assert sum('FROM "care_providers_careprovider"' in sql for sql in fifty) == 1, url
    assert all(name in page for name in names)


def test_the_manager_wide_audit_page_filters_by_user_action_and_date(client):
    boss = manager(username="boss")
    other = responder(username="someone")
    referral = submitted_referral(actor=other)
    record_read(actor=boss, referral=referral, what="case page")
    client.force_login(boss)
    response = client.get(reverse("audit-log"), {"username": "boss", "action": "read"})
    assert response.status_code == 200
    events = response.context["events"]
    assert [e.what for e in events] == ["case page"]
    response = client.get(reverse("audit-log"), {"since": "2001-01-02", "until": "2001-01-01"})
    assert response.status_code == 400
    assert "on or after" in response.content.decode()
    response = client.get(reverse("audit-log"), {"until": "9999-12-31"})
    assert response.status_code == 400
    assert "Choose a day from 1 January 2000" in response.content.decode()


def test_the_manager_wide_audit_page_finds_a_case_by_its_reference_typed_in_any_case_or_without_zeros(client):
    boss = manager()
    wanted, other = submitted_referral(), submitted_referral()
    record_read(actor=boss, referral=wanted, what="case page")
    record_read(actor=boss, referral=other, what="case page")
    client.force_login(boss)
    typed = f" {wanted.reference.lower()} "
    response = client.get(reverse("audit-log"), {"reference": typed, "action": "read"})
    assert response.status_code == 200
    assert [event.referral_id for event in response.context["events"]] == [wanted.pk]
    _prefix, year, number = wanted.reference.split("-")
    response = client.get(reverse("audit-log"), {"reference": f"hbr {year} {int(number)}", "action": "read"})
    assert [event.referral_id for event in response.context["events"]] == [wanted.pk]


def test_a_trail_day_from_a_link_written_dd_mm_yyyy_shows_in_its_date_box(client):
    """A date box shows only yyyy-mm-dd: a day a link gives as 30/11/2026 filters the trail, so the box
    shows it as the day read, and filtering again keeps it."""
    client.force_login(manager())
    page = client.get(reverse("audit-log"), {"since": "30/11/2026"}).content.decode()
    assert 'name="since" value="2026-11-30"' in page
    assert 'value="30/11/2026"' not in page


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        ({"since": "2026-11-30", "until": "2026-11-01"}, "The end date must be on or after the start date."),
        ({"until": "9999-12-31"}, "Choose a day from 1 January 2000"),
    ],
)
def test_a_trail_filter_with_an_error_lists_no_events_and_shows_the_error_as_every_form_does(
    client, dates, message
):
    import re

    boss = manager(username="boss")
    record_read(actor=boss, referral=submitted_referral(), what="case page")
    client.force_login(boss)
    response = client.get(reverse("audit-log"), {"username": "boss", **dates})
    assert response.status_code == 400
    html = response.content.decode()
    assert response.context["events"] == [] and "case page" not in html
    assert "No events are listed until the filters are corrected." in html
    assert "<title>Error: Audit trail" in html
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S)[0]
    assert re.search(rf'<a href="#id_until">{re.escape(message)}', summary)
    assert re.search(r'<div class="field field-has-error">\s*<label for="id_until">', html)
    until = re.search(r'<input[^>]*name="until"[^>]*>', html)[0]
    assert 'aria-invalid="true"' in until
    described_by = re.search(r'aria-describedby="([^"]+)"', until)[1].split()
    assert described_by and all(f'id="{target}"' in html for target in described_by)
    assert re.search(r'<input[^>]*name="username"[^>]*value="boss"', html)  # the valid filter stays


def test_a_too_long_case_reference_on_the_trail_says_what_to_type(client):
    from tests.web.conftest import assert_field_error_reported

    client.force_login(manager())
    response = client.get(reverse("audit-log"), {"reference": "HBR-2026-000274 Ana Testova"})
    assert response.status_code == 400
    assert_field_error_reported(
        response.content.decode(),
        field_id="id_reference",
        hint="For example HBR-2026-004217, or 2026-4217.",
        message="Enter a case reference of at most 20 characters, like HBR-2026-004217.",
    )


def test_a_damaged_older_events_link_says_so_without_listing_events(client):
    boss = manager()
    record_read(actor=boss, referral=submitted_referral(), what="case page")
    client.force_login(boss)
    response = client.get(reverse("audit-log"), {"before": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The link to older events is damaged." in html and "case page" not in html
    assert 'href="#id_before"' not in html  # the field is hidden: nothing to go to


def test_the_manager_wide_audit_page_is_for_managers_only(client):
    client.force_login(responder())
    assert client.get(reverse("audit-log")).status_code == 403


def test_the_audit_page_lists_with_a_constant_number_of_queries(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boss = manager()
    client.force_login(boss)
    record_read(actor=boss, referral=submitted_referral(), what="case page")
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("audit-log"))
    reader = responder()
    for _ in range(30):
        record_read(actor=reader, referral=submitted_referral(actor=reader), what="case page")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("audit-log"))
    assert len(many) == len(one)


# ------------------------------------------------------------------------------------------ API


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_manager_reads_a_cases_audit_trail_through_the_api():
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="medium", route="outreach")
    response = api_as(boss).get(f"/api/v1/referrals/{referral.pk}/audit/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["what"] for r in results] == ["transition: assess", "transition: submit"]
    assert results[0]["actor"]["username"] == boss.username
    assert results[0]["changes"]["state"] == {"before": "received", "after": "assessed"}


def test_the_audit_api_is_403_for_other_roles_and_404_outside_scope_or_for_no_such_case():
    referral = submitted_referral()
    assert api_as(referral.submitted_by).get(f"/api/v1/referrals/{referral.pk}/audit/").status_code == 403
    assert api_as(responder()).get(f"/api/v1/referrals/{referral.pk}/audit/").status_code == 404
    assert api_as(manager()).get("/api/v1/referrals/999999/audit/").status_code == 404
    assert APIClient().get(f"/api/v1/referrals/{referral.pk}/audit/").status_code == 401


def test_a_provider_holding_the_placement_cannot_read_the_audit_trail():
    provider = CareProviderFactory()
    carer = provider_user(provider)
    referral = submitted_referral()
    boss = manager()
    services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="outreach")
    services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    assert api_as(carer).get(f"/api/v1/referrals/{referral.pk}/audit/").status_code == 403


def test_opening_a_case_page_is_audited_and_managers_find_the_audit_trail_linked_from_it(client):
    referral = submitted_referral()
    boss = manager()
    client.force_login(boss)
    page = client.get(reverse("referrals:case", args=[referral.pk]), REMOTE_ADDR="198.51.100.9")
    assert reverse("referral-audit", args=[referral.pk]) in page.content.decode()
    read = AuditEvent.objects.get(referral=referral, action=AuditAction.READ)
    assert (read.actor, read.ip_address) == (boss, "198.51.100.9")
    client.force_login(referral.submitted_by)
    page = client.get(reverse("referrals:case", args=[referral.pk]))
    assert reverse("referral-audit", args=[referral.pk]) not in page.content.decode()


def test_reading_a_case_through_the_api_detail_and_history_is_audited():
    referral = submitted_referral()
    boss = manager()
    api = api_as(boss)
    api.get(f"/api/v1/referrals/{referral.pk}/", REMOTE_ADDR="198.51.100.10")
    api.get(f"/api/v1/referrals/{referral.pk}/history/", REMOTE_ADDR="198.51.100.10")
    reads = AuditEvent.objects.filter(referral=referral, action=AuditAction.READ, actor=boss)
    assert reads.count() == 2
    assert set(reads.values_list("ip_address", flat=True)) == {"198.51.100.10"}


def test_listing_cases_through_the_api_audits_a_read_of_each_person_on_the_page():
    boss = manager()
    listed = [submitted_referral() for _ in range(3)]
    response = api_as(boss).get("/api/v1/referrals/?page_size=2", REMOTE_ADDR="198.51.100.11")
    shown = [item["id"] for item in response.json()["results"]]
    reads = AuditEvent.objects.filter(action=AuditAction.READ, actor=boss, what="API referral list")
    assert len(shown) == 2
    assert sorted(reads.values_list("referral_id", flat=True)) == sorted(shown)
    assert set(reads.values_list("ip_address", flat=True)) == {"198.51.100.11"}
    assert {referral.pk for referral in listed} > set(shown)


@pytest.mark.parametrize(
    ("state", "transition", "by", "shows_the_person"),
    [
        ("offered", "accept", "provider_user", True),
        ("received", "assess", "manager", True),
        ("offered", "reject", "provider_user", False),
    ],
)
def test_a_transition_answer_that_names_the_person_is_audited_as_one_read(
    state, transition, by, shows_the_person
):
    case = bring_to(state, given_name="Amina")
    user = getattr(case, by)
    response = api_as(user).post(
        transition_url(case.referral.pk, transition),
        valid_body(transition),
        format="json",
        REMOTE_ADDR="198.51.100.12",
    )
    assert response.status_code == 200
    assert ("given_name" in response.json()) is shows_the_person
    reads = AuditEvent.objects.filter(referral=case.referral, action=AuditAction.READ, actor=user)
    if shows_the_person:
        assert list(reads.values_list("what", "ip_address")) == [
            (f"API {transition} answer", "198.51.100.12")
        ]
    else:
        assert not reads.exists()


def test_the_create_answer_echoes_what_the_submitter_sent_and_is_not_a_read():
    user = responder()
    fields = referral_fields(date_of_birth="1990-05-01")
    response = api_as(user).post("/api/v1/referrals/", fields, format="json")
    assert response.status_code == 201 and response.json()["given_name"] == fields["given_name"]
    events = AuditEvent.objects.filter(referral_id=response.json()["id"])
    assert list(events.values_list("action", "what")) == [(AuditAction.CHANGE, "transition: submit")]


def action_page(referral: Referral, transition: str) -> str:
    return reverse("referrals:case_action", args=[referral.pk, transition])


@pytest.mark.parametrize(
    ("state", "by", "transition", "names_the_person"),
    [
        ("placed", "provider_user", "record_progress", True),
        ("placed", "provider_user", "report_missing", True),
        ("placed", "provider_user", "reallocate", True),
        ("placed", "provider_user", "recover", True),
        ("placed", "provider_user", "exit", True),
        ("missing", "manager", "found", True),
        ("received", "manager", "assess", True),
        ("received", "responder", "correct", True),
        # Who the person is comes to a provider with taking them, not with the offer.
        ("offered", "provider_user", "accept", False),
        ("offered", "provider_user", "reject", False),
    ],
)
def test_opening_an_action_page_that_names_the_person_is_audited_as_one_read(
    client, state, by, transition, names_the_person
):
    case = bring_to(state, given_name="Amina", family_name="Haile")
    user = getattr(case, by)
    client.force_login(user)
    page = client.get(action_page(case.referral, transition), follow=True, REMOTE_ADDR="198.51.100.13")
    html = page.content.decode()
    assert page.status_code == 200 and ("Amina Haile" in html) is names_the_person
    if transition == "correct":  # the form comes filled with every detail it corrects
        assert 'value="07700 900123"' in html
    reads = AuditEvent.objects.filter(referral=case.referral, action=AuditAction.READ, actor=user)
    expected = [(f"{transition} page", "198.51.100.13")] if names_the_person else []
    assert list(reads.values_list("what", "ip_address")) == expected


@pytest.mark.parametrize(
    ("state", "by", "transition", "sent", "status"),
    [
        # Shown again with its errors.
        ("placed", "provider_user", "report_missing", {"report_missing-note": "Gone"}, 400),
        # Shown again refused, to be copied: the case moved on before it arrived.
        ("declined", "responder", "withdraw", {"withdraw-reason": "other", "withdraw-note": "Moved"}, 409),
    ],
)
def test_an_action_form_shown_again_naming_the_person_is_audited_as_one_read(
    client, state, by, transition, sent, status
):
    case = bring_to(state, given_name="Amina", family_name="Haile")
    user = getattr(case, by)
    client.force_login(user)
    page = client.post(action_page(case.referral, transition), sent)
    assert page.status_code == status and "Amina Haile" in page.content.decode()
    reads = AuditEvent.objects.filter(referral=case.referral, action=AuditAction.READ, actor=user)
    assert list(reads.values_list("what", flat=True)) == [f"{transition} page"]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.1", "10.0.0.2"),
        (1, "198.51.100.66, 203.0.113.1", "203.0.113.1"),
        (2, "198.51.100.66, 203.0.113.1, 10.0.0.9", "203.0.113.1"),
        # TRUSTED_PROXY_COUNT set with no proxy in front: what the client wrote is not an address.
        (1, "<script>", "10.0.0.2"),
    ],
)
def test_the_recorded_address_trusts_x_forwarded_for_only_from_our_own_proxies(
    settings, proxies, forwarded, expected
):
    from audit.context import address_of

    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert address_of(request) == expected


def test_the_manager_wide_trail_pages_by_keyset_from_newest_to_oldest(client):
    from audit.views import PAGE_SIZE

    boss = manager()
    referral = submitted_referral()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(actor=boss, action=AuditAction.READ, referral=referral, what=f"read {n}")
            for n in range(PAGE_SIZE + 5)
        ]
    )
    client.force_login(boss)
    first = client.get(reverse("audit-log"), {"action": "read"})
    assert [e.what for e in first.context["events"]][:2] == [f"read {PAGE_SIZE + 4}", f"read {PAGE_SIZE + 3}"]
    older = first.context["older"]
    assert f"before={older}" in first.content.decode()
    second = client.get(reverse("audit-log"), {"action": "read", "before": older})
    assert [e.what for e in second.context["events"]] == [f"read {n}" for n in range(4, -1, -1)]
    assert second.context["older"] is None


def test_the_day_filter_counts_whole_local_days():
    import datetime

    from django.utils import timezone

    from audit.selectors import audit_events

    event = record_read(actor=manager(), referral=submitted_referral(), what="case page")
    today = timezone.localdate(event.at)
    assert list(audit_events(since=today, until=today, action="read")) == [event]
    assert not audit_events(until=today - datetime.timedelta(days=1)).exists()


# ------------------------------------------------------------------------------------------ drafts

DRAFT_PERSONAL = {"given_name": "Zebedee", "family_name": "Quartermain", "contact_phone": "07700 900456"}


def save_a_draft(client, draft: ReferralDraft | None = None) -> ReferralDraft:
    data = {**DRAFT_PERSONAL, "languages": ["en"], "action": "save_draft"}
    if draft is not None:
        data.update(draft=draft.pk, draft_version=draft.version)
    assert client.post(reverse("referrals:intake"), data, REMOTE_ADDR="192.0.2.44").status_code == 302
    return ReferralDraft.objects.latest("updated_at")


def assert_no_personal_data_in(events) -> None:
    text = json.dumps([[event.what, event.changes] for event in events])
    for value in DRAFT_PERSONAL.values():
        assert value not in text


def test_every_page_that_shows_a_draft_audits_a_read_of_it_by_number(client):
    user = responder()
    client.force_login(user)
    draft = save_a_draft(client)
    pages = [
        (reverse("referrals:drafts"), {}, "drafts list"),
        (reverse("referrals:intake"), {"draft": draft.pk}, "intake form"),
        (reverse("referrals:draft_discard", args=[draft.pk]), {}, "discard page"),
    ]
    for url, query, page in pages:
        response = client.get(url, query, follow=True, REMOTE_ADDR="192.0.2.45")
        assert response.status_code == 200 and "Zebedee" in response.content.decode()
        event = AuditEvent.objects.latest("id")
        assert (event.actor, event.action, event.referral, event.ip_address) == (
            user,
            AuditAction.READ,
            None,
            "192.0.2.45",
        )
        assert event.what == f"draft {draft.pk}: {page}"
    assert_no_personal_data_in(AuditEvent.objects.all())


def test_saving_discarding_and_submitting_drafts_are_audited_without_personal_data(client):
    user = responder()
    client.force_login(user)
    draft = save_a_draft(client)
    draft = save_a_draft(client, draft)
    client.post(
        reverse("referrals:draft_discard", args=[draft.pk]),
        {"draft_version": draft.version},
        REMOTE_ADDR="192.0.2.46",
    )
    submitted = save_a_draft(client)
    client.post(reverse("referrals:intake"), intake_data(draft=str(submitted.pk), draft_version="1"))
    referral = Referral.objects.get()

    changes = AuditEvent.objects.filter(action=AuditAction.CHANGE, referral=None).order_by("id")
    fields = ["contact_phone", "family_name", "given_name", "languages"]
    assert [(event.what, event.changes) for event in changes] == [
        (f"draft {draft.pk}: created", {"fields": fields}),
        (f"draft {draft.pk}: saved", {"fields": fields}),
        (f"draft {draft.pk}: discarded", {}),
        (f"draft {submitted.pk}: created", {"fields": fields}),
        (f"draft {submitted.pk}: submitted", {"referral": referral.reference}),
    ]
    assert {event.actor for event in changes} == {user}
    assert changes[0].ip_address == "192.0.2.44" and changes[2].ip_address == "192.0.2.46"
    assert_no_personal_data_in(changes)


def test_purging_expired_drafts_is_audited_as_retention():
    owner = responder()
    for _ in range(2):
        save_draft(owner=owner, data=DRAFT_PERSONAL)
    ReferralDraft.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert purge_expired_drafts() == 2
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.actor, event.what, event.changes) == (
        AuditAction.RETENTION,
        None,
        "retention: expired drafts deleted",
        {"drafts": 2},
    )
    assert purge_expired_drafts() == 0
    assert AuditEvent.objects.latest("id") == event  # nothing deleted, nothing to audit


def test_the_drafts_page_audits_one_draft_or_fifty_in_one_insert_and_the_same_queries(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = responder()
    client.force_login(user)
    url = reverse("referrals:drafts")
    save_draft(owner=user, data=DRAFT_PERSONAL)
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(49):
        save_draft(owner=user, data=DRAFT_PERSONAL)
    with CaptureQueriesContext(connection) as fifty:
        assert client.get(url).status_code == 200
    assert len(fifty) == len(one)
    for captured in (one, fifty):
        inserts = [query for query in captured if query["sql"].startswith('INSERT INTO "audit_auditevent"')]
        assert len(inserts) == 1
    reads = AuditEvent.objects.filter(action=AuditAction.READ, what__endswith=": drafts list")
    assert reads.count() == 1 + 1 + 50
