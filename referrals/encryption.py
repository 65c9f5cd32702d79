"""Encryption at rest of personal fields, and keyed digests that let us match them without plaintext.

Values are encrypted with MultiFernet: the first key of ``FIELD_ENCRYPTION_KEYS`` encrypts, every key
decrypts, so keys can be rotated (``manage.py rotate_field_keys``). A value that no key decrypts raises
``DecryptionFailed``; ciphertext is never handed back as if it were text.

Digests are HMACs under ``FIELD_HASH_KEY``. They are stored, so a new key matches none of them until
``manage.py rehash_digests`` has recomputed them; meanwhile ``FIELD_HASH_KEY_FALLBACKS`` keeps the
earlier keys matching.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import unicodedata
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

# A Fernet token's first byte, and its least length: version, timestamp, IV, one block of ciphertext, HMAC.
FERNET_VERSION = 0x80
FERNET_TOKEN_MIN_BYTES = 1 + 8 + 16 + 16 + 32


class DecryptionFailed(Exception):
    """A stored value could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("A personal field could not be decrypted with the configured keys.") from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("A personal field could not be decrypted with the configured keys.") from exc


def normalise(text: str) -> str:
    """Case-, accent- and spacing-insensitive form used for matching names."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(letters.casefold().split())


def keyed_digest(*parts: str, key: str | None = None) -> str:
    """HMAC-SHA256 of the normalised parts: equal inputs match, the digest reveals nothing without the key.

    Under FIELD_HASH_KEY unless another ``key`` is given."""
    message = "\x1f".join(normalise(part) for part in parts).encode()
    return hmac.new((key or settings.FIELD_HASH_KEY).encode(), message, hashlib.sha256).hexdigest()


def hash_keys() -> list[str]:
    """FIELD_HASH_KEY, then the earlier keys a stored digest may still be under until it is recomputed."""
    return [settings.FIELD_HASH_KEY, *settings.FIELD_HASH_KEY_FALLBACKS]


def name_digest(given_name: str, family_name: str, *, key: str | None = None) -> str:
    """The digest of a person's name that duplicate detection matches (SPEC §3): of its words in any
    order, so that the family name given first, as Vietnamese and Chinese names are often written, or
    its words split otherwise between the given and the family name, still match."""
    return keyed_digest(" ".join(sorted(normalise(f"{given_name} {family_name}").split())), key=key)


def birth_date_digest(date_of_birth: datetime.date | None, *, key: str | None = None) -> str:
    """The digest of a date of birth, or "" without one."""
    return keyed_digest(date_of_birth.isoformat(), key=key) if date_of_birth else ""


def is_token(value: str) -> bool:
    """Whether a stored value has the form of a Fernet token (whether or not a configured key opens it)."""
    try:
        data = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        return False
    return len(data) >= FERNET_TOKEN_MIN_BYTES and data[0] == FERNET_VERSION


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token. Not searchable or orderable in the database, by design.

    ``clear_text_read`` is for a field that was stored in clear until a migration encrypted it: a process
    of the previous release, still running while the new one rolls out, writes it in clear after the
    migration. Such a value is read as it is (``manage.py rotate_field_keys`` encrypts it); a token no key
    opens still raises."""

    def __init__(self, *args: Any, clear_text_read: bool = False, **kwargs: Any) -> None:
        self.clear_text_read = clear_text_read
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.clear_text_read:
            kwargs["clear_text_read"] = True
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        if self.clear_text_read and not is_token(value):
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)


class EncryptedDateField(models.TextField):
    """A date stored as an encrypted ISO string; Python sees a ``datetime.date``."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> datetime.date | None:
        if not value:
            return None
        return datetime.date.fromisoformat(decrypt(value))

    def to_python(self, value: Any) -> datetime.date | None:
        if value in (None, ""):
            return None
        if isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        value = self.to_python(value)
        return None if value is None else encrypt(value.isoformat())

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return super().formfield(**{"form_class": forms.DateField, **kwargs})


class EncryptedJSONField(models.TextField):
    """A JSON document stored encrypted (free-text notes inside transition inputs, drafts)."""

    # The Python type django-stubs' plugin gives the field: any JSON value, not a TextField's str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return None
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, cls=DjangoJSONEncoder))


# Every kind of encrypted field: key rotation finds the columns to re-encrypt by them, and the admin the
# fields it never shows.
ENCRYPTED_FIELD_TYPES = (EncryptedTextField, EncryptedDateField, EncryptedJSONField)
