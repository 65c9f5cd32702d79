"""Referral-create benchmark (issue 2): the full API create beside a minimal token-and-insert endpoint.

Run against PostgreSQL (the script drops, creates, migrates and seeds a database of its own):

    .venv/bin/python bench/create_referral.py
    .venv/bin/python bench/create_referral.py --database-url postgres://postgres@127.0.0.1:5432/harbour_bench_create \\
        --requests 2000 --concurrency 8 --workers 2 --threads 4

It starts gunicorn itself on a free localhost port (DEBUG off, ``CONN_MAX_AGE`` set so connections
persist as in a deployment, ``HARBOUR_BENCH=1`` to mount ``bench/minimal_api.py``), obtains a token for
the demo first responder, and then drives a fixed number of requests from a pool of client threads,
each with its own keep-alive connection:

(a) ``POST /api/v1/referrals/`` with a valid referral and an ``Idempotency-Key``: validation, the
    referral with its encrypted fields and reference, the transition log, the assessment clock, the
    managers' outbox rows and the audit row, all in one transaction (the hand-off to Celery after commit
    is part of it);
(b) ``POST /bench/ping/``: the same middleware and DRF authentication, one INSERT.

The two run in alternating rounds so that any drift in the machine's load falls on both. It prints
requests per second, p50 and p95 latency and errors for each, and the ratio of (a) to (b). Target: the
full create reaches at least 50% of the minimal endpoint's throughput.

Then, with the server stopped, ``bench/create_parts.py`` accounts in-process for the create's CPU by part
(validation, encryption, the answer, the Celery publish, and the database work that is left) and
prints the ratio a create with those parts could reach even if its database work cost nothing.

The broker is Redis, as deployed (SPEC §10: PostgreSQL and Redis): a server of the benchmark's own on a
free port in 6390-6399. Beside the throughput it prints the CPU time each request cost, read from
``/proc``: in the gunicorn processes, in the benchmark database's PostgreSQL backends, in the Redis
server, in the client, and on the whole machine (every busy core, the kernel and PostgreSQL's background
writers included). Server, database, broker and client share the machine's cores, so when they keep
them busy the throughput ratio follows the ratio of the machine's CPU per request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.redis_server import running_redis  # noqa: E402 - after the path is set

PYTHON = sys.executable
DEMO_PASSWORD = "harbour-bench-demo"
REFERRAL = {
    "consent": True,
    "given_name": "Amina",
    "family_name": "Haile",
    "date_of_birth": "1995-03-14",
    "gender": "female",
    "nationality": "ER",
    "languages": ["ti", "en"],
    "interpreter_needed": True,
    "exploitation_types": ["labour"],
    "exploitation_location": "both",
    "region": "london",
    "needs_accommodation": True,
    "safe_to_contact": True,
    "contact_phone": "07700 900123",
    "account": "Found working in a car wash with no pay; documents held by the employer.",
}


CPU_PARTS = ("gunicorn", "PostgreSQL", "Redis", "client", "machine")


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # CPU seconds spent serving these requests, by CPU_PARTS.
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CPU_PARTS, 0.0))

    @property
    def done(self) -> int:
        return len(self.latencies)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    @property
    def throughput(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def process_cpu(matches: Callable[[int, str, int], bool]) -> dict[int, float]:
    """CPU seconds (user and system) of every process for which ``matches(pid, cmdline, ppid)``."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if matches(int(entry.name), cmdline, int(stat[1])):
            found[int(entry.name)] = (int(stat[11]) + int(stat[12])) / tick
    return found


