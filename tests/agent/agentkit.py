"""Helpers for the card agent tests: an agent on a real loopback port, a scripted PIN prompt."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from jpki_sdk.agent import (
    AgentConfig,
    AgentError,
    CardAgent,
    PinAnswer,
    PinRequest,
    ServerThread,
    TransportSource,
    bind_loopback,
    create_agent_app,
)

SHOP = "http://127.0.0.1:8080"
KIOSK = "http://127.0.0.1:8081"
EVIL = "http://127.0.0.1:6666"


@dataclass
class ScriptedPrompt:
    """A PinPrompt answering from a script: each answer is a PIN string (optionally with the
    last-attempt confirmation) or an AgentError code to raise. ``gate``, when set, makes
    ``ask`` wait for it (to hold an operation open)."""

    answers: list[tuple[str, bool] | str] = field(default_factory=list)
    asked: list[PinRequest] = field(default_factory=list)
    notified: list[tuple[PinRequest, str]] = field(default_factory=list)
    gate: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)

    def ask(self, request: PinRequest) -> PinAnswer:
        self.asked.append(request)
        self.entered.set()
        if self.gate is not None and not self.gate.wait(30):
            raise AgentError("prompt_timeout")
        if not self.answers:
            raise AgentError("user_cancelled")
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            if answer.startswith("error:"):
                raise AgentError(answer[len("error:") :])
            return PinAnswer(bytearray(answer.encode()), allow_last_attempt=False)
        pin, allow = answer
        return PinAnswer(bytearray(pin.encode()), allow_last_attempt=allow)

    def notify(self, request: PinRequest, message: str) -> None:
        self.notified.append((request, message))


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RunningAgent:
    """A CardAgent served on 127.0.0.1 (any free port) in a background thread, on ``card``
    (an in-process transport) or any other card source (``cards=``)."""

    def __init__(
        self,
        card: Any,
        *,
        cards: Any = None,
        prompt: Any = None,
        clock: Callable[[], float] | None = None,
        **config: Any,
    ) -> None:
        config.setdefault("allowed_origins", [SHOP])
        config.setdefault("port", 0)
        self.config = AgentConfig(**config)
        self.card = card
        kwargs: dict[str, Any] = {"prompt": prompt if prompt is not None else ScriptedPrompt()}
        if clock is not None:
            kwargs["clock"] = clock
        source = cards if cards is not None else TransportSource(card)
        self.agent = CardAgent(self.config, source, **kwargs)
        self.prompt = kwargs["prompt"]
        sock = bind_loopback(0, what="test agent")
        self.port = sock.getsockname()[1]
        app = create_agent_app(self.agent, port=lambda: self.port)
        self._servers = ServerThread([("agent", app, sock)]).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, origin: str | None = SHOP, **headers: str) -> httpx.Client:
        all_headers = dict(headers)
        if origin is not None:
            all_headers["Origin"] = origin
        return httpx.Client(base_url=self.url, headers=all_headers, timeout=30)

    def sign(self, origin: str | None, body: dict[str, Any]) -> httpx.Response:
        with self.client(origin) as client:
            return client.post("/v1/sign", json=body)

    def stop(self) -> None:
        self._servers.stop()
