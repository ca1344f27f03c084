"""The redacting APDU tracer: every command and response on the wire as one log record each.

Records go to the logger ``apdu.traffic`` at level :data:`TRAFFIC` (7, below DEBUG), so they
cost one ``isEnabledFor`` check when tracing is off. To see them::

    logging.basicConfig(level=apdu.trace.TRAFFIC)      # or
    logging.getLogger("apdu.traffic").setLevel(apdu.trace.TRAFFIC)

A record looks like ``> 00 20 00 80 04 XX XX XX XX  VERIFY`` and
``< 63 C2  VERIFY  63C2 verification failed, 2 tries left  (4.1 ms)``.

The data field of VERIFY (INS 20) and CHANGE REFERENCE DATA (INS 24), and of the other
secret-bearing instructions listed in :func:`apdu.ins.is_secret_command`, is always replaced
by ``XX`` (its length is kept), whatever the caller asks. Bytes that do not even parse as an
APDU are shown only if their header names a harmless instruction. The records' ``args`` are
empty and their extra attributes hold no APDU bytes, so handlers that format records
themselves cannot leak a PIN either.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from apdu.codec import CommandApdu
from apdu.errors import ApduFormatError
from apdu.ins import ins_name, is_secret_command
from apdu.status import describe_sw

__all__ = [
    "TRAFFIC",
    "TRAFFIC_LOGGER_NAME",
    "ApduTracer",
    "PendingTrace",
    "format_command",
    "format_response",
]

logger = logging.getLogger(__name__)

#: The logging level of APDU traffic records: below DEBUG. Not 5: uvicorn names level 5
#: "TRACE" when it configures logging, and the service and the card agent run under uvicorn.
TRAFFIC = 7
logging.addLevelName(TRAFFIC, "TRAFFIC")

#: The logger every :class:`ApduTracer` writes to unless given another.
TRAFFIC_LOGGER_NAME = "apdu.traffic"

_MASK = "XX"


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def _masked(length: int) -> str:
    return " ".join([_MASK] * length)


def _clip(data: bytes, limit: int | None) -> tuple[bytes, int]:
    if limit is None or len(data) <= limit:
        return data, 0
    return data[:limit], len(data) - limit


def format_command(raw: bytes, *, mask: bool = False, max_bytes: int | None = None) -> str:
    """Format an encoded command as hex, with the data field masked when it may hold a secret.

    The data field is masked when *mask* is true or the instruction is secret-bearing
    (VERIFY, CHANGE REFERENCE DATA, ...). The header, Lc and Le stay readable. Bytes that do
    not parse as a command are shown only when their INS is not secret-bearing. *max_bytes*
    clips a long data field (the number of bytes left out is shown).
    """
    raw = bytes(raw)
    try:
        cmd = CommandApdu.decode(raw)
    except ApduFormatError:
        if len(raw) < 4:
            return f"{_hex(raw)} (malformed, {len(raw)} bytes)"
        if mask or is_secret_command(raw[0], raw[1]):
            return " ".join(filter(None, (_hex(raw[:4]), _masked(len(raw) - 4), "(malformed)")))
        shown, left_out = _clip(raw, None if max_bytes is None else max_bytes + 4)
        more = f" ... ({left_out} more bytes)" if left_out else ""
        return f"{_hex(shown)}{more} (malformed)"
    data = cmd.data
    head_len = len(raw) - len(data) - _le_field_length(cmd)
    prefix = raw[:head_len]
    suffix = raw[head_len + len(data) :]
    parts = [_hex(prefix)]
    if data:
        if mask or cmd.is_secret:
            parts.append(_masked(len(data)))
        else:
            shown, left_out = _clip(data, max_bytes)
            parts.append(_hex(shown))
            if left_out:
                parts.append(f"... ({left_out} more bytes)")
    if suffix:
        parts.append(_hex(suffix))
    return " ".join(parts)


def _le_field_length(cmd: CommandApdu) -> int:
    if cmd.le is None:
        return 0
    if not cmd.extended:
        return 1
    return 2 if cmd.data else 3


def format_response(raw: bytes, *, mask: bool = False, max_bytes: int | None = None) -> str:
    """Format a response as hex: data (masked as ``XX`` when *mask*), then SW1 SW2."""
    raw = bytes(raw)
    if len(raw) < 2:
        return f"{_hex(raw)} (malformed, {len(raw)} bytes)"
    data, sw = raw[:-2], raw[-2:]
    parts: list[str] = []
    if data:
        if mask:
            parts.append(_masked(len(data)))
        else:
            shown, left_out = _clip(data, max_bytes)
            parts.append(_hex(shown))
            if left_out:
                parts.append(f"... ({left_out} more bytes)")
    parts.append(_hex(sw))
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class PendingTrace:
    """What :meth:`ApduTracer.command` remembers for the matching :meth:`ApduTracer.response`:
    the command's name and when it was sent. Holds no APDU bytes."""

    name: str
    started: float


