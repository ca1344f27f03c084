"""The Transport protocol: what every card connection offers the exchange layer.

A transport moves one raw command APDU to the card and brings back the raw response
(data followed by SW1 SW2). It knows nothing of GET RESPONSE, chaining or status words:
that is the exchange layer's job (:mod:`apdu.exchange`). Physical readers
(:mod:`apdu.pcsc`) and the software card (:mod:`simulator`) both implement it, so any code
written against a Transport runs unchanged on either.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """A connection to one card.

    Capability flags let the exchange layer pick the cheapest APDU form the link allows:

    - ``extended_length``: the link carries extended Lc/Le APDUs end to end.
    - ``max_command_data``: the largest Lc the link carries in one APDU (longer data is
      sent with command chaining).
    - ``max_response_data``: the largest response data the link returns in one APDU
      (a larger Le is not sent).
    """

    @property
    def extended_length(self) -> bool: ...

    @property
    def max_command_data(self) -> int: ...

    @property
    def max_response_data(self) -> int: ...

    def transmit(self, command: bytes) -> bytes:
        """Send one encoded command APDU; return the response data followed by SW1 SW2."""
        ...

    def close(self) -> None:
        """Release the connection. Closing twice is harmless."""
        ...

    def __enter__(self) -> Transport: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
