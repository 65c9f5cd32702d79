"""``/healthz`` tells a health checker whether this web process reaches its database, and logs nothing."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_refusing_connections(transactional_db: None) -> Iterator[None]:
    """The database as this process sees it in an outage: every connection refused. The shared
    PostgreSQL keeps running for everyone else; this connection is pointed at a port bound by no server
    that listens."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = closed.getsockname()[1]
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["PORT"] = port


def test_healthz_answers_200_over_plain_http_without_signing_in_or_a_log_line(client, settings, caplog):
    settings.SECURE_SSL_REDIRECT = True  # as in production: the checker asks gunicorn over plain HTTP
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert not response.cookies
    assert caplog.records == []


@pytest.mark.postgres
def test_healthz_answers_503_while_the_database_refuses_connections(
    database_refusing_connections, client, caplog
):
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.content == b"database unavailable\n"
    assert caplog.records == []