def machine_cpu() -> float:
    """CPU seconds all cores have been busy since boot: user, nice, system, irq and softirq time."""
    user, nice, system, _idle, _iowait, irq, softirq = Path("/proc/stat").read_text().split()[1:8]
    return sum(int(ticks) for ticks in (user, nice, system, irq, softirq)) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time of the server's workers, the benchmark database's backends, Redis, the client, the machine."""

    def __init__(self, server_pid: int, redis_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.redis_pid = redis_pid
        self.backend = f" {database} "

    def sample(self) -> dict[str, dict[int, float]]:
        return {
            "gunicorn": process_cpu(lambda pid, _, ppid: self.server_pid in (pid, ppid)),
            "PostgreSQL": process_cpu(
                lambda _, cmd, __: cmd.startswith("postgres: ") and self.backend in cmd
            ),
            "Redis": process_cpu(lambda pid, _, __: pid == self.redis_pid),
            "client": {0: time.process_time()},
            "machine": {0: machine_cpu()},
        }

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        return {
            part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items())
            for part in CPU_PARTS
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(database_url: str, broker_url: str, var_dir: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE"}}
    env.update(
        DEBUG="0",
        MANAGERS_DUTY_PHONE="020 7946 0321",  # required with DEBUG off; a drama number
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        FIELD_HASH_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        HARBOUR_VAR_DIR=var_dir,
        CONN_MAX_AGE="300",
        # Plain HTTP on localhost: no redirect to HTTPS.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        HARBOUR_BENCH="1",
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def create_ping_table(env: dict[str, str]) -> None:
    script = "from django.db import connection; from bench.minimal_api import CREATE_TABLE; connection.cursor().execute(CREATE_TABLE)"
    manage(env, "shell", "-c", script)


def wait_until_up(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/me/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in time")


def obtain_token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": "responder", "password": DEMO_PASSWORD})
    conn.request("POST", "/api/v1/auth/token/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise SystemExit(f"no token: {response.status} {payload[:200]!r}")
    return json.loads(payload)["token"]


def drive(
    port: int,
    token: str,
    path: str,
    body: dict,
    requests: int,
    concurrency: int,
    result: Result,
    meter: CpuMeter,
) -> None:
    """Send ``requests`` POSTs from ``concurrency`` threads, each on one keep-alive connection."""
    local = threading.local()
    encoded = json.dumps(body)
    lock = threading.Lock()

    def one(_: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        started = time.perf_counter()
        try:
            conn.request("POST", path, encoded, headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            local.conn = None
            with lock:
                result.errors.append(type(exc).__name__)
            return
        elapsed = time.perf_counter() - started
        with lock:
            if response.status == 201:
                result.latencies.append(elapsed)
            else:
                result.errors.append(f"{response.status} {payload[:120]!r}")

    cpu_before = meter.sample()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(requests)))
    result.seconds += time.perf_counter() - started
    for part, seconds in meter.spent(cpu_before, meter.sample()).items():
        result.cpu[part] += seconds


def cpu_per_request(result: Result, part: str) -> float:
    return result.cpu[part] / result.done * 1000 if result.done else 0.0


def report(results: list[Result], args: argparse.Namespace) -> float:
    print()
    print(
        f"{args.requests} requests per endpoint in {args.rounds} alternating rounds, {args.concurrency} client threads; "
        f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL"
    )
    header = f"{'endpoint':<28}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.name:<28}{result.done:>9}{len(result.errors):>8}{result.throughput:>9.1f}"
            f"{result.percentile(50):>9.1f}{result.percentile(95):>9.1f}"
        )
    print(f"\nCPU per request, ms{'':<9}" + "".join(f"{part:>11}" for part in CPU_PARTS))
    for result in results:
        print(f"{result.name:<28}" + "".join(f"{cpu_per_request(result, part):>11.2f}" for part in CPU_PARTS))
    full, minimal = results
    ratio = full.throughput / minimal.throughput if minimal.throughput else 0.0
    cpu_full = cpu_per_request(full, "machine")
    cpu_ratio = cpu_per_request(minimal, "machine") / cpu_full if cpu_full else 0.0
    print(f"\nmachine CPU per minimal request / per create: {cpu_ratio:.0%}")
    print(f"full create / minimal endpoint throughput: {ratio:.0%} (target: at least 50%)")
    for result in results:
        if result.errors:
            print(f"{result.name}: first errors: {result.errors[:3]}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/harbour_bench_create"
        ),
        help="A PostgreSQL database of the benchmark's own: it is dropped and created again.",
    )
    parser.add_argument("--requests", type=int, default=2000, help="Requests per endpoint (default 2000).")
    parser.add_argument(
        "--rounds", type=int, default=4, help="Alternating rounds the requests are split into."
    )
    parser.add_argument("--concurrency", type=int, default=8, help="Client threads (default 8).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2).")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker (default 4).")
    parser.add_argument("--seed-referrals", type=int, default=2000, help="Demo referrals seeded first.")
    parser.add_argument(
        "--no-parts",
        dest="parts",
        action="store_false",
        help="Skip the in-process account of the create's CPU by part (bench/create_parts.py).",
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("This benchmark runs against PostgreSQL: pass --database-url postgres://…")

    with (
        tempfile.TemporaryDirectory(prefix="harbour-bench-") as var_dir,
        running_redis(Path(var_dir)) as (redis_server, broker_url),
    ):
        env = server_env(args.database_url, broker_url, var_dir)
        Path(var_dir, "static").mkdir()  # the API serves no static files; WhiteNoise wants the folder
        print(f"Preparing {urlsplit(args.database_url).path.lstrip('/')}: migrate, seed_demo, bench table …")
        recreate_database(args.database_url)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "seed_demo", "--password", DEMO_PASSWORD, "--referrals", str(args.seed_referrals))
        create_ping_table(env)

        port = free_port()
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--no-control-socket",
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        try:
            wait_until_up(port, server)
            token = obtain_token(port)
            meter = CpuMeter(server.pid, redis_server.pid, urlsplit(args.database_url).path.lstrip("/"))
            full = Result("POST /api/v1/referrals/")
            minimal = Result("POST /bench/ping/ (floor)")
            # Warm up both: every worker thread opens its database connection and imports its code.
            drive(port, token, "/bench/ping/", {}, 100, args.concurrency, Result("warm-up"), meter)
            drive(
                port, token, "/api/v1/referrals/", REFERRAL, 100, args.concurrency, Result("warm-up"), meter
            )
            if not meter.sample()["PostgreSQL"]:
                raise SystemExit(
                    "No PostgreSQL backend found by its process title: is update_process_title off?"
                )
            per_round = max(1, args.requests // args.rounds)
            for _ in range(args.rounds):
                drive(port, token, "/bench/ping/", {}, per_round, args.concurrency, minimal, meter)
                drive(port, token, "/api/v1/referrals/", REFERRAL, per_round, args.concurrency, full, meter)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        ratio = report([full, minimal], args)
        if args.parts:
            manage(
                env,
                "shell",
                "--no-imports",
                "-c",
                f"from bench.create_parts import main; main({token!r}, {args.requests})",
            )
    return 0 if ratio >= 0.5 and not full.errors and not minimal.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
