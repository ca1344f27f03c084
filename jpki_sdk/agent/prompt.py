"""Asking the person at the agent for the PIN: what is asked, by whom, and with how many tries.

The page never sees the PIN (outside kiosk mode). Before anything is typed the agent shows the
requesting origin, what the signature is for, what the site will learn, and the PIN's tries
left (read from the card without using a try). At one try left it asks for an explicit
``YES`` first; a blocked PIN is reported without a prompt.

:class:`PinPrompt` is the protocol (a GUI dialog could implement it); :class:`TerminalPinPrompt`
is the default: the agent's controlling terminal (``/dev/tty``), echo off, with a timeout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

from jpki_sdk.agent.errors import AgentError
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.card import PinKind

logger = logging.getLogger(__name__)

#: Longest line read from the terminal (a signature password is at most 16 characters).
_MAX_LINE = 64

_WHAT = {
    AuthPurpose.LOGIN: (
        "LOG IN with your My Number card",
        "The site receives your user-authentication certificate: a card identifier, no name "
        "or address.",
    ),
    AuthPurpose.IDENTITY: (
        "VERIFY YOUR IDENTITY with your My Number card",
        "The site receives your signature certificate, which contains your NAME, ADDRESS, "
        "BIRTH DATE and SEX.",
    ),
}


@dataclass(frozen=True)
class PinRequest:
    """What the person is asked to approve (no secret in it)."""

    origin: str
    purpose: AuthPurpose
    pin_kind: PinKind
    tries_left: int | None
    max_tries: int

    @property
    def last_attempt(self) -> bool:
        return self.tries_left == 1

    def describe(self) -> list[str]:
        """The lines shown before the PIN is typed."""
        action, learns = _WHAT[self.purpose]
        left = "unknown" if self.tries_left is None else str(self.tries_left)
        return [
            f"{self.origin} asks to {action}.",
            learns,
            f"{self.pin_kind.label}: {left} of {self.max_tries} tries left.",
        ]


@dataclass
class PinAnswer:
    """The PIN typed (a bytearray the agent wipes after use) and the last-attempt decision."""

    pin: bytearray = field(repr=False)
    allow_last_attempt: bool = False

    def wipe(self) -> None:
        _wipe(self.pin)
        self.pin = bytearray()

    def __repr__(self) -> str:
        return f"PinAnswer(<{len(self.pin)} bytes redacted>, last={self.allow_last_attempt})"


class PinPrompt(Protocol):
    """Asks a person for the PIN of ``request``; raises ``AgentError`` (``user_cancelled``,
    ``prompt_timeout``, ``no_terminal``) when there is no PIN to use."""

    def ask(self, request: PinRequest) -> PinAnswer: ...

    def notify(self, request: PinRequest, message: str) -> None:
        """Tell the person what happened to ``request`` (signed, wrong PIN, blocked...)."""
        ...


class TerminalPinPrompt:
    """The agent's terminal.

    ``input_fd``/``output`` default to ``/dev/tty``, opened for each prompt; tests pass the
    read end of a pipe and a text buffer. Input is read unbuffered from the file descriptor
    (so a timeout can apply to every line), with echo off while the PIN is typed when the
    input is a real terminal.
    """

    def __init__(
        self,
        *,
        input_fd: int | None = None,
        output: IO[str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        if (input_fd is None) != (output is None):
            raise ValueError("give both input_fd and output, or neither (use /dev/tty)")
        self._fd = input_fd
        self._out = output
        self._timeout = timeout
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        """True when a controlling terminal can be opened."""
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return False
        os.close(fd)
        return True

    @contextlib.contextmanager
    def _terminal(self) -> Iterator[tuple[int, IO[str]]]:
        if self._fd is not None and self._out is not None:
            yield self._fd, self._out
            return
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            raise AgentError(
                "no_terminal",
                "the agent has no terminal to ask for the PIN (run it in a terminal, or use "
                "kiosk mode for a kiosk page)",
            ) from None
        out = os.fdopen(os.dup(fd), "w", encoding="utf-8")
        try:
            yield fd, out
        finally:
            out.close()
            os.close(fd)

    def notify(self, request: PinRequest, message: str) -> None:
        with self._lock, self._terminal() as (_fd, out):
            out.write(f"jpki agent: {request.origin} ({request.purpose.value}): {message}\n")
            out.flush()

    def ask(self, request: PinRequest) -> PinAnswer:
        with self._lock, self._terminal() as (fd, out):
            out.write("\n=== jpki agent: card request ===\n")
            for line in request.describe():
                out.write(f"  {line}\n")
            allow_last = False
            if request.last_attempt:
                out.write(
                    "  Only ONE try is left: a wrong PIN now blocks it, and only the municipal\n"
                    "  office can unblock it.\n"
                    "Type YES to use the last try, or press Enter to refuse: "
                )
                out.flush()
                answer = self._read_line(fd)
                try:
                    confirmed = bytes(answer).strip() == b"YES"
                finally:
                    _wipe(answer)
                if not confirmed:
                    out.write("  Refused.\n")
                    out.flush()
                    raise AgentError(
                        "last_attempt_refused",
                        "only one try is left and the person at the agent did not confirm using "
                        "it; nothing was sent",
                        tries_left=1,
                    )
                allow_last = True
            what = "password" if request.pin_kind is PinKind.SIGN else "4-digit PIN"
            out.write(f"Enter your {what} to approve, or press Enter to refuse: ")
            out.flush()
            with _no_echo(fd):
                secret = self._read_line(fd)
            out.write("\n")
            if not secret:
                out.write("  Refused.\n")
                out.flush()
                raise AgentError("user_cancelled")
            out.write("  Checking the PIN with the card...\n")
            out.flush()
            return PinAnswer(secret, allow_last_attempt=allow_last)

    def _read_line(self, fd: int) -> bytearray:
        """One line from ``fd``, unbuffered, without its end of line (EOF: cancelled)."""
        line = bytearray()
        while True:
            ready, _w, _x = select.select([fd], [], [], self._timeout)
            if not ready:
                _wipe(line)
                raise AgentError("prompt_timeout")
            byte = os.read(fd, 1)
            if not byte:
                _wipe(line)
                raise AgentError("user_cancelled", "the terminal was closed (no answer)")
            if byte == b"\n":
                if line.endswith(b"\r"):
                    line.pop()
                return line
            if len(line) >= _MAX_LINE:
                _wipe(line)
                raise AgentError("user_cancelled", "the answer was too long; nothing was sent")
            line += byte


def _wipe(buf: bytearray) -> None:
    for i in range(len(buf)):
        buf[i] = 0


@contextlib.contextmanager
def _no_echo(fd: int) -> Iterator[None]:
    """Turn terminal echo off while the PIN is typed (no-op for a pipe)."""
    if sys.platform == "win32" or not os.isatty(fd):
        yield
        return
    import termios

    old = termios.tcgetattr(fd)
    new = list(old)
    new[3] = new[3] & ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


__all__ = ["PinAnswer", "PinPrompt", "PinRequest", "TerminalPinPrompt"]
