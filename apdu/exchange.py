"""The exchange layer: one logical command in, one complete response out.

:class:`Exchange` sits on a :class:`apdu.Transport` and handles what ISO/IEC 7816-4 leaves to
the terminal:

- **61xx**: the card has more data. Send GET RESPONSE (``00 C0 00 00 xx``, xx=00 meaning 256)
  and append its data, as long as the card keeps answering 61xx.
- **6Cxx**: wrong Le. Send the same APDU again with Le=xx. (Never for a PIN-bearing command such
  as VERIFY: a PIN is never sent twice automatically; its 6Cxx answer is returned.)
- **Command chaining**: data longer than the link carries in one APDU is split into blocks;
  every block but the last has CLA bit 0x10 set and must be answered 9000 (any other answer
  ends the exchange and is returned).
- **Link limits**: Le is capped to ``transport.max_response_data``; the extended encoding is
  used only when ``transport.extended_length`` is true (otherwise commands are sent short,
  chained and with Le at most 256).
- **Guards**: a maximum total response size and a maximum number of GET RESPONSE / re-send
  rounds, so a broken or hostile card cannot make the host loop or buffer without end.

:meth:`Exchange.transmit` never raises for a status word; :meth:`Exchange.send` does, through
:func:`apdu.raise_for_sw`. The counters (``apdu_count``, ``bytes_sent``, ``bytes_received``)
count every raw APDU on the wire, including GET RESPONSE, re-sends and chained blocks.

An Exchange is not thread-safe; use one per card session.
"""

from __future__ import annotations

import logging

from apdu.codec import (
    MAX_EXTENDED_LC,
    MAX_EXTENDED_LE,
    MAX_SHORT_LC,
    MAX_SHORT_LE,
    CommandApdu,
    ResponseApdu,
)
from apdu.errors import (
    ApduFormatError,
    ExchangeLoopError,
    ResponseTooLargeError,
    TransportError,
    raise_for_sw,
)
from apdu.trace import ApduTracer
from apdu.transport import Transport

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_MAX_ROUNDS",
    "GET_RESPONSE_INS",
    "Exchange",
]

logger = logging.getLogger(__name__)

#: Largest total response (data bytes, all rounds together) accepted by default: the most an
#: extended Le can ask for.
DEFAULT_MAX_RESPONSE_SIZE = 65536
#: Most GET RESPONSE / 6Cxx re-send rounds per command by default: 65536 bytes in 256-byte
#: GET RESPONSE rounds take 256, so a real card never comes near it.
DEFAULT_MAX_ROUNDS = 512

GET_RESPONSE_INS = 0xC0
_CHAINING_BIT = 0x10


def _get_response_cla(cla: int) -> int:
    """CLA for GET RESPONSE: interindustry, on the command's logical channel."""
    if cla & 0x80:
        return 0x00  # proprietary class: GET RESPONSE is interindustry, channel 0
    if cla & 0x40:
        return 0x40 | (cla & 0x0F)  # further interindustry class: channels 4..19
    return cla & 0x03  # first interindustry class: channels 0..3


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"transport.{name} must be a positive int, got {value!r}")
    return value


