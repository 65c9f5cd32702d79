"""Every API read takes the query parameters its operation in the schema lists, and refuses any other
with a 400 that names it, rather than answering as if it had not been given (SPEC §9)."""

from __future__ import annotations

import pytest

from audit.models import AuditAction, AuditEvent
from tests.api.cases import bring_to
from tests.factories import manager, provider_user, responder, submitted_referral

pytestmark = pytest.mark.django_db

REFERRAL_FILTERS = "the parameters are cursor, page_size, reference, region and state"
REPORT_FILTERS = "the parameters are date_from, date_to, organisation_kind, provider and region"


def get_operations(schema):
    """Every path of the schema that answers a GET, with its documented query parameters."""
    return {
        path: {p["name"] for p in operations["get"].get("parameters", ()) if p["in"] == "query"}
        for path, operations in schema["paths"].items()
        if "get" in operations
    }


def test_every_read_of_the_schema_refuses_a_query_parameter_it_does_not_list(api):
    case = bring_to("placed")
    client = api(case.manager)
    schema = client.get("/api/v1/schema/?format=json").json()
    reads = get_operations(schema)
    assert len(reads) >= 11
    for path, documented in reads.items():
        url = path.replace("{id}", str(case.referral.pk))
        assert client.get(url).status_code == 200, path
        response = client.get(url, {"unheard_of": "1"})
        assert response.status_code == 400, path
        (message,) = response.json()["unheard_of"]
        assert message.startswith("“unheard_of” is not a query parameter here: "), path
        for name in documented:
            assert name in message, (path, name)
        if not documented:
            assert message.endswith("this address takes none."), path


@pytest.mark.parametrize(
    "query",
    [
        {"ref": "HBR-2026-000452"},
        {"status": "missing"},
        {"Region": "wales"},
        {"given_name": "Amira"},
        {"format": "json"},
    ],
    ids=lambda query: next(iter(query)),
)
def test_a_filter_the_referral_list_does_not_have_is_a_400_not_the_whole_list(api, query):
    referrer = responder()
    submitted_referral(referrer)
    response = api(referrer).get("/api/v1/referrals/", {**query, "page_size": 1})
    assert response.status_code == 400
    name = next(iter(query))
    assert response.json() == {name: [f"“{name}” is not a query parameter here: {REFERRAL_FILTERS}."]}


def test_every_unknown_parameter_is_named_at_once(api):
    response = api(manager()).get("/api/v1/referrals/?status=missing&Region=wales&state=missing")
    assert response.status_code == 400
    assert set(response.json()) == {"status", "Region"}


def test_the_inbox_has_no_read_filter(api):
    response = api(responder()).get("/api/v1/inbox/", {"read": "false", "page_size": 200})
    assert response.status_code == 400
    assert response.json() == {
        "read": ["“read” is not a query parameter here: the parameters are cursor and page_size."]
    }


@pytest.mark.parametrize("report", ["caseload", "overdue"])
@pytest.mark.parametrize("query", [{"regions": "wales"}, {"from": "2026-01-01", "to": "2026-02-01"}])
def test_a_report_filter_it_does_not_have_is_a_400_not_the_national_report(api, report, query):
    response = api(manager()).get(f"/api/v1/reports/{report}/", query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == set(query)
    for name in query:
        shown = REPORT_FILTERS if report == "caseload" else "cursor, date_from"
        assert shown in body[name][0]


def test_the_filters_a_list_takes_still_filter(api):
    referrer = responder()
    submitted_referral(referrer, region="wales")
    submitted_referral(referrer, region="london")
    client = api(referrer)
    assert (
        client.get("/api/v1/referrals/", {"region": "wales", "page_size": 5, "page": 1}).json()["count"] == 1
    )
    assert client.get("/api/v1/reports/caseload/", {"region": "wales"}).status_code == 403
    assert api(manager()).get("/api/v1/reports/caseload/", {"region": "wales"}).json()["referrals"] == 1


def test_a_case_out_of_sight_is_the_same_404_with_an_unknown_parameter(api):
    theirs = submitted_referral(responder())
    client = api(responder())
    for address in (f"/api/v1/referrals/{theirs.pk}/", f"/api/v1/referrals/{theirs.pk}/history/"):
        assert client.get(address, {"unheard_of": "1"}).status_code == 404, address
        assert client.get(address, {"unheard_of": "1"}).json() == client.get(address).json()


@pytest.mark.parametrize(
    ("who", "address"),
    [
        (responder, "/api/v1/providers/"),
        (provider_user, "/api/v1/anonymous-notifications/"),
        (responder, "/api/v1/reports/caseload/"),
        (responder, "/api/v1/reports/overdue/"),
    ],
)
def test_a_role_a_read_is_not_for_hears_its_403_before_an_unknown_parameter(api, who, address):
    response = api(who()).get(address, {"unheard_of": "1"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"


def test_suggested_providers_refuse_a_responder_before_an_unknown_parameter(api):
    case = bring_to("assessed")
    response = api(case.responder).get(
        f"/api/v1/referrals/{case.referral.pk}/suggested-providers/", {"unheard_of": "1"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "address", ["/api/v1/referrals/", "/api/v1/referrals/{id}/", "/api/v1/referrals/{id}/history/"]
)
def test_a_refused_read_is_not_audited_as_a_read_of_the_person(api, address):
    case = bring_to("received")
    reads = AuditEvent.objects.filter(action=AuditAction.READ)
    before = reads.count()
    response = api(case.manager).get(address.format(id=case.referral.pk), {"unheard_of": "1"})
    assert response.status_code == 400
    assert reads.count() == before


def test_every_read_documents_its_400(api):
    schema = api().get("/api/v1/schema/?format=json").json()
    for path in get_operations(schema):
        assert "400" in schema["paths"][path]["get"]["responses"], path
