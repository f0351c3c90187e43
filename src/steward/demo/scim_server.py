"""A real SCIM 2.0 directory on loopback, for the demo and for the SCIM connector's tests.

It is `scim2-server`'s own application (users and groups in memory, the schemas, resource types and
service provider configuration of RFC 7643, filters, paging, ETags, PATCH) served over real HTTP by
the standard library's threaded WSGI server, and it refuses any request without the bearer token it
was started with, as a provider such as Entra ID or Google's SCIM bridge does. Nothing of Steward's
is in front of it, so what the connector is tested against is someone else's reading of the RFCs.

    handle = start(token="s3cret")
    ... ScimConnector(handle.url, "s3cret") ...
    handle.stop()

`wrap` puts a WSGI middleware in front (the tests' stand-in for a provider's quirks); `etag`,
`patch`, `filter` and `max_results` change what the server advertises, as providers differ in them.
"""

from __future__ import annotations

import argparse
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread a request, so a slow request does not hold the others (as a real provider)."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """The standard handler without its line on stderr for every request (thousands in a bench)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return


@dataclass
class ScimServer:
    """A running server: `url` is its SCIM base URL (…/v2); `storage` holds what it stores."""

    url: str
    storage: InMemoryStorage
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and close the socket; waits for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def application(
    token: str, *, etag: bool = True, patch: bool = True, filter: bool = True, max_results: int = 1000
) -> tuple[BearerTokenApplication, InMemoryStorage]:
    """scim2-server's application over a new, empty in-memory store, accepting only `token`."""
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    assert config.etag is not None and config.patch is not None and config.filter is not None
    config.etag.supported = etag
    config.patch.supported = patch
    config.filter.supported = filter  # advertised only: scim2-server still answers a filter
    config.filter.max_results = max_results
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    storage = InMemoryStorage()
    # A fixed secret: it signs only cursors, which Steward never asks for, and the server is in memory.
    service = ScimService(provider, secret="steward-demo-scim")  # noqa: S106 - not a credential  # nosec B106
    return BearerTokenApplication(storage, provider, service=service, bearer_tokens=[token]), storage


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str,
    etag: bool = True,
    patch: bool = True,
    filter: bool = True,
    max_results: int = 1000,
    wrap: Callable[[WSGIApplication], WSGIApplication] | None = None,
) -> ScimServer:
    """Serve a new, empty SCIM directory in a background thread; port 0 picks a free port."""
    app, storage = application(token, etag=etag, patch=patch, filter=filter, max_results=max_results)
    served: WSGIApplication = wrap(app) if wrap is not None else app
    server = make_server(host, port, served, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="steward-scim-server", daemon=True)
    thread.start()
    return ScimServer(url=f"http://{host}:{server.server_port}/v2", storage=storage, _server=server, _thread=thread)


def main(argv: list[str] | None = None) -> None:
    """`python -m steward.demo.scim_server [--port 8090]`: a directory to point a SCIM target at in
    the demo, until Ctrl-C; the token is `STEWARD_SCIM_TOKEN`, or a new one printed at start."""
    parser = argparse.ArgumentParser(description="Serve an empty SCIM 2.0 directory on loopback.")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    token = os.environ.get("STEWARD_SCIM_TOKEN") or secrets.token_urlsafe(24)
    server = start(port=args.port, token=token)
    print(f"SCIM 2.0 directory at {server.url} (bearer token {token}); Ctrl-C stops it", flush=True)  # noqa: T201
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
