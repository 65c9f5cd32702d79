"""Where a referral create's CPU goes, beside the floor's; ``create_referral.py`` runs it after its rounds.

Both endpoints of the throughput benchmark keep the machine's cores busy, so their throughput ratio
follows the CPU each request costs. This measures that CPU in one Django process, with
``django.test.Client`` (no network, no WSGI server) and ``time.process_time``, in alternating rounds:

- the floor request (``POST /bench/ping/``) and the full create (``POST /api/v1/referrals/``);
- the parts of a create that need no database: validating the §3 fields, encrypting the personal ones,
  the Idempotency-Key fingerprint, writing the answer (the referral as JSON) and the Celery publish of
  one notification.

PostgreSQL's own CPU is not counted here. ``floor / (floor + parts)`` is the throughput ratio that a
create doing these parts could reach if its database work cost nothing: the ceiling that no way of
writing the create's rows can pass. What is left of the create's CPU is its database work (the ORM
building and running each statement) and the rest of the view.

Run in the server's environment, as ``create_referral.py`` does:
``manage.py shell -c "from bench.create_parts import main; main(token, requests)"``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import token_digest
from accounts.models import ApiToken
from bench.create_referral import REFERRAL
from idempotency.services import request_fingerprint
from notifications.tasks import deliver_notification
from referrals.api.serializers import ReferralCreateSerializer, ReferralSerializer
from referrals.encryption import EncryptedDateField, EncryptedTextField
from referrals.models import Referral
from referrals.selectors import with_case_summary

ROUNDS = 4
BODY = json.dumps(REFERRAL)


def main(token: str, requests: int = 2000) -> None:
    """Measure with the API token of a first responder; ``requests`` of each, split into rounds."""
    user = ApiToken.objects.select_related("user").get(digest=token_digest(token)).user
    client = Client(HTTP_HOST="localhost")  # one of the server's ALLOWED_HOSTS
    headers = {"Authorization": f"Token {token}"}

    def post(path: str, body: str) -> Callable[[], None]:
        def send() -> None:
            response = client.post(
                path,
                body,
                content_type="application/json",
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            if response.status_code != 201:
                raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")

        return send

    floor = post("/bench/ping/", "{}")
    create = post("/api/v1/referrals/", BODY)
    create()
    referral = with_case_summary(Referral.objects.filter(submitted_by=user)).order_by("-pk").first()
    request = Request(APIRequestFactory().post("/api/v1/referrals/"))
    request.user = user
    intake = ReferralCreateSerializer(data=REFERRAL)
    intake.is_valid(raise_exception=True)
    unsaved = Referral(**intake.validated_data)
    encrypted = [
        field
        for field in Referral._meta.concrete_fields
        if isinstance(field, EncryptedTextField | EncryptedDateField)
    ]

    def validate() -> None:
        ReferralCreateSerializer(data=REFERRAL).is_valid(raise_exception=True)

    def encrypt() -> None:
        for field in encrypted:
            field.get_db_prep_save(getattr(unsaved, field.attname), connection)

    def fingerprint() -> None:
        request_fingerprint(method="POST", path="/api/v1/referrals/", body=BODY.encode())

    def answer() -> None:
        JSONRenderer().render(ReferralSerializer(referral, context={"request": request}).data)

    def publish() -> None:
        # An id no notification has: the benchmark runs no worker, and the broker is its own.
        deliver_notification.delay(str(uuid.uuid4()))

    requests_measured = {"floor: POST /bench/ping/": floor, "create: POST /api/v1/referrals/": create}
    parts = {
        "validate the fields": validate,
        "encrypt the personal fields": encrypt,
        "Idempotency-Key fingerprint": fingerprint,
        "write the answer": answer,
        "publish to Celery": publish,
    }
    ms = cpu_per_call({**requests_measured, **parts}, requests)
    floor_ms, create_ms = (ms[name] for name in requests_measured)
    parts_ms = sum(ms[name] for name in parts)

    print("\nCPU per call in one Django process (django.test.Client); PostgreSQL's own CPU is not counted:")
    for name, step in requests_measured.items():
        print(f"  {name:<34}{ms[name]:>7.2f} ms  {statements(step):>3} SQL statements")
    for name in parts:
        print(f"  {name:<34}{ms[name]:>7.2f} ms")
    print(f"  {'the parts together':<34}{parts_ms:>7.2f} ms")
    rest = create_ms - floor_ms - parts_ms
    print(f"  {'the rest of the create':<34}{rest:>7.2f} ms  (its database work and the rest of the view)")
    print(
        f"\nThe create costs {create_ms / floor_ms:.1f}x the floor's CPU. With no database work at all, a "
        f"create with these parts would still cost {(floor_ms + parts_ms) / floor_ms:.2f}x: a throughput "
        f"ratio of at most {floor_ms / (floor_ms + parts_ms):.0%}."
    )


def cpu_per_call(steps: dict[str, Callable[[], None]], calls: int) -> dict[str, float]:
    """Milliseconds of this process's CPU per call of each step, taken in turn over ROUNDS rounds."""
    spent = dict.fromkeys(steps, 0.0)
    per_round = max(1, calls // ROUNDS)
    for step in steps.values():  # warm-up
        for _ in range(50):
            step()
    for _ in range(ROUNDS):
        for name, step in steps.items():
            started = time.process_time()
            for _ in range(per_round):
                step()
            spent[name] += time.process_time() - started
    return {name: seconds / (per_round * ROUNDS) * 1000 for name, seconds in spent.items()}


def statements(request: Callable[[], None]) -> int:
    with CaptureQueriesContext(connection) as queries:
        request()
    return len(queries)
