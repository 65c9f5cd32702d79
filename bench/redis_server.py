"""A Redis server of a benchmark's own: a free local port, nothing kept on disk, stopped by the caller."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORTS = range(6390, 6400)


def start_redis(workdir: Path, ports: range = PORTS) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``redis-server`` on the first port of ``ports`` it can take; answer the process and its URL."""
    for port in ports:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if _serving(process, port):
            return process, f"redis://127.0.0.1:{port}/0"
        process.kill()
        process.wait()
    raise SystemExit(f"redis-server could not start on any port in {ports.start}-{ports.stop - 1}")


@contextmanager
def running_redis(workdir: Path, ports: range = PORTS) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``start_redis`` for the length of a ``with`` block."""
    process, url = start_redis(workdir, ports)
    try:
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _serving(process: subprocess.Popen[bytes], port: int, timeout: float = 10) -> bool:
    """Whether ``process`` answers on ``port``: a server already there reports another process id."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"INFO server\r\n")
                return f"process_id:{process.pid}\r".encode() in conn.recv(65536)
        except OSError:
            time.sleep(0.05)
    return False
