"""Errors of the Idempotency-Key protocol, mapped to HTTP codes with the domain errors."""

from referrals.exceptions import HarbourError


class IdempotencyKeyInvalid(HarbourError):
    """The header is empty or too long."""

    status_code = 400


class IdempotencyKeyReused(HarbourError):
    """The key was already used by this user for a different request (another body or path)."""

    status_code = 409
