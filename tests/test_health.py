"""``/healthz`` tells a health checker whether this web process reaches its database, and logs nothing;
a request that meets a database outage is answered 503, to be tried again, not 500."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.authentication import issue_token
from config.health import UNAVAILABLE_MESSAGE, server_error
from tests.factories import manager

pytestmark = pytest.mark.django_db


@contextmanager
def database_outage() -> Iterator[None]:
    """The database as this process sees it in an outage: every connection refused. The shared
    PostgreSQL keeps running for everyone else; this connection is pointed at a port bound by no server
    that listens. Only outside a test transaction (``transaction=True``), which it would cut."""
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


def test_healthz_answers_200_to_a_load_balancer_asking_for_the_address_it_reached(client, settings, caplog):
    # Kubernetes and ALB probes name the target's IP as Host, which no ALLOWED_HOSTS entry covers.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["harbour.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", headers={"host": "10.0.3.17:8000"})
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert caplog.records == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_while_the_database_refuses_connections(client, caplog):
    with database_outage(), caplog.at_level(logging.INFO):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.content == b"database unavailable\n"
    assert caplog.records == []


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{record.levelname} {record.name} {record.getMessage()}" for record in caplog.records]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_api_request_in_a_database_outage_gets_503_json_to_try_again(caplog):
    token = issue_token(manager()).key
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    caplog.clear()
    with database_outage(), caplog.at_level(logging.INFO):
        response = api.get("/api/v1/referrals/?given_name=Amina")
    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE_MESSAGE, "code": "unavailable"}
    assert response["Retry-After"] == "30"
    assert logged(caplog) == [
        "ERROR config.health Database unavailable; answered 503 to GET /api/v1/referrals/ (OperationalError)"
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_page_in_a_database_outage_gets_a_plain_503_page(caplog):
    web = Client(raise_request_exception=False)
    web.force_login(manager())  # the session is read from the database before any view runs
    caplog.clear()
    with database_outage(), caplog.at_level(logging.INFO):
        response = web.get("/referrals/?q=Amina")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Harbour is unavailable for a moment" in response.content.decode()
    assert logged(caplog) == [
        "ERROR config.health Database unavailable; answered 503 to GET /referrals/ (OperationalError)"
    ]


def test_any_other_error_is_still_answered_with_the_500_page(rf):
    try:
        raise ValueError("a defect, not an outage")
    except ValueError:
        response = server_error(rf.get("/referrals/"))
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.content.decode()
    assert not response.has_header("Retry-After")
