"""Schemathesis against Harbour's own OpenAPI schema, as every role, transitions included (SPEC §10).

Each operation is called with generated valid and invalid data, as a first responder, a care provider
and a manager (and, for the case endpoints, on cases in different states). Every answer must be a
non-5xx that the schema documents, with a body that matches it. The number of examples is bounded so
the run takes a couple of minutes; FUZZ_EXAMPLES raises it for a deeper run.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.authentication import issue_token
from referrals import services
from tests.factories import CareProviderFactory, manager, provider_user, responder, submitted_referral

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: the WSGI app must not close the connection holding the test's data."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def cases_and_tokens():
    """A case received, one offered to the provider and one placed with it; a token per role."""
    provider = CareProviderFactory()
    boss, referrer, carer = manager(), responder(), provider_user(provider)
    received = submitted_referral(actor=referrer)
    offered = submitted_referral(actor=referrer)
    placed = submitted_referral(actor=referrer)
    for referral in (offered, placed):
        services.assess_referral(referral_id=referral.pk, actor=boss, risk="low", route="accommodation")
        services.offer_placement(referral_id=referral.pk, actor=boss, provider_id=provider.pk)
    services.accept_offer(referral_id=placed.pk, actor=carer)
    tokens = {
        "manager": issue_token(boss).key,
        "first_responder": issue_token(referrer).key,
        "care_provider": issue_token(carer).key,
    }
    return {"received": received.pk, "offered": offered.pk, "placed": placed.pk}, tokens


def load_schema(token: str):
    return schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", get_wsgi_application(), headers={"Authorization": f"Token {token}"}
    )


def exercise(operation, mode: GenerationMode, headers: dict, path_parameters: dict | None) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)

    @hypothesis_settings(
        max_examples=EXAMPLES if mode == GenerationMode.POSITIVE else max(2, EXAMPLES // 2),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        cache.clear()  # the API's rate limits are not what is under test here
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def targets(operation, cases: dict[str, int]) -> list[dict | None]:
    """Transitions are tried on a case in each state; reads of one case on the most advanced one."""
    if "{id}" not in operation.path:
        return [None]
    if operation.method.upper() == "POST":
        return [{"id": pk} for pk in cases.values()]
    return [{"id": cases["placed"]}, {"id": cases["received"]}]


@pytest.mark.parametrize("role", ["first_responder", "care_provider", "manager"])
def test_every_operation_answers_within_its_schema_and_never_5xx(cases_and_tokens, role):
    cases, tokens = cases_and_tokens
    headers = {"Authorization": f"Token {tokens[role]}"}
    schema = load_schema(tokens["manager"])
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sum(op.path.startswith("/api/v1/referrals/{id}/") for op in operations) >= 12  # transitions
    for operation in operations:
        if operation.path.endswith("/auth/token/"):
            continue  # fuzzed unauthenticated below; a token request would replace this role's token
        for path_parameters in targets(operation, cases):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    exercise(operation, mode, headers, path_parameters)
                except Unsatisfiable:
                    continue  # nothing in this request can be made invalid (no body, no free parameter)
                except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - all reported below
                    summary = str(error).strip().splitlines()
                    failures.append(
                        f"{operation.label} [{mode.value}] {path_parameters or ''}: "
                        + " | ".join(line for line in summary[:16] if line.strip())
                    )
    assert not failures, "\n".join(failures)


def test_the_token_endpoint_answers_within_its_schema_for_any_input(cases_and_tokens):
    _, tokens = cases_and_tokens
    schema = load_schema(tokens["manager"])
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().path.endswith("/auth/token/"))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        exercise(operation, mode, {}, None)


@pytest.mark.parametrize(
    ("case_name", "transition", "body"),
    [("offered", "reject", {"reason": "other"}), ("placed", "reallocate", {"reason": "other"})],
)
def test_a_providers_answer_after_losing_sight_of_the_case_is_the_documented_outcome(
    cases_and_tokens, case_name, transition, body
):
    cases, tokens = cases_and_tokens
    headers = {"Authorization": f"Token {tokens['care_provider']}"}
    operation = load_schema(tokens["manager"])[f"/api/v1/referrals/{{id}}/{transition}/"]["POST"]
    case = operation.Case(path_parameters={"id": cases[case_name]}, body=body, media_type="application/json")
    response = case.call(headers=headers)
    assert response.status_code == 200 and set(response.json()) == {"id", "reference", "state"}
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_the_lockout_of_the_token_endpoint_is_the_documented_error(cases_and_tokens):
    _, tokens = cases_and_tokens
    operation = load_schema(tokens["manager"])["/api/v1/auth/token/"]["POST"]
    wrong = {"username": "someone", "password": "not-the-password"}
    case = operation.Case(body=wrong, media_type="application/json")
    answers = [case.call() for _ in range(settings.AXES_FAILURE_LIMIT + 1)]
    assert answers[-1].status_code == 429
    case.validate_response(answers[-1], checks=CHECKS)


@pytest.mark.parametrize("report", ["caseload", "overdue"])
@pytest.mark.parametrize("role", [None, "first_responder", "care_provider"])
def test_a_report_refused_to_anyone_but_a_manager_is_the_documented_error(cases_and_tokens, report, role):
    _, tokens = cases_and_tokens
    headers = {"Authorization": f"Token {tokens[role]}"} if role else {}
    operation = load_schema(tokens["manager"])[f"/api/v1/reports/{report}/"]["GET"]
    case = operation.Case()
    response = case.call(headers=headers)
    assert response.status_code == (403 if role else 401)
    case.validate_response(response, checks=CHECKS, headers=headers)
