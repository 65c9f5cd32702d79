"""A Redis server of a benchmark's own: a free local port, nothing kept on disk, stopped by the caller."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

PORTS = range(6390, 6400)


def start_redis(workdir: Path, ports: range = PORTS) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``redis-server`` on the first free port of ``ports``; answer the process and its URL."""
    port = next((port for port in ports if _free(port)), None)
    if port is None:
        raise SystemExit(f"No free port for Redis in {ports.start}-{ports.stop - 1}")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
