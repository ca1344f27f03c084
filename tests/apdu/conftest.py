"""Test doubles for the apdu layer: a scripted transport and a capture-everything log handler."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest

# tests/ is on sys.path (the root conftest imports tests/pcscstack.py), so this directory,
# tests/apdu, would be found as a namespace package "apdu" shadowing the real one unless the
# repository root is on sys.path too (a regular package wins over a namespace portion).
# pyproject's pytest `pythonpath = ["."]` does the same for every area; this keeps the apdu
# tests right either way.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

Step = tuple[str, "str | BaseException"]


def _norm(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.replace(" ", ""))


@dataclass
class ScriptedTransport:
    """A Transport that checks every APDU it receives against a script and replies from it.

    Each step is ``(expected command hex, reply hex)``; the reply may instead be an exception
    instance, which ``transmit`` raises. Receiving anything other than the next expected
    command, or more commands than scripted, fails the test.
    """

    script: list[tuple[bytes, bytes | BaseException]]
    extended_length: bool = False
    max_command_data: int = 255
    max_response_data: int = 256
    received: list[bytes] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def of(cls, steps: Sequence[Step], **caps: int | bool) -> ScriptedTransport:
        script: list[tuple[bytes, bytes | BaseException]] = []
        for command, reply in steps:
            script.append(
                (_norm(command), reply if isinstance(reply, BaseException) else _norm(reply))
            )
        return cls(script, **caps)  # type: ignore[arg-type]

    def transmit(self, command: bytes) -> bytes:
        index = len(self.received)
        self.received.append(bytes(command))
        if index >= len(self.script):
            raise AssertionError(f"unexpected extra APDU #{index}: {command.hex(' ').upper()}")
        expected, reply = self.script[index]
        if command != expected:
            raise AssertionError(
                f"APDU #{index}: expected {expected.hex(' ').upper()}, "
                f"got {command.hex(' ').upper()}"
            )
        if isinstance(reply, BaseException):
            raise reply
        return reply

    @property
    def done(self) -> bool:
        return len(self.received) == len(self.script)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedTransport]]:
    """Factory for ScriptedTransport; at teardown every script must have been played out."""
    made: list[ScriptedTransport] = []

    def make(steps: Sequence[Step], **caps: int | bool) -> ScriptedTransport:
        transport = ScriptedTransport.of(steps, **caps)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        assert transport.done, (
            f"script not played out: {len(transport.received)} of "
            f"{len(transport.script)} APDUs received"
        )


class CaptureAll(logging.Handler):
    """Keeps every record and its fully formatted text (message, exception, stack)."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s", validate=True))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(self.format(record))
        # Everything the record carries, so a secret in args or an extra cannot hide. Plain
        # numbers (timestamps, thread ids) are left out: their digits would match a numeric
        # PIN written as text by chance.
        carried = {
            key: value
            for key, value in vars(record).items()
            if isinstance(value, bool) or not isinstance(value, (int, float))
        }
        self.texts.append(repr(carried))

    def everything(self) -> str:
        return "\n".join(self.texts)


@pytest.fixture
def capture_all() -> Iterator[CaptureAll]:
    """Capture every log record at level 1 and above from every logger."""
    handler = CaptureAll()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(1)
    traffic = logging.getLogger("apdu.traffic")
    old_traffic = traffic.level
    traffic.setLevel(logging.NOTSET)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        traffic.setLevel(old_traffic)
