"""How a Celery worker is set up for delivery: persistent database connections."""

from django.db import connections

from notifications.tasks import keep_database_connections


def test_a_worker_keeps_its_database_connections_for_worker_conn_max_age(settings):
    settings.WORKER_CONN_MAX_AGE = 123
    before = {alias: connections.settings[alias]["CONN_MAX_AGE"] for alias in connections}
    try:
        keep_database_connections()
        assert connections.settings["default"]["CONN_MAX_AGE"] == 123
        assert connections["default"].settings_dict["CONN_MAX_AGE"] == 123
    finally:
        for alias, age in before.items():
            connections.settings[alias]["CONN_MAX_AGE"] = age