class Exchange:
    """Send :class:`CommandApdu` values over a :class:`Transport` and collect full responses.

    *tracer* logs every APDU on the wire (masked; see :mod:`apdu.trace`); None uses a default
    :class:`ApduTracer` on the ``apdu.traffic`` logger, which costs nothing unless that logger
    is enabled for :data:`apdu.trace.TRAFFIC`. *max_response_size* bounds the total response
    data of one command (all rounds) and *max_rounds* the GET RESPONSE / 6Cxx re-send rounds
    per command.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        tracer: ApduTracer | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
    ) -> None:
        if isinstance(max_response_size, bool) or not isinstance(max_response_size, int):
            raise TypeError("max_response_size must be an int")
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int):
            raise TypeError("max_rounds must be an int")
        if max_response_size < 0:
            raise ValueError(f"max_response_size must be >= 0, got {max_response_size}")
        if max_rounds < 0:
            raise ValueError(f"max_rounds must be >= 0, got {max_rounds}")
        self._transport = transport
        self._tracer = tracer if tracer is not None else ApduTracer()
        self._max_response_size = max_response_size
        self._max_rounds = max_rounds
        self._apdu_count = 0
        self._bytes_sent = 0
        self._bytes_received = 0

    @property
    def transport(self) -> Transport:
        """The transport this exchange sends over."""
        return self._transport

    @property
    def tracer(self) -> ApduTracer:
        """The tracer every APDU is logged through."""
        return self._tracer

    @property
    def max_response_size(self) -> int:
        """Largest total response data accepted for one command."""
        return self._max_response_size

    @property
    def max_rounds(self) -> int:
        """Most GET RESPONSE / re-send rounds for one command."""
        return self._max_rounds

    @property
    def apdu_count(self) -> int:
        """Raw command APDUs put on the wire (GET RESPONSE, re-sends and chain blocks count)."""
        return self._apdu_count

    @property
    def bytes_sent(self) -> int:
        """Bytes of all raw command APDUs sent."""
        return self._bytes_sent

    @property
    def bytes_received(self) -> int:
        """Bytes of all raw responses received (data and status words)."""
        return self._bytes_received

    def reset_counters(self) -> None:
        """Set ``apdu_count``, ``bytes_sent`` and ``bytes_received`` back to 0."""
        self._apdu_count = 0
        self._bytes_sent = 0
        self._bytes_received = 0

    def send(self, cmd: CommandApdu, *, redact_response: bool = False) -> bytes:
        """Transmit *cmd* and return the response data; raise a StatusWordError unless 9000."""
        response = self.transmit(cmd, redact_response=redact_response)
        raise_for_sw(response, command=cmd)
        return response.data

    def transmit(self, cmd: CommandApdu, *, redact_response: bool = False) -> ResponseApdu:
        """Transmit *cmd* and return the complete response, whatever its status word.

        Handles chaining, 61xx and 6Cxx as described in :mod:`apdu.exchange`.
        *redact_response* masks the response data in traces (for personal data such as the
        individual number); command data of PIN-bearing commands is always masked.

        Raises :class:`TransportError` (or a subclass) when the link fails,
        :class:`ResponseTooLargeError` and :class:`ExchangeLoopError` when the guards trip.
        """
        if not isinstance(cmd, CommandApdu):
            raise TypeError(f"cmd must be a CommandApdu, not {type(cmd).__name__}")
        transport = self._transport
        wire_extended = bool(transport.extended_length) and cmd.extended
        max_command = _positive("max_command_data", transport.max_command_data)
        max_response = _positive("max_response_data", transport.max_response_data)
        block = min(max_command, MAX_EXTENDED_LC if wire_extended else MAX_SHORT_LC)
        le_cap = min(max_response, MAX_EXTENDED_LE if wire_extended else MAX_SHORT_LE)
        le = None if cmd.le is None else min(cmd.le, le_cap)
        secret = cmd.is_secret

        data = cmd.data
        if len(data) > block:
            chained_cla = cmd.cla | _CHAINING_BIT
            last_start = ((len(data) - 1) // block) * block
            for start in range(0, last_start, block):
                piece = CommandApdu(
                    chained_cla,
                    cmd.ins,
                    cmd.p1,
                    cmd.p2,
                    data[start : start + block],
                    extended=wire_extended,
                )
                answer = self._round_trip(piece, mask=secret, redact=redact_response)
                if not answer.ok:
                    self._check_size(len(answer.data), piece)
                    logger.debug(
                        "chained %s block at offset %d answered %04X; chain abandoned",
                        cmd.name,
                        start,
                        answer.sw,
                    )
                    return answer
            data = data[last_start:]
        if data is cmd.data and le == cmd.le and wire_extended == cmd.extended:
            final = cmd  # the link carries it as it is
        else:
            final = CommandApdu(
                cmd.cla, cmd.ins, cmd.p1, cmd.p2, data, le=le, extended=wire_extended
            )
        return self._collect(final, le_cap=le_cap, secret=secret, redact=redact_response)

    def _collect(
        self, apdu: CommandApdu, *, le_cap: int, secret: bool, redact: bool
    ) -> ResponseApdu:
        """Send *apdu* and follow 61xx / 6Cxx until a final status word."""
        parts: list[bytes] = []
        total = 0
        rounds = 0
        get_response_cap = min(le_cap, MAX_SHORT_LE)
        while True:
            answer = self._round_trip(apdu, mask=secret, redact=redact)
            sw1, sw2 = answer.sw1, answer.sw2
            if sw1 == 0x6C and not apdu.is_secret:
                exact = sw2 or MAX_SHORT_LE
                if exact <= le_cap:
                    rounds = self._next_round(rounds, apdu)
                    apdu = CommandApdu(
                        apdu.cla,
                        apdu.ins,
                        apdu.p1,
                        apdu.p2,
                        apdu.data,
                        le=exact,
                        extended=apdu.extended,
                    )
                    continue
                logger.debug("card asked for Le=%d, above the link's limit %d", exact, le_cap)
            total += len(answer.data)
            self._check_size(total, apdu)
            if sw1 != 0x61:
                return self._finish(parts, answer)
            parts.append(answer.data)
            rounds = self._next_round(rounds, apdu)
            apdu = CommandApdu(
                _get_response_cla(apdu.cla),
                GET_RESPONSE_INS,
                0x00,
                0x00,
                le=min(sw2 or MAX_SHORT_LE, get_response_cap),
            )

    @staticmethod
    def _finish(parts: list[bytes], answer: ResponseApdu) -> ResponseApdu:
        if not parts:
            return answer
        parts.append(answer.data)
        return ResponseApdu(b"".join(parts), answer.sw)

    def _check_size(self, total: int, apdu: CommandApdu) -> None:
        if total > self._max_response_size:
            raise ResponseTooLargeError(limit=self._max_response_size, received=total, ins=apdu.ins)

    def _next_round(self, rounds: int, apdu: CommandApdu) -> int:
        if rounds >= self._max_rounds:
            raise ExchangeLoopError(rounds=rounds, ins=apdu.ins)
        return rounds + 1

    def _round_trip(self, apdu: CommandApdu, *, mask: bool, redact: bool) -> ResponseApdu:
        """Put one raw APDU on the wire: count, trace, and decode the answer."""
        raw = apdu.encode()
        tracer = self._tracer
        pending = tracer.command(raw, mask=mask)
        self._apdu_count += 1
        self._bytes_sent += len(raw)
        try:
            reply = self._transport.transmit(raw)
        except TransportError as error:
            tracer.failure(error, pending)
            raise
        except OSError as error:
            tracer.failure(error, pending)
            raise TransportError(f"I/O error during {apdu.name}: {type(error).__name__}") from (
                error
            )
        reply = bytes(reply)
        self._bytes_received += len(reply)
        tracer.response(reply, pending, mask=redact)
        try:
            return ResponseApdu.decode(reply)
        except ApduFormatError as error:
            raise TransportError(
                f"malformed response to {apdu.name}: {len(reply)} byte(s), "
                "at least SW1 SW2 expected"
            ) from error
