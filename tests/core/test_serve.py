"""`steward serve` under slow clients (slowloris): connections that send their headers a line at a
time must not take every worker, so the health endpoint keeps answering during and after them."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from tests.conftest import steward_server

if TYPE_CHECKING:
    from tests.notify_fixtures import SmtpSink

SLOW_CLIENTS = 16  # many more than the server's processes
WORKERS = "2"  # `steward serve` as shipped but for the number of processes, which slows the boot
ATTACK_SECONDS = 12.0
PROBE_TIMEOUT = 2.0


def _slowloris(url: str, stop: threading.Event, opened: threading.Event) -> None:
    """Opens the slow connections and sends each one more header line every second, never the blank
    line that ends the headers, until `stop` or `ATTACK_SECONDS` (bounded: the loop always ends)."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    sockets = [socket.create_connection(address, timeout=5) for _ in range(SLOW_CLIENTS)]
    try:
        for n, sock in enumerate(sockets):
            sock.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: {address[0]}\r\nX-Slow-{n}: 0\r\n".encode())
        opened.set()
        deadline = time.monotonic() + ATTACK_SECONDS
        line = 0
        while time.monotonic() < deadline and not stop.wait(1.0):
            line += 1
            for n, sock in enumerate(sockets):
                with contextlib.suppress(OSError):  # a server may close a slow connection: allowed
                    sock.sendall(f"X-Slow-{n}-{line}: {line}\r\n".encode())
    finally:
        for sock in sockets:
            sock.close()


def _probe(url: str) -> str | None:
    """One health request with a short timeout; the failure, or None."""
    try:
        answer = httpx.get(url + "/api/v1/health", timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return None if answer.status_code == 200 else f"HTTP {answer.status_code}"


def test_slow_clients_do_not_starve_the_server(django_db_setup: None, smtp_sink_server: SmtpSink) -> None:
    with steward_server(smtp_sink_server, "--workers", WORKERS) as url:
        stop, opened = threading.Event(), threading.Event()
        attacker = threading.Thread(target=_slowloris, args=(url, stop, opened), daemon=True)
        attacker.start()
        assert opened.wait(10), "the slow connections could not be opened"
        during: list[str | None] = []
        started = time.monotonic()
        while time.monotonic() - started < ATTACK_SECONDS - 1 and attacker.is_alive():
            during.append(_probe(url))
            time.sleep(0.5)
        stop.set()
        attacker.join(timeout=10)
        after = [_probe(url) for _ in range(5)]

    assert len(during) >= 5, "the attack ended before the server was probed"
    assert [f for f in during if f] == [], f"{sum(1 for f in during if f)} of {len(during)} probes failed during"
    assert [f for f in after if f] == []
