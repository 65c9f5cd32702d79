"""A kept database connection that PostgreSQL dropped while idle (a restart, a failover, an idle timeout)
is replaced at the start of the next request or task, not used once more and turned into a 500."""

from __future__ import annotations

import psycopg
import pytest
from django.db import close_old_connections, connection

from accounts.models import User
from notifications.tasks import close_broken_or_old_connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# Between two requests, Django closes what is unusable or too old (the request signals); between two
# tasks, the worker does (``close_broken_or_old_connections``, after each task).
BETWEEN = {"requests": close_old_connections, "tasks": close_broken_or_old_connections}


@pytest.mark.parametrize("between", BETWEEN)
def test_a_kept_connection_the_database_dropped_is_replaced_before_it_is_used_again(monkeypatch, between):
    # As in production: connections are kept between requests and tasks (CONN_MAX_AGE, WORKER_CONN_MAX_AGE).
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()  # opened again with that age
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    BETWEEN[between]()  # the first finishes, and keeps its connection

    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "autocommit": True}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert User.objects.count() >= 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
