"""ServerThread: several apps on loopback in one background thread, stopped cleanly."""

from __future__ import annotations

import _thread
import contextlib
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from jpki_sdk.agent import ServerThread, bind_loopback


def _app(text: str) -> Starlette:
    async def hello(request):
        return PlainTextResponse(text)

    return Starlette(routes=[Route("/", hello)])


def test_serves_several_apps_and_stops_after_ctrl_c(caplog) -> None:
    servers = ServerThread(
        [("one", _app("one"), bind_loopback(0)), ("two", _app("two"), bind_loopback(0))]
    ).start()
    try:
        for served, text in zip(servers.served, ("one", "two"), strict=True):
            assert httpx.get(served.url + "/").text == text
        # Ctrl-C while the main thread waits (what `jpki demo` does): the wait is interrupted
        # and stopping afterwards still shuts the servers down before closing their sockets.
        timer = threading.Timer(0.2, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            servers.wait()
        timer.join()
    finally:
        servers.stop()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    for served in servers.served:
        with pytest.raises(httpx.TransportError):
            httpx.get(served.url + "/", timeout=2)


def test_a_failing_server_is_reported_at_start() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("this application cannot start")
        yield  # pragma: no cover

    broken = Starlette(lifespan=lifespan)
    sock = bind_loopback(0)
    with pytest.raises(RuntimeError, match="failed to start"):
        ServerThread([("broken", broken, sock)]).start(timeout=30)
