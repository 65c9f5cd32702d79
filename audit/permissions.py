from __future__ import annotations

from typing import Any


def may_read_audit_trail(user: Any) -> bool:
    """Managers oversee every case and read who saw and changed what (SPEC §2)."""
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_manager", False))
