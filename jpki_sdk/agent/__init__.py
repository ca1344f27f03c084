"""The local card agent: lets an allowed web page have the My Number card sign a challenge.

A web page cannot reach a smart card. The agent is a small HTTP server on ``127.0.0.1`` (port
:data:`DEFAULT_PORT`) on the user's machine or the kiosk that holds the reader. For each
request of an allow-listed page it does one thing: sign that page's challenge, for that page's
origin (its ``Origin`` header, never a value the page chooses), for login or identity
verification, after the PIN has been entered **at the agent** (a terminal prompt showing the
origin, the purpose and the tries left), or, in kiosk mode explicitly enabled, sent by the
kiosk's own page. It returns the v1 token for the page to hand to its relying party.

Typical use::

    from jpki_sdk.agent import AgentConfig, CardAgent, ReaderCardSource, run_agent

    config = AgentConfig(allowed_origins=["https://shop.example"])
    run_agent(CardAgent(config, ReaderCardSource()))

or ``jpki agent --allow-origin https://shop.example``. See docs/kiosk-integrator-guide.md and
docs/agent-threat-model.md. Needs the ``server`` extra (Starlette, uvicorn) and, for a
physical reader, the ``pcsc`` extra.
"""

from __future__ import annotations

from jpki_sdk.agent.app import OriginGate, create_agent_app
from jpki_sdk.agent.cards import (
    CardSource,
    ReaderCardSource,
    SimulatorFileSource,
    TransportSource,
)
from jpki_sdk.agent.config import DEFAULT_PORT, LOOPBACK_HOST, MAX_BODY_BYTES, AgentConfig
from jpki_sdk.agent.core import CardAgent, PinReport, pin_kind_for
from jpki_sdk.agent.errors import ERROR_CODES, AgentError, from_card_error
from jpki_sdk.agent.prompt import PinAnswer, PinPrompt, PinRequest, TerminalPinPrompt
from jpki_sdk.agent.ratelimit import PinRateLimiter
from jpki_sdk.agent.server import Served, ServerThread, bind_loopback, run_agent

__all__ = [
    "DEFAULT_PORT",
    "ERROR_CODES",
    "LOOPBACK_HOST",
    "MAX_BODY_BYTES",
    "AgentConfig",
    "AgentError",
    "CardAgent",
    "CardSource",
    "OriginGate",
    "PinAnswer",
    "PinPrompt",
    "PinRateLimiter",
    "PinReport",
    "PinRequest",
    "ReaderCardSource",
    "Served",
    "ServerThread",
    "SimulatorFileSource",
    "TerminalPinPrompt",
    "TransportSource",
    "bind_loopback",
    "create_agent_app",
    "from_card_error",
    "pin_kind_for",
    "run_agent",
]
