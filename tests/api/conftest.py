from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from accounts.models import User


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Every test makes several users; a slow hash would only measure PBKDF2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """An API client; with a user, it sends that user's token as a real client would."""

    def client_for(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
        return client

    return client_for
