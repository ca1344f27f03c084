"""Helpers for the service tests: API keys and a uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from authkit import ORIGIN

from jpki_sdk.server import ApiKey, Service, hash_api_key

ServiceFactory = Callable[..., Service]

API_KEY = "jpki_test-key-for-rp-example-0000000000000000000"
MULTI_KEY = "jpki_test-key-with-two-origins-000000000000000000"
OTHER_ORIGIN = "https://shop.example"


def api_keys() -> list[ApiKey]:
    return [
        ApiKey.from_hex("rp", hash_api_key(API_KEY), [ORIGIN]),
        ApiKey.from_hex("multi", hash_api_key(MULTI_KEY), [ORIGIN, OTHER_ORIGIN]),
    ]


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", server_header=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def client(self, key: str | None = API_KEY, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
