"""Real processes that tests start and stop: a Redis server of their own and Celery workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings

from config.celery import app as celery_app
from tests.notifications.receivers import wait_for

ROOT = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))
# Each of pytest-xdist's workers (gw0, gw1, …) takes ports of its own.
_PORT_BLOCK = 10 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
REDIS_PORTS = range(6390 + _PORT_BLOCK, 6400 + _PORT_BLOCK)


class RedisServer:
    """A throwaway redis-server on its own port, that the test can stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = next(p for p in REDIS_PORTS if _port_is_free(p))
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=10)

    def hang(self) -> None:
        """Stop the server as ``kill -STOP`` does: the kernel still accepts connections, nobody answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        # The signal takes effect when the kernel next schedules the server: until then it still
        # answers, and a test's "hung" publish would be queued.
        stat = Path(f"/proc/{self.process.pid}/stat")
        wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "T")

    def wake(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.wake()
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def _port_is_free(port: int) -> bool:
    """Whether nothing listens on the port. As redis-server binds, with SO_REUSEADDR: connections of
    a server stopped by an earlier test linger in TIME_WAIT and must not make its port look taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


DELIVERIES_QUEUE = celery_app.conf.task_default_queue
# Where settings.CELERY_TASK_ROUTES sends the periodic tasks: the queue the Procfile's sweeper consumes.
SWEEPS_QUEUE = "sweeps"


class CeleryProcess:
    """A ``celery -A config …`` command in its own process group, pointed at the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [CELERY, "-A", "config", *self.arguments(), "-l", "INFO"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing restored to the queue."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None


class Worker(CeleryProcess):
    """``celery -A config worker -B``.

    By default it is started without ``-Q`` and so consumes every queue (``CELERY_TASK_QUEUES``): the
    deliveries' and the sweeps' both, as the Procfile's worker and sweeper together do. With ``beat``
    off it only works; one worker of a test schedules.
    """

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *,
        queues: tuple[str, ...] = (),
        beat: bool = True,
    ) -> None:
        super().__init__(env, log)
        self.queues = queues
        self.beat = beat

    def arguments(self) -> list[str]:
        return [
            "worker",
            *(["-Q", ",".join(self.queues)] if self.queues else []),
            *(["-B", "-s", self.env["HARBOUR_VAR_DIR"] + "/celerybeat-schedule"] if self.beat else []),
            "-P",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]


class Beat(CeleryProcess):
    """``celery -A config beat``, as the Procfile starts it, with the schedule file in HARBOUR_VAR_DIR."""

    def arguments(self) -> list[str]:
        return ["beat"]


@contextmanager
def use_broker(url: str, socket_timeout: float = 5) -> Iterator[None]:
    """Have this (test) process publish to ``url`` within the block, with production's Redis options.

    ``broker_write_url``: Celery takes ``broker_url`` from the environment's ``CELERY_BROKER_URL``
    before its settings.
    """
    conf = celery_app.conf
    saved = conf.get("broker_write_url"), conf.broker_transport_options
    conf.broker_write_url = url
    conf.broker_transport_options = {
        **settings.REDIS_BROKER_TRANSPORT_OPTIONS,
        "socket_timeout": socket_timeout,
    }
    _forget_connections()
    try:
        yield
    finally:
        conf.broker_write_url, conf.broker_transport_options = saved
        _forget_connections()


def _forget_connections() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
