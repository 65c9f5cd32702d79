"""Notification throughput benchmark (issue 4): webhook delivery beside a no-op Celery task.

Run on PostgreSQL, in a database of its own, with ``redis-server`` on the PATH (the script starts its
own Redis on a free port in 6390-6399, its own Celery workers and a local webhook receiver):

    createdb harbour_bench_notify
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbour_bench_notify .venv/bin/python bench/notifications.py

Options: ``--count`` (10,000), ``--workers`` (1 worker process), ``--pool`` (``threads``) and
``--concurrency`` (8) for each worker, ``--batch`` (notifications per committed transaction, 100),
``--redis-ports`` (the range to pick the benchmark's Redis port from, 6390-6399). Both halves run on the
very same worker processes, so pool and concurrency are the same for each. Workers keep their database
connections (``WORKER_CONN_MAX_AGE``, 300 s by default) and one keep-alive connection per thread to the
receiver; the receiver is a threading HTTP/1.1 server that keeps connections open.

One run, same broker, same workers:

1. the floor: ``--count`` no-op tasks published as fast as possible; each notes when it ran;
2. ``--count`` webhook notifications written through ``notifications.services.notify_many`` in
   transactions of ``--batch`` rows, handed to Celery after each commit exactly as the services do,
   and delivered by ``notifications.delivery.deliver`` (claim, signed POST, attempt log) to a receiver
   in its own process that notes when each event id arrived.

For each it prints tasks per second (from the first publish or commit to the last completion or
receipt) and the p50/p95 time from each task's publish, or from the commit of the transaction that
wrote each row, to its completion or receipt; then the ratio of the delivery rate to the no-op rate
(target: at least 50%).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from bench.redis_server import start_redis  # noqa: E402 - after the path is set

# Measured as deployed, with DEBUG off (a checkout's .env turns it on): the workers inherit it. The keys
# then come from the environment or .env (`make install` writes one).
os.environ["DEBUG"] = "False"
os.environ.setdefault("MANAGERS_DUTY_PHONE", "020 7946 0321")  # required with DEBUG off; a drama number


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def receive(port: int, log_path: str) -> None:
    """The webhook receiver, in its own process: appends '<event id> <unix time>' per request."""
    import threading

    lock = threading.Lock()
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received = time.time()
            with lock:
                log.write(f"{self.headers['X-Harbour-Event-Id']} {received}\n")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    server.serve_forever()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--redis-ports", default="6390-6399", help="range to pick the benchmark's own Redis port from"
    )
    args = parser.parse_args()
    low, _, high = args.redis_ports.partition("-")

    workdir = Path(tempfile.mkdtemp(prefix="harbour-bench-notify-"))
    processes: list[subprocess.Popen[bytes]] = []
    receiver: Process | None = None
    try:
        redis_server, broker_url = start_redis(workdir, range(int(low), int(high or low) + 1))
        processes.append(redis_server)
        os.environ["CELERY_BROKER_URL"] = broker_url
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection, transaction

        from accounts.models import Organisation, OrganisationKind
        from bench.notifications_noop import noop
        from notifications.models import Event
        from notifications.services import Announcement, notify_many

        if connection.vendor != "postgresql":
            raise SystemExit("Run this on PostgreSQL: set DATABASE_URL to a database of its own.")
        results = redis.Redis.from_url(broker_url)
        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE notifications_deliveryattempt, notifications_notification, notifications_inboxitem"
            )

        receiver_port = free_port()
        receipts_path = workdir / "receipts.txt"
        receipts_path.touch()
        receiver = Process(target=receive, args=(receiver_port, str(receipts_path)), daemon=True)
        receiver.start()
        organisation, _ = Organisation.objects.update_or_create(
            name="Bench webhook receiver",
            defaults={
                "kind": OrganisationKind.CARE_PROVIDER,
                "notification_emails": [],
                "webhook_url": f"http://127.0.0.1:{receiver_port}/harbour",
                "webhook_secret": "bench-secret",
            },
        )

        env = {**os.environ, "CELERY_BROKER_URL": broker_url, "LOG_LEVEL": "WARNING",
               "HARBOUR_VAR_DIR": str(workdir / "var")}  # fmt: skip
        for n in range(args.workers):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", args.pool,
                     "-c", str(args.concurrency), "-I", "bench.notifications_noop", "-n", f"bench{n}@%h",
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
                    cwd=ROOT, env=env, start_new_session=True,
                )
            )  # fmt: skip
        from config.celery import app

        wait_until(lambda: len(app.control.ping(timeout=0.5) or []) >= args.workers, 60, "the workers")
        print(
            f"{args.workers} worker(s), pool {args.pool}, concurrency {args.concurrency}; {args.count:,} tasks each"
        )

        # 1. The floor: no-op tasks.
        results.delete("bench:noop")
        first_publish = time.time()
        for _ in range(args.count):
            noop.delay(time.time())
        wait_until(lambda: results.llen("bench:noop") >= args.count, 600, "the no-op tasks")
        pairs = [tuple(map(float, item.split())) for item in results.lrange("bench:noop", 0, -1)]
        noop_seconds = max(done for _, done in pairs) - first_publish
        noop_latency = [done - sent for sent, done in pairs]
        noop_rate = args.count / noop_seconds
        print(f"no-op task      : {noop_rate:8.0f}/s  p50 {statistics.median(noop_latency) * 1000:7.1f} ms  "
              f"p95 {percentile(noop_latency, 0.95) * 1000:7.1f} ms  ({noop_seconds:.1f} s)")  # fmt: skip

        # 2. Webhook notifications through the outbox, committed in batches.
        committed: dict[str, float] = {}
        first_commit = time.time()
        for start in range(0, args.count, args.batch):
            size = min(args.batch, args.count - start)
            with transaction.atomic():
                stamp: list[float] = []
                transaction.on_commit(lambda stamp=stamp: stamp.append(time.time()))
                rows = notify_many(
                    [
                        Announcement(
                            event=Event.OFFER_MADE,
                            organisations=(organisation,),
                            reference=f"HBR-B-{start + i}",
                        )
                        for i in range(size)
                    ]
                )
            committed.update({str(row.pk): stamp[0] for row in rows})

        print(f"  (committed and queued {args.count:,} notifications in {time.time() - first_commit:.1f} s)")

        def receipts() -> dict[str, float]:
            lines = receipts_path.read_text().splitlines()
            return {event_id: float(at) for event_id, at in (line.split() for line in lines if " " in line)}

        # Count lines while waiting (parsing them all on every poll would load the machine being measured).
        wait_until(
            lambda: receipts_path.read_bytes().count(b"\n") >= args.count, 900, "the webhook deliveries"
        )
        # Then every event id, should some lines be repeats.
        wait_until(lambda: len(receipts()) >= args.count, 900, "the webhook deliveries")
        received = receipts()
        delivery_seconds = max(received.values()) - first_commit
        latency = [received[event_id] - at for event_id, at in committed.items()]
        delivery_rate = args.count / delivery_seconds
        print(f"webhook delivery: {delivery_rate:8.0f}/s  p50 {statistics.median(latency) * 1000:7.1f} ms  "
              f"p95 {percentile(latency, 0.95) * 1000:7.1f} ms  ({delivery_seconds:.1f} s, commit to receipt)")  # fmt: skip
        duplicates = len(receipts_path.read_text().splitlines()) - len(received)
        print(f"delivered rows: {len(received):,}; repeats seen by the receiver: {duplicates}")
        ratio = delivery_rate / noop_rate
        print(f"delivery / no-op rate: {ratio:.0%} (target >= 50%): {'PASS' if ratio >= 0.5 else 'FAIL'}")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                if process.args[0] == "redis-server":
                    process.terminate()
                else:
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
        if receiver is not None:
            receiver.terminate()


if __name__ == "__main__":
    main()
