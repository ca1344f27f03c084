"""Serving the agent (and, for the demo, other loopback apps) with uvicorn.

Sockets are bound here, before uvicorn starts, so that a refused address or a port already in
use is a clear :class:`~jpki_sdk.errors.ConfigurationError` at start-up, and so that port 0
(any free port, for tests) is known before the first request.

- :func:`run_agent`: serve one agent in the foreground until Ctrl-C (``jpki agent``).
- :class:`ServerThread`: several ASGI apps on loopback sockets in one background thread with
  its own event loop; ``start()`` returns once every server accepts connections.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from jpki_sdk.agent.app import create_agent_app
from jpki_sdk.agent.config import LOOPBACK_HOST
from jpki_sdk.agent.core import CardAgent
from jpki_sdk.errors import ConfigurationError

logger = logging.getLogger(__name__)


def bind_loopback(port: int, *, host: str = LOOPBACK_HOST, what: str = "server") -> socket.socket:
    """A listening TCP socket on a loopback ``host`` (127.0.0.1 by default)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(f"{what}: refusing to bind {host!r}: loopback addresses only")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(f"{what}: port {port} on {host} is already in use") from None
        raise ConfigurationError(
            f"{what}: cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: ASGIApp, sock: socket.socket) -> uvicorn.Config:
    host, port = sock.getsockname()[:2]
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="auto",
    )


def run_agent(agent: CardAgent) -> None:
    """Serve ``agent`` on 127.0.0.1 in the foreground until interrupted."""
    sock = bind_loopback(agent.config.port, what="card agent")
    port = sock.getsockname()[1]
    app = create_agent_app(agent, port=lambda: port)
    server = uvicorn.Server(_uvicorn_config(app, sock))
    logger.info("card agent listening on http://%s:%d", LOOPBACK_HOST, port)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@dataclass(frozen=True)
class Served:
    """One app served by a :class:`ServerThread`."""

    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}"


class ServerThread:
    """Serve several ASGI apps on already bound loopback sockets in a background thread."""

    def __init__(self, apps: Sequence[tuple[str, ASGIApp, socket.socket]]) -> None:
        self._apps = list(apps)
        self._servers = [uvicorn.Server(_uvicorn_config(app, s)) for _n, app, s in self._apps]
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self.served = [Served(name, s.getsockname()[1]) for name, _a, s in self._apps]

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Start serving; returns once every server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="jpki-servers", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the servers did not start in time")
        if self._error is not None or not all(s.started for s in self._servers):
            self.stop()
            raise RuntimeError(f"a server failed to start: {self._error!r}")
        return self

    def _run(self) -> None:
        async def serve(name: str, server: uvicorn.Server, sock: socket.socket) -> None:
            try:
                await server.serve(sockets=[sock])
            except SystemExit as exc:  # uvicorn's way of saying that the app failed to start
                raise RuntimeError(f"{name}: the application failed to start") from exc

        async def main() -> None:
            tasks = [
                asyncio.ensure_future(serve(name, server, sock))
                for server, (name, _a, sock) in zip(self._servers, self._apps, strict=True)
            ]
            while not all(server.started for server in self._servers):
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            self._ready.set()
            await asyncio.gather(*tasks)

        try:
            asyncio.run(main())
        except Exception as exc:
            self._error = exc
            logger.error("server thread failed: %s", exc)
        finally:
            self._ready.set()
            self._done.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the servers stop (Ctrl-C in the main thread interrupts the wait).

        Polls an event rather than ``Thread.join``: a join interrupted by KeyboardInterrupt can
        leave the thread looking finished while it still runs (CPython issue 90882), and a
        short timeout lets the main thread run its signal handler promptly."""
        if self._thread is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.wait(0.25):
            if deadline is not None and time.monotonic() >= deadline:
                return

    def stop(self, timeout: float = 15.0) -> None:
        """Ask every server to shut down and wait for them (uvicorn closes the sockets)."""
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None and not self._done.wait(timeout):
            logger.warning("the servers did not stop within %.0f s", timeout)
            return
        for _n, _a, sock in self._apps:
            sock.close()


__all__ = ["Served", "ServerThread", "bind_loopback", "run_agent"]
