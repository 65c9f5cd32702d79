"""Every role × endpoint × in-scope/out-of-scope (SPEC §2, §9): 404 outside scope, 403 for a role that
may see but not act, 200 (or the state's 409) otherwise."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import User
from referrals.models import Referral
from referrals.permissions import TRANSITIONS
from tests.api.cases import bring_to, transition_url, valid_body
from tests.factories import CareProviderFactory, manager, provider_user, responder

pytestmark = pytest.mark.django_db


@dataclass
class World:
    """Two referrals of one organisation: X offered to one provider, Y placed with another; Z of a second
    organisation, received; and a provider that has nothing to do with any of them."""

    responder_same_org: User
    responder_other_org: User
    manager: User
    offered_provider: User
    placed_provider: User
    unrelated_provider: User
    offered: Referral
    placed: Referral
    other_org: Referral
    spare_provider_id: int


def build_world() -> World:
    referrer, other, boss = responder(), responder(), manager()
    x = bring_to("offered", responder_user=referrer, boss=boss)
    y = bring_to("placed", responder_user=referrer, boss=boss)
    z = bring_to("received", responder_user=other, boss=boss)
    spare = CareProviderFactory()
    return World(
        responder_same_org=referrer,
        responder_other_org=other,
        manager=boss,
        offered_provider=x.provider_user,
        placed_provider=y.provider_user,
        unrelated_provider=provider_user(spare),
        offered=x.referral,
        placed=y.referral,
        other_org=z.referral,
        spare_provider_id=spare.pk,
    )


MISSING_ID = 987654321

# role -> (the referral in its scope, a referral outside it). The manager's scope is everything, so
# its "outside" is an id that does not exist; the unrelated provider has nothing in scope.
SCOPES = {
    "responder_same_org": ("offered", "other_org"),
    "responder_other_org": ("other_org", "offered"),
    "manager": ("offered", None),
    "offered_provider": ("offered", "placed"),
    "placed_provider": ("placed", "offered"),
    "unrelated_provider": (None, "placed"),
}

# What each role gets on a referral in its scope: X is offered (assessed with a pending offer), Y is
# placed, Z is received. Anything not listed is 403: the role may see the case but not do this.
IN_SCOPE_TRANSITIONS = {
    "responder_same_org": {"withdraw": 200, "correct": 200},
    "responder_other_org": {"withdraw": 200, "correct": 200},
    "manager": {
        "assess": 409,
        "decline": 409,
        "withdraw": 200,
        "offer": 409,  # an offer is already pending
        "reassess": 409,  # likewise
        "revoke_offer": 200,
        "report_missing": 409,
        "found": 409,
        "reallocate": 409,
        "recover": 409,
        "exit": 409,
        "correct": 200,
    },
    "offered_provider": {"accept": 200, "reject": 200},
    "placed_provider": {
        "accept": 409,  # its own offer, already accepted
        "reject": 409,
        "record_progress": 200,
        "report_missing": 200,
        "found": 409,
        "reallocate": 200,
        "recover": 200,
        "exit": 200,
    },
    "unrelated_provider": {},
}
SUGGESTIONS = {"manager": 200}

ENDPOINTS = ("list", "detail", "history", "suggested-providers", *TRANSITIONS)
CASES = [
    (role, endpoint, scope)
    for role, (in_scope, _) in SCOPES.items()
    for endpoint in ENDPOINTS
    for scope in ("in", "out")
    if not (scope == "in" and in_scope is None)  # the unrelated provider has nothing in scope
]


def expected_status(role: str, endpoint: str, scope: str) -> int:
    if scope == "out":
        return 404
    if endpoint in ("list", "detail", "history"):
        return 200
    if endpoint == "suggested-providers":
        return SUGGESTIONS.get(role, 403)
    return IN_SCOPE_TRANSITIONS[role].get(endpoint, 403)


@pytest.mark.parametrize(("role", "endpoint", "scope"), CASES, ids=["-".join(case) for case in CASES])
def test_role_endpoint_scope(api, role, endpoint, scope):
    world = build_world()
    in_scope, out_of_scope = SCOPES[role]
    which = in_scope if scope == "in" else out_of_scope
    referral_id = getattr(world, which).pk if which else MISSING_ID
    client = api(getattr(world, role))
    expected = expected_status(role, endpoint, scope)

    if endpoint == "list":
        response = client.get("/api/v1/referrals/")
        assert response.status_code == 200
        ids = {row["id"] for row in response.json()["results"]}
        assert (referral_id in ids) is (scope == "in")
        return
    if endpoint in ("detail", "history", "suggested-providers"):
        suffix = "" if endpoint == "detail" else f"{endpoint}/"
        response = client.get(f"/api/v1/referrals/{referral_id}/{suffix}")
    else:
        body = valid_body(endpoint, provider_id=world.spare_provider_id)
        response = client.post(transition_url(referral_id, endpoint), body, format="json")
    assert response.status_code == expected, response.json()
    if expected == 404:
        assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_out_of_scope_is_the_same_404_as_a_missing_id(api):
    world = build_world()
    client = api(world.responder_other_org)
    hidden = client.get(f"/api/v1/referrals/{world.offered.pk}/")
    missing = client.get(f"/api/v1/referrals/{MISSING_ID}/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert hidden.content == missing.content


def test_a_refused_transition_changes_nothing(api):
    world = build_world()
    response = api(world.responder_same_org).post(
        transition_url(world.offered.pk, "assess"), valid_body("assess"), format="json"
    )
    assert response.status_code == 403
    assert not world.offered.transitions.filter(transition="assess", actor=world.responder_same_org).exists()


def test_unauthenticated_requests_get_401_before_anything_else(api):
    world = build_world()
    anonymous = api()
    assert anonymous.get("/api/v1/referrals/").status_code == 401
    assert anonymous.get(f"/api/v1/referrals/{MISSING_ID}/").status_code == 401
    response = anonymous.post(transition_url(world.offered.pk, "accept"), {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def keyed_post(client, referral_id: int, transition: str, key: str):
    return client.post(
        transition_url(referral_id, transition),
        valid_body(transition),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.mark.parametrize("key", ["", "x" * 201], ids=["empty", "too-long"])
@pytest.mark.parametrize("target", ["out-of-scope", "missing"])
def test_an_unusable_idempotency_key_to_a_case_out_of_sight_is_the_same_404_as_without_one(api, key, target):
    world = build_world()
    referral_id = world.offered.pk if target == "out-of-scope" else MISSING_ID
    client = api(world.responder_other_org)
    plain = client.post(transition_url(referral_id, "withdraw"), valid_body("withdraw"), format="json")
    keyed = keyed_post(client, referral_id, "withdraw", key)
    assert plain.status_code == keyed.status_code == 404
    assert keyed.content == plain.content


def test_an_unusable_idempotency_key_from_a_role_that_may_see_but_not_act_gets_the_403(api):
    world = build_world()
    response = keyed_post(api(world.responder_same_org), world.offered.pk, "assess", " ")
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"


def test_a_key_used_for_another_request_is_told_only_after_the_404_and_the_403(api):
    world = build_world()
    client = api(world.responder_same_org)
    assert keyed_post(client, world.offered.pk, "withdraw", "used").status_code == 200
    hidden = keyed_post(client, world.other_org.pk, "withdraw", "used")
    missing = keyed_post(client, MISSING_ID, "withdraw", "used")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    forbidden = keyed_post(client, world.placed.pk, "assess", "used")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_permitted"
