"""The Idempotency-Key protocol (SPEC §9): a repeated POST replays the first answer and creates nothing.

A request with a key claims it by inserting its record inside the request's own transaction. A
concurrent repeat's insert waits on the unique index until that transaction ends: if it committed, the
repeat reads the stored answer; if it rolled back (or let the key go, see ``settle_key``'s callers), the
repeat goes ahead itself. So two identical requests at once never both do the work.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connection
from django.db.models import ForeignObjectRel
from django.utils import timezone

from .exceptions import IdempotencyKeyInvalid, IdempotencyKeyReused
from .models import IdempotencyRecord

if TYPE_CHECKING:
    from django.db.models import Field

    from accounts.models import User

KEY_MAX_LENGTH = 200
PENDING_STATUS = 0


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    referral_id: int | None = None


def request_fingerprint(*, method: str, path: str, body: bytes, fields: Collection[str] | None = None) -> str:
    """A keyed digest of what the request asks for; JSON bodies are compared by meaning, not spacing,
    and, given the ``fields`` a view reads, without the other top-level keys, which it ignores.

    Keyed, because bodies hold personal details and a plain hash of a short value can be guessed.
    """
    try:
        asked = json.loads(body)
        if fields is not None and isinstance(asked, dict):
            asked = {name: value for name, value in asked.items() if name in fields}
        canonical = json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    message = method.upper().encode() + b"\x1f" + path.encode() + b"\x1f" + canonical
    return hmac.new(settings.FIELD_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key header must be 1 to {KEY_MAX_LENGTH} printable characters.",
            field="Idempotency-Key",
        )
    return key


def claim_key(
    *, user: User, key: str, fingerprint: str, attempts: int = 3
) -> IdempotencyRecord | StoredResponse:
    """Claim the key for this request, or return the stored answer of the first request that used it.

    Must run inside the transaction that does the request's work. Raises ``IdempotencyKeyReused`` if the
    key was used for a different request.
    """
    key = check_key(key)
    record = IdempotencyRecord(
        user=user, key=key, request_fingerprint=fingerprint, response_status=PENDING_STATUS
    )
    if _insert_unless_taken(record):
        return record
    first = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if first is None and attempts > 1:
        # The first request let the key go in the meantime: try again.
        return claim_key(user=user, key=key, fingerprint=fingerprint, attempts=attempts - 1)
    if first is None:
        raise IdempotencyKeyReused("A request with this Idempotency-Key is in progress; try again.")
    if first.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request. If this is a retry, send exactly "
            "the first request's body; if it is a new request, use a new key."
        )
    return StoredResponse(
        status=first.response_status, body=first.response_body, referral_id=first.referral_id
    )


def _column(field: Field[Any, Any] | ForeignObjectRel) -> str:
    """The column of one of the record's concrete fields, which Django calls concrete for having one.
    (The stubs allow any field to be a reverse relation, or to have no column.)"""
    if isinstance(field, ForeignObjectRel) or field.column is None:
        raise TypeError(f"{field!r} has no column of its own")
    return field.column


def _insert_unless_taken(record: IdempotencyRecord) -> bool:
    """Insert the record unless its (user, key) is taken; answer whether it was inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` waits, like a plain insert, for a transaction holding the same
    key to end, and needs no savepoint to survive the conflict (PostgreSQL, and SQLite from 3.35).
    """
    meta = IdempotencyRecord._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(field)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = ", ".join(quote(_column(meta.get_field(name))) for name in ("user", "key"))
    values = [field.get_db_prep_save(field.pre_save(record, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(_column(meta.pk))}",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias
    return True


def keys_claimed_before(*, user: User, prefix: str, before: datetime.datetime) -> bool:
    """Whether the user claimed a key starting with ``prefix`` before ``before``."""
    return IdempotencyRecord.objects.filter(user=user, key__startswith=prefix, created_at__lt=before).exists()


def recent_answer(
    *, user: User, fingerprint: str, since: datetime.datetime
) -> tuple[datetime.datetime, str] | None:
    """When and where to the user's latest web form with these values went, if it did its work since
    ``since`` and a repeat is to be asked about; see ``idempotency.web``."""
    kept = (
        IdempotencyRecord.objects.filter(
            user=user,
            key__startswith="form:",
            request_fingerprint=fingerprint,
            created_at__gte=since,
            response_status__gte=300,
        )
        .order_by("-created_at")
        .values_list("created_at", "response_body")
        .first()
    )
    if kept is None:
        return None
    sent_at, body = kept
    answer = cast("dict[str, Any]", body)  # a kept web answer: where it went, and whether to ask
    return (sent_at, answer["location"]) if answer["ask"] else None


def settle_key(record: IdempotencyRecord, *, status: int, body: Any, referral_id: int | None = None) -> None:
    """Keep the answer (and the case it shows) for repeats."""
    record.response_status = status
    record.response_body = body
    record.referral_id = referral_id
    record.save(update_fields=["response_status", "response_body", "referral"])


def release_key(record: IdempotencyRecord) -> None:
    """Let the key go: the request changed nothing, and a repeat may do the work."""
    record.delete()


def forget_answers(*, user: User) -> None:
    """Delete every answer kept for the user's keys, when what they may see changes: a replay must not
    show what the old organisation or role showed (its cases, in a duplicate check)."""
    IdempotencyRecord.objects.filter(user=user).delete()


def purge_expired_keys(*, now: datetime.datetime | None = None) -> int:
    """Forget answers older than IDEMPOTENCY_KEY_LIFETIME_HOURS."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_LIFETIME_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
