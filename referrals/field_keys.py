"""Re-encrypting personal fields under the newest key of FIELD_ENCRYPTION_KEYS (key rotation), and
recomputing the stored digests under FIELD_HASH_KEY (``rehash_referrals``).

Rotation works on the stored tokens directly, in batches of rows locked for update, so values are never
decrypted into Python objects and a concurrent write cannot be lost. A token already encrypted under
the newest key is left as it is, so running the rotation twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction

from .encryption import ENCRYPTED_FIELD_TYPES, EncryptedTextField, encrypt, is_token, rotate
from .models import Referral


@dataclass
class RotationResult:
    table: str
    rows: int = 0
    values_rotated: int = 0


def encrypted_fields() -> Iterator[tuple[type[models.Model], Sequence[models.Field]]]:
    """Every concrete model with encrypted fields, with those fields."""
    for model in apps.get_models():
        fields = [field for field in model._meta.concrete_fields if isinstance(field, ENCRYPTED_FIELD_TYPES)]
        if fields and not model._meta.proxy:
            yield model, fields


def _is_under_newest_key(token: str, newest: Fernet) -> bool:
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def _rotated(value: str, field: models.Field, newest: Fernet) -> str | None:
    """The value under the newest key, or None if it is under it already. A clear value, which a field
    read in clear may hold (``EncryptedTextField.clear_text_read``), is encrypted."""
    if isinstance(field, EncryptedTextField) and field.clear_text_read and not is_token(value):
        return encrypt(value)
    return None if _is_under_newest_key(value, newest) else rotate(value)


def rotate_model(
    model: type[models.Model], fields: Sequence[models.Field], *, batch_size: int = 500
) -> RotationResult:
    """Re-encrypt one model's encrypted columns, batch by batch, each batch in its own transaction."""
    columns = [str(field.column) for field in fields]
    quote = connection.ops.quote_name
    table = model._meta.db_table
    pk = str(model._meta.pk.column)  # type: ignore[union-attr]
    newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode())
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = (
        f"SELECT {quote(pk)}, {', '.join(quote(c) for c in columns)} FROM {quote(table)} "  # noqa: S608
        f"WHERE {quote(pk)} > %s ORDER BY {quote(pk)} LIMIT %s{lock}"
    )
    result = RotationResult(table=table)
    last_pk: int = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last_pk, batch_size])
            rows = cursor.fetchall()
            for row in rows:
                row_pk, values = row[0], row[1:]
                updates = {
                    column: rotated
                    for column, field, value in zip(columns, fields, values, strict=True)
                    if value and (rotated := _rotated(value, field, newest)) is not None
                }
                if updates:
                    assignments = ", ".join(f"{quote(column)} = %s" for column in updates)
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk)} = %s",  # noqa: S608
                        [*updates.values(), row_pk],
                    )
                    result.values_rotated += len(updates)
                result.rows += 1
        if len(rows) < batch_size:
            return result
        last_pk = rows[-1][0]


def rotate_all(*, batch_size: int = 500) -> list[RotationResult]:
    return [rotate_model(model, fields, batch_size=batch_size) for model, fields in encrypted_fields()]


@dataclass(frozen=True)
class RehashProgress:
    cases: int
    cases_done: int = 0
    digests_recomputed: int = 0


# What recomputing a case's digests reads and writes of it.
DIGESTED_FIELDS = ("given_name", "family_name", "date_of_birth", "name_digest", "birth_date_digest")


def rehash_referrals(*, batch_size: int = 500) -> Iterator[RehashProgress]:
    """Recompute the name and date-of-birth digests of every case still holding them, from its decrypted
    fields, under FIELD_HASH_KEY; yields the progress after each batch.

    Batches of rows locked for update, each in its own transaction, so a concurrent write is not lost;
    digests already under FIELD_HASH_KEY are left as they are, so running it twice changes nothing the
    second time. Anonymised cases have no name left to digest, and no digests.
    """
    cases = Referral.objects.filter(anonymised_at__isnull=True)
    progress = RehashProgress(cases=cases.count())
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                cases.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update()
                .only(*DIGESTED_FIELDS)[:batch_size]
            )
            changed = []
            for referral in batch:
                digests = referral.person_digests()
                if digests != (referral.name_digest, referral.birth_date_digest):
                    referral.name_digest, referral.birth_date_digest = digests
                    changed.append(referral)
            Referral.objects.bulk_update(changed, ["name_digest", "birth_date_digest"])
        progress = replace(
            progress,
            cases_done=progress.cases_done + len(batch),
            digests_recomputed=progress.digests_recomputed + len(changed),
        )
        yield progress
        if len(batch) < batch_size:
            return
        last_pk = batch[-1].pk
