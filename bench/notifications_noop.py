"""The no-op Celery task the notification benchmark compares delivery with (loaded by its workers)."""

from __future__ import annotations

import time
from functools import cache

import redis
from celery import shared_task


@cache
def _results() -> redis.Redis:
    return redis.Redis.from_url(noop.app.conf.broker_url)


@shared_task(ignore_result=True)
def noop(sent_at: float) -> None:
    """Does nothing but note when it ran, so the benchmark can time it."""
    _results().rpush("bench:noop", f"{sent_at} {time.time()}")