class ApduTracer:
    """Write one log record per command and per response, with masking and timing.

    *logger* defaults to ``logging.getLogger("apdu.traffic")``; *level* to :data:`TRAFFIC`.
    *max_bytes* clips long data fields in the records (None shows everything).

    Use :meth:`command` before sending and :meth:`response` (or :meth:`failure`) after:
    :class:`apdu.Exchange` does this for every APDU it puts on the wire.
    """

    def __init__(
        self,
        logger: logging.Logger | str | None = None,
        *,
        level: int = TRAFFIC,
        max_bytes: int | None = 1024,
    ) -> None:
        if logger is None:
            logger = TRAFFIC_LOGGER_NAME
        self._logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._level = level
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be None or >= 0")
        self._max_bytes = max_bytes

    @property
    def logger(self) -> logging.Logger:
        """The logger records go to."""
        return self._logger

    @property
    def level(self) -> int:
        """The level records are logged at."""
        return self._level

    @property
    def enabled(self) -> bool:
        """True when a record at this tracer's level would be handled."""
        return self._logger.isEnabledFor(self._level)

    def command(self, raw: bytes, *, mask: bool = False) -> PendingTrace:
        """Log a command about to be sent; return a token for :meth:`response`.

        The data field is masked when *mask* is true or the INS is secret-bearing.
        """
        raw = bytes(raw)
        cla, ins = (raw[0], raw[1]) if len(raw) >= 2 else (0x00, -1)
        name = ins_name(cla, ins) if ins >= 0 else "malformed"
        if self.enabled:
            text = format_command(raw, mask=mask, max_bytes=self._max_bytes)
            self._logger.log(
                self._level,
                f"> {text}  {name}",
                extra={
                    "apdu_direction": "command",
                    "apdu_name": name,
                    "apdu_length": len(raw),
                },
            )
        return PendingTrace(name, time.perf_counter())

    def response(self, raw: bytes, pending: PendingTrace, *, mask: bool = False) -> None:
        """Log the response to the command *pending* came from, with the elapsed time."""
        elapsed_ms = (time.perf_counter() - pending.started) * 1000.0
        if not self.enabled:
            return
        raw = bytes(raw)
        text = format_response(raw, mask=mask, max_bytes=self._max_bytes)
        if len(raw) >= 2:
            sw = int.from_bytes(raw[-2:], "big")
            status = f"{sw:04X} {describe_sw(sw)}"
        else:
            sw = -1
            status = "no status word"
        self._logger.log(
            self._level,
            f"< {text}  {pending.name}  {status}  ({elapsed_ms:.1f} ms)",
            extra={
                "apdu_direction": "response",
                "apdu_name": pending.name,
                "apdu_length": len(raw),
                "apdu_sw": sw,
                "apdu_elapsed_ms": elapsed_ms,
            },
        )

    def failure(self, error: BaseException, pending: PendingTrace) -> None:
        """Log that the transport failed for the command *pending* came from.

        Only the error's type and PC/SC code are logged: a transport's message is not trusted
        to be free of APDU bytes.
        """
        elapsed_ms = (time.perf_counter() - pending.started) * 1000.0
        if not self.enabled:
            return
        code = getattr(error, "pcsc_code", None)
        detail = f" PC/SC 0x{code & 0xFFFFFFFF:08X}" if isinstance(code, int) else ""
        self._logger.log(
            self._level,
            f"x {type(error).__name__}  {pending.name}{detail}  ({elapsed_ms:.1f} ms)",
            extra={
                "apdu_direction": "error",
                "apdu_name": pending.name,
                "apdu_elapsed_ms": elapsed_ms,
            },
        )
