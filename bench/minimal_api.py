"""The floor for the referral-create benchmark: an API endpoint that checks a token and inserts one row.

Mounted at ``/bench/`` only when the process runs with ``HARBOUR_BENCH=1`` (see ``config/urls.py``);
``bench/create_referral.py`` starts gunicorn that way. It runs on the same stack as the real API: the
same middleware, DRF with the project's authentication, permission and throttle classes, the same
database connection settings. Its table, ``bench_ping``, is created by the benchmark, not by a
migration, so production schemas never hold it.
"""

from __future__ import annotations

from django.db import connection
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_ping "
    "(id bigserial PRIMARY KEY, user_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())"
)


class PingView(APIView):
    """POST: one INSERT for the authenticated user, answered with the new row's id."""

    def post(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_ping (user_id) VALUES (%s) RETURNING id", [request.user.pk])
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id}, status=201)


urlpatterns = [path("ping/", PingView.as_view(), name="bench-ping")]
