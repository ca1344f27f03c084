"""The simulated My Number card: an APDU interpreter over a :class:`CardState`.

:class:`SimulatedCard` is an :class:`apdu.Transport` (use it in-process wherever a reader
connection is expected) and a vpcd card handler (``jpki sim serve`` makes it a card in a real
PC/SC reader). It answers byte for byte as the card spec describes (``jpki-card-spec.md``; §8
is the checklist), and where the spec says "unconfirmed" it follows its
:class:`~simulator.profile.CardProfile`.

Persistence: opened on a state file (:meth:`SimulatedCard.open`, or ``path=``), the card writes
every retry-counter change to the file atomically *before* the response is returned. VERIFY
first writes the decremented counter, then compares, then (on success) writes the restored
counter, as a real card's anti-tearing logic does: killing the process at any point never gives
a PIN try back.

Session state (current DF and EF, verified keys) is volatile: a reset, a power cycle and
selecting another DF clear it, as on the card.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from apdu import (
    ApduCase,
    ApduFormatError,
    CardRemovedError,
    CommandApdu,
    NoCardError,
    TransportError,
)
from simulator.faults import Faults
from simulator.files import (
    FREE,
    Application,
    BinaryFile,
    ElementaryFile,
    KeyFile,
    KeyUse,
    PinFile,
    PinSecret,
    RecordFile,
)
from simulator.profile import CardProfile, Latency, PinLengthPolicy
from simulator.state import CardState, StateFileError

__all__ = ["DEFAULT_CONTACT_ATR", "SimulatedCard"]

logger = logging.getLogger(__name__)

#: The contact ATR GET DATA ``5F51`` reports when the profile is contactless (spec §3.8).
DEFAULT_CONTACT_ATR = bytes.fromhex("3BE000FF8131FE4514")

# Status words (kept as ints: this module answers with raw bytes).
SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_MEMORY_FAILURE = 0x6581
SW_SESSION_KEY_NOT_CONFIGURED = 0x66F1
SW_WRONG_LENGTH = 0x6700
SW_CHANNEL = 0x6881
SW_SM_NOT_SUPPORTED = 0x6882
SW_CHAINING = 0x6884
SW_INCOMPATIBLE_FILE = 0x6981
SW_SECURITY = 0x6982
SW_CONDITIONS = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_SM_REFUSED = 0x69FC
SW_INCORRECT_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_INCORRECT_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_WRONG_P1P2 = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00

_DIGEST_INFO_PREFIXES: tuple[tuple[bytes, hashes.HashAlgorithm], ...] = (
    (bytes.fromhex("3021300906052B0E03021A05000414"), hashes.SHA1()),  # noqa: S303
    (bytes.fromhex("302D300D06096086480165030402040500041C"), hashes.SHA224()),
    (bytes.fromhex("3031300D060960864801650304020105000420"), hashes.SHA256()),
    (bytes.fromhex("3041300D060960864801650304020205000430"), hashes.SHA384()),
    (bytes.fromhex("3051300D060960864801650304020305000440"), hashes.SHA512()),
)
_SHA256_PREFIX = _DIGEST_INFO_PREFIXES[2][0]

# What SET SESSION KEY (80 AE) answers per application (spec §2.4; MC). The text AP's real
# secure messaging is not simulated: with the PIN verified it answers as for a wrong key.
_SESSION_KEY_ANSWER = {"jpki": SW_SECURITY, "juki": SW_SECURITY, "common": 0x66F1}


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class _StateLock:
    """An exclusive ``flock`` on ``<dir>/.<name>.lock``: one simulator process per state file."""

    def __init__(self, path: Path) -> None:
        self.path = path.parent / f".{path.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateFileError(
                f"cannot create the lock file {self.path.name}: {exc.strerror}",
                path=self.path.parent,
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateFileError(
                "the state file is in use by another simulated card (a lock is held on "
                f"{self.path.name})",
                path=self.path.parent,
            ) from None
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


class SimulatedCard:
    """A simulated My Number card, in-process; implements :class:`apdu.Transport`.

    ``SimulatedCard(state)`` runs on an in-memory state; with ``path=`` (or
    :meth:`SimulatedCard.open`) it writes every counter change to that state file before
    answering. ``faults`` injects failures (:class:`simulator.faults.Faults`); ``latency``
    overrides the profile's latency model; ``sleep`` replaces :func:`time.sleep` (tests).

    Transport behaviour: :meth:`close` behaves like a PC/SC disconnect with
    ``SCARD_RESET_CARD`` (the card is reset and the state file unlocked); the next
    :meth:`transmit` reconnects (re-reading the state file). :meth:`power_off` /
    :meth:`power_on` / :meth:`reset` act like the reader's power control; :meth:`remove` /
    :meth:`insert` take the card out of the reader and put it back.
    """

    def __init__(
        self,
        state: CardState,
        *,
        path: str | os.PathLike[str] | None = None,
        faults: Faults | None = None,
        latency: Latency | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._setup(state, None if path is None else Path(path), faults, latency, sleep)
        if self._file_lock is not None and self._path is not None:
            self._file_lock.acquire()
            try:
                self._state.save(self._path)
            except BaseException:
                self._file_lock.release()
                raise

    def _setup(
        self,
        state: CardState,
        path: Path | None,
        faults: Faults | None,
        latency: Latency | None,
        sleep: Callable[[float], None] | None,
    ) -> None:
        if not isinstance(state, CardState):
            raise TypeError("state must be a CardState")
        if faults is not None and not isinstance(faults, Faults):
            raise TypeError("faults must be a simulator.faults.Faults")
        if latency is not None and not isinstance(latency, Latency):
            raise TypeError("latency must be a simulator.profile.Latency")
        self._state = state
        self._path = path
        self._file_lock = None if path is None else _StateLock(path)
        self._mutex = threading.RLock()
        self._removal_fired = False
        self.faults = faults or Faults()
        self.latency = latency if latency is not None else state.profile.latency
        self._sleep = sleep or time.sleep
        self._present = True
        self._powered = True
        self._attached = True
        self.command_count = 0
        self.power_ups = 1
        self._numbers: dict[str, rsa.RSAPrivateNumbers] = {}
        self._reset_session()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        faults: Faults | None = None,
        latency: Latency | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> SimulatedCard:
        """Load the card in the state file at ``path``; it persists every counter change there.

        Raises :class:`simulator.state.StateFileError` for a missing, corrupt or foreign file,
        or one already in use by another simulated card.
        """
        target = Path(path)
        lock = _StateLock(target)
        lock.acquire()
        try:
            state = CardState.load(target)
        except BaseException:
            lock.release()
            raise
        card = cls.__new__(cls)
        card._setup(state, target, faults, latency, sleep)
        card._file_lock = lock
        return card

    # -- properties ----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The injected faults; assigning new ones re-arms a removal fault."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        if not isinstance(value, Faults):
            raise TypeError("faults must be a simulator.faults.Faults")
        with self._mutex:
            self._faults = value
            self._removal_fired = False

    def __repr__(self) -> str:
        where = f"path={self._path.name!r}" if self._path is not None else "in-memory"
        return f"SimulatedCard({self._state.profile.name}, {where})"

    @property
    def state(self) -> CardState:
        """The card's state (counters reflect every command so far)."""
        return self._state

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def profile(self) -> CardProfile:
        return self._state.profile

    @property
    def atr(self) -> bytes:
        return self._state.profile.atr

    @property
    def extended_length(self) -> bool:
        return self._state.profile.extended_length

    @property
    def max_command_data(self) -> int:
        return self._state.profile.max_command_data

    @property
    def max_response_data(self) -> int:
        return self._state.profile.max_response_data

    @property
    def present(self) -> bool:
        """False while the card is out of the reader (a removal fault, or :meth:`remove`)."""
        return self._present

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def current_application(self) -> str:
        """Name of the current DF (``isd`` after power-on)."""
        return self._df.name

    # -- power and presence --------------------------------------------------------------

    def _reset_session(self) -> None:
        self._df: Application = self._state.isd
        self._ef: int | None = None
        self._verified: set[int] = set()

    def reset(self) -> bytes:
        """Warm reset: volatile state cleared, the ISD current. Returns the ATR."""
        with self._mutex:
            self._reset_session()
            self._powered = True
            self.power_ups += 1
            return self.atr

    def power_on(self) -> bytes:
        """Power the card (a cold reset). Returns the ATR."""
        return self.reset()

    def power_off(self) -> None:
        """Cut the power: volatile state is lost; :meth:`transmit` fails until powered again."""
        with self._mutex:
            self._reset_session()
            self._powered = False

    def remove(self) -> None:
        """Take the card out of the reader."""
        with self._mutex:
            self._present = False
            self._powered = False
            self._reset_session()

    def insert(self) -> bytes:
        """Put the card back (powered, fresh session, command count restarted). Returns the ATR.

        A removal fault is re-armed: it fires again at its command number after this
        insertion, so an integrator's test can pull the same card repeatedly.
        """
        with self._mutex:
            self._present = True
            self.command_count = 0
            self._removal_fired = False
            return self.reset()

    def close(self) -> None:
        """Disconnect as PC/SC does with SCARD_RESET_CARD; the next transmit reconnects.

        With a state file, the file is unlocked (another process may use it) and re-read on
        the next transmit. Closing twice is harmless.
        """
        with self._mutex:
            self._reset_session()
            if self._file_lock is not None:
                self._file_lock.release()
            self._attached = False

    def __enter__(self) -> SimulatedCard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _attach(self) -> None:
        if self._attached:
            return
        if self._path is not None and self._file_lock is not None:
            self._file_lock.acquire()
            try:
                self._state = CardState.load(self._path)
            except BaseException:
                self._file_lock.release()
                raise
            self._numbers.clear()
        self._attached = True
        self._reset_session()

    # -- the transport entry point -------------------------------------------------------

    def transmit(self, command: bytes) -> bytes:
        """Process one command APDU and return response data followed by SW1 SW2."""
        if not isinstance(command, (bytes, bytearray, memoryview)):
            raise TypeError("command must be bytes")
        raw = bytes(command)
        with self._mutex:
            if not self._present:
                raise NoCardError("no card in the simulated reader (it was removed)")
            if not self._powered:
                raise TransportError(
                    "the simulated card is not powered (power_on() or reset() first)"
                )
            self._attach()
            self.command_count += 1
            n = self.command_count
            faults = self.faults
            if faults.delay:
                self._sleep(faults.delay)
            removal = faults.remove_at == n and not self._removal_fired
            if removal and not faults.remove_after_execute:
                self._removed_mid_command()
            if faults.max_apdu_size is not None and len(raw) > faults.max_apdu_size:
                response = _sw(SW_WRONG_LENGTH)
            elif n in faults.status_words:
                response = _sw(faults.status_words[n])
            else:
                response = self._process(raw)
            if logger.isEnabledFor(logging.DEBUG):
                # Header and lengths only: the data field may hold a PIN.
                logger.debug(
                    "APDU %s (%d bytes) -> %s (%d data bytes)",
                    raw[:4].hex().upper(),
                    len(raw),
                    response[-2:].hex().upper(),
                    len(response) - 2,
                )
            if removal:
                self._removed_mid_command()
            latency = self.latency
            if latency.round_trip or latency.per_byte:
                self._sleep(latency.round_trip + latency.per_byte * (len(raw) + len(response)))
            return response

    def _removed_mid_command(self) -> None:
        self._removal_fired = True
        self._present = False
        self._powered = False
        self._reset_session()
        logger.info("simulated card removed during command %d (fault)", self.command_count)
        raise CardRemovedError("the card was removed from the simulated reader")

    # -- dispatch ------------------------------------------------------------------------

    def _process(self, raw: bytes) -> bytes:
        try:
            cmd = CommandApdu.decode(raw)
        except ApduFormatError:
            return _sw(SW_WRONG_LENGTH)
        cla = cmd.cla
        if cla <= 0x1F or 0x80 <= cla <= 0x8F:
            channel = cla & 0x03
            secure = (cla >> 2) & 0x03
            chaining = bool(cla & 0x10)
            proprietary = cla >= 0x80
        elif 0x40 <= cla <= 0x7F:
            channel = 4 + (cla & 0x0F)
            secure = 1 if cla & 0x20 else 0
            chaining = bool(cla & 0x10)
            proprietary = False
        else:
            return _sw(SW_CLA)
        if channel:
            return _sw(SW_CHANNEL)
        if secure:
            return _sw(SW_SM_REFUSED if self._df.name == "jpki" else SW_SM_NOT_SUPPORTED)
        if chaining:
            return _sw(SW_CHAINING)
        if cmd.extended and not self._state.profile.extended_length:
            return _sw(SW_WRONG_LENGTH)
        handler = (_PROPRIETARY if proprietary else _INTERINDUSTRY).get(cmd.ins)
        if handler is None:
            return _sw(SW_INS)
        try:
            return handler(self, cmd)
        except StateFileError:
            logger.exception("the simulated card could not write its state file")
            return _sw(SW_MEMORY_FAILURE)

    # -- file helpers ----------------------------------------------------------------------

    def _file_for_p2(self, p2: int) -> tuple[int, ElementaryFile | None] | int:
        """Resolve a key reference in P2: ``80`` current EF, ``80|SFI`` by short id.

        Returns ``(fid, file)`` or a status word.
        """
        if p2 == 0x80:
            if self._ef is None:
                return SW_NO_CURRENT_EF
            return self._ef, self._df.get(self._ef)
        if p2 & 0xE0 == 0x80 and 1 <= p2 & 0x1F <= 0x1E:
            fid = p2 & 0x1F
            ef = self._df.get(fid)
            if ef is None:
                return SW_FILE_NOT_FOUND
            return fid, ef
        return SW_INCORRECT_P1P2

    def _set_df(self, app: Application) -> None:
        if app is not self._df or self._state.profile.reselect_clears_state or app.isd:
            self._verified.clear()
        self._df = app
        self._ef = None

    def _persist(self) -> None:
        if self._path is not None:
            self._state.save(self._path)

    def _store_pin(self, pin: PinFile) -> PinFile:
        self._state.replace_file(self._df.name, pin)
        self._df = self._state.application(self._df.name)
        self._persist()
        return pin

    # -- SELECT (00 A4) --------------------------------------------------------------------

    def _select(self, cmd: CommandApdu) -> bytes:
        p1, p2 = cmd.p1, cmd.p2
        if p1 == 0x00:
            # SELECT MF: 6A86 in the power-on state; "succeeds" doing nothing in an AP (§1).
            return _sw(SW_INCORRECT_P1P2 if self._df.isd else SW_OK)
        if p1 not in (0x02, 0x04):
            return _sw(SW_INCORRECT_P1P2)
        if not cmd.data:
            return _sw(SW_WRONG_LENGTH)
        if p1 == 0x04:
            app = self._state.by_aid(cmd.data)
            if app is None:
                return _sw(SW_FILE_NOT_FOUND)
            if p2 not in (0x00, 0x04, 0x0C):
                return _sw(SW_INCORRECT_P1P2)
            self._set_df(app)
            return _sw(SW_OK)
        if len(cmd.data) != 2:
            return _sw(SW_WRONG_LENGTH)
        fid = int.from_bytes(cmd.data, "big")
        if self._df.get(fid) is None:
            return _sw(SW_FILE_NOT_FOUND)
        if p2 not in (0x00, 0x04, 0x0C):
            return _sw(SW_INCORRECT_P1P2)
        self._ef = fid
        return _sw(SW_OK)

    # -- READ BINARY (00 B0) ---------------------------------------------------------------

    def _read_binary(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            return _sw(SW_WRONG_LENGTH)
        p1, p2 = cmd.p1, cmd.p2
        if p1 & 0x80:
            sfi = p1 & 0x1F
            if p1 & 0x60 or not 1 <= sfi <= 0x1E:
                return _sw(SW_INCORRECT_P1P2)
            ef = self._df.get(sfi)
            if ef is None:
                return _sw(SW_FILE_NOT_FOUND)
            self._ef = sfi
            offset = p2
        else:
            if self._ef is None:
                return _sw(SW_NO_CURRENT_EF)
            ef = self._df.get(self._ef)
            offset = (p1 << 8) | p2
        if not isinstance(ef, BinaryFile):
            return _sw(SW_INCOMPATIBLE_FILE)
        if not ef.read.satisfied(self._verified):
            return _sw(SW_SECURITY)
        if offset >= ef.size:
            return _sw(self._state.profile.read_past_end_sw)
        return _sw(SW_OK, ef.content[offset : offset + cmd.le])

    # -- READ RECORD (00 B2) ---------------------------------------------------------------

    def _read_record(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            return _sw(SW_WRONG_LENGTH)
        sfi, mode = cmd.p2 >> 3, cmd.p2 & 0x07
        if mode in (0x05, 0x06):
            return _sw(SW_FUNCTION_NOT_SUPPORTED)
        if mode != 0x04 or sfi == 0x1F:
            return _sw(SW_INCORRECT_P1P2)
        if sfi:
            ef = self._df.get(sfi)
            if ef is None:
                return _sw(SW_FILE_NOT_FOUND)
            self._ef = sfi
        else:
            if self._ef is None:
                return _sw(SW_NO_CURRENT_EF)
            ef = self._df.get(self._ef)
        if not isinstance(ef, RecordFile):
            return _sw(SW_INCOMPATIBLE_FILE)
        if not ef.read.satisfied(self._verified):
            return _sw(SW_SECURITY)
        if not 1 <= cmd.p1 <= len(ef.records):
            return _sw(SW_RECORD_NOT_FOUND)
        return _sw(SW_OK, ef.records[cmd.p1 - 1][: cmd.le])

    # -- VERIFY (00 20) ----------------------------------------------------------------------

    def _verify(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 != 0x00:
            return _sw(SW_INCORRECT_P1P2)
        found = self._file_for_p2(cmd.p2)
        if isinstance(found, int):
            return _sw(found)
        fid, pin = found
        if not isinstance(pin, PinFile):
            return _sw(SW_INCOMPATIBLE_FILE)
        if cmd.case is ApduCase.CASE_1:
            # The retry query: consumes nothing, never reports "verified" (spec §2.3).
            return _sw(0x63C0 | pin.remaining)
        if cmd.le is not None:
            return _sw(SW_WRONG_LENGTH)
        if pin.blocked:
            return _sw(self._state.profile.blocked_sw)
        value = cmd.data
        if (
            not pin.length_ok(value)
            and self._state.profile.wrong_length_pin is PinLengthPolicy.REJECT
        ):
            return _sw(SW_WRONG_LENGTH)
        # Anti-tearing: the decremented counter is on the card before the comparison.
        left = pin.remaining - 1
        pin = self._store_pin(_with(pin, remaining=left))
        if self.latency.verify:
            self._sleep(self.latency.verify)
        if pin.secret is not None and pin.secret.matches(value):
            self._store_pin(_with(pin, remaining=pin.max_tries))
            self._verified.add(fid)
            return _sw(SW_OK)
        self._verified.discard(fid)
        logger.debug("VERIFY %s/%04X failed, %d tries left", self._df.name, fid, left)
        return _sw(0x63C0 | left)

    # -- CHANGE REFERENCE DATA (00 24) / CHANGE KEY (80 32) ----------------------------------

    def _change_reference_data(self, cmd: CommandApdu) -> bytes:
        return self._change(cmd, ins=0x24, p1=0x01)

    def _change_key(self, cmd: CommandApdu) -> bytes:
        return self._change(cmd, ins=0x32, p1=0x00)

    def _change(self, cmd: CommandApdu, *, ins: int, p1: int) -> bytes:
        if cmd.p1 != p1:
            return _sw(SW_INCORRECT_P1P2)
        found = self._file_for_p2(cmd.p2)
        if isinstance(found, int):
            return _sw(found)
        fid, pin = found
        if not isinstance(pin, PinFile):
            return _sw(SW_INCOMPATIBLE_FILE)
        if cmd.case is not ApduCase.CASE_3:
            return _sw(SW_WRONG_LENGTH)
        if pin.change_ins != ins:
            return _sw(SW_CONDITIONS)
        if pin.blocked:
            return _sw(self._state.profile.blocked_sw)
        if fid not in self._verified:
            return _sw(SW_SECURITY)
        if not pin.length_ok(cmd.data):
            return _sw(SW_WRONG_LENGTH)
        if not pin.charset.accepts(cmd.data):
            return _sw(SW_INCORRECT_DATA)
        self._store_pin(_with(pin, secret=PinSecret.create(cmd.data), remaining=pin.max_tries))
        logger.info("PIN %s/%04X changed", self._df.name, fid)
        return _sw(SW_OK)

    # -- COMPUTE DIGITAL SIGNATURE (80 2A) ---------------------------------------------------

    def _resolve_key(self, p2: int) -> tuple[int, KeyFile] | int:
        if p2 == 0x00:
            if self._df.default_key is None:
                return SW_INCORRECT_P1P2
            return 0, KeyFile(0, "card key", self._df.default_key, FREE)
        found = self._file_for_p2(p2)
        if isinstance(found, int):
            return found
        fid, ef = found
        if not isinstance(ef, KeyFile):
            return SW_INCOMPATIBLE_FILE
        return fid, ef

    def _compute_signature(self, cmd: CommandApdu) -> bytes:
        scheme = cmd.p1
        if scheme > 0x05:
            return _sw(SW_INCORRECT_P1P2)
        found = self._resolve_key(cmd.p2)
        if isinstance(found, int):
            return _sw(found)
        _, key_file = found
        if not key_file.use.satisfied(self._verified):
            return _sw(SW_SECURITY)
        if KeyUse.SIGN not in key_file.operations:
            return _sw(SW_CONDITIONS)
        data = cmd.data
        if not data:
            return _sw(SW_WRONG_LENGTH)
        if cmd.le is not None and cmd.le < 256:
            return _sw(SW_WRONG_LENGTH)
        key = self._state.keys[key_file.key]
        k = (key.key_size + 7) // 8
        if scheme == 0x00:
            if len(data) > k - 11:
                return _sw(SW_CONDITIONS)
            signature = self._pkcs1_sign(key_file.key, key, data)
        elif scheme == 0x01:
            signature = self._pkcs1_sign(key_file.key, key, hashlib.sha256(data).digest())
        elif scheme in (0x02, 0x04) and len(data) != 32:
            return _sw(SW_CONDITIONS)
        elif scheme == 0x02:
            signature = key.sign(data, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        elif scheme == 0x03:
            signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            digest = data if scheme == 0x04 else hashlib.sha256(data).digest()
            signature = key.sign(
                digest,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                utils.Prehashed(hashes.SHA256()),
            )
        if self.latency.rsa:
            self._sleep(self.latency.rsa)
        return _sw(SW_OK, signature)

    def _pkcs1_sign(self, name: str, key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
        """PKCS#1 v1.5 type-1 padding of ``payload`` as given, then the raw RSA private op.

        A payload that is a DigestInfo of a known hash goes through cryptography's signer
        (the same bytes, faster); anything else is padded here and exponentiated with CRT.
        """
        for prefix, algorithm in _DIGEST_INFO_PREFIXES:
            if payload.startswith(prefix) and len(payload) == len(prefix) + algorithm.digest_size:
                return key.sign(
                    payload[len(prefix) :], padding.PKCS1v15(), utils.Prehashed(algorithm)
                )
        k = (key.key_size + 7) // 8
        block = b"\x00\x01" + b"\xff" * (k - 3 - len(payload)) + b"\x00" + payload
        numbers = self._numbers.get(name)
        if numbers is None:
            numbers = key.private_numbers()
            self._numbers[name] = numbers
        return _rsa_private(numbers, block, k)

    # -- INTERNAL AUTHENTICATE (00 88) ------------------------------------------------------

    def _internal_authenticate(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 != 0x00:
            return _sw(SW_INCORRECT_P1P2)
        found = self._resolve_key(cmd.p2) if cmd.p2 != 0x00 else SW_INCORRECT_P1P2
        if isinstance(found, int):
            return _sw(found)
        _, key_file = found
        if not key_file.use.satisfied(self._verified):
            return _sw(SW_SECURITY)
        if KeyUse.INTERNAL_AUTH not in key_file.operations:
            return _sw(SW_CONDITIONS)
        if not cmd.data or len(cmd.data) > 255:
            return _sw(SW_WRONG_LENGTH)
        key = self._state.keys[key_file.key]
        signature = key.sign(cmd.data, padding.PKCS1v15(), hashes.SHA256())
        if self.latency.rsa:
            self._sleep(self.latency.rsa)
        return _sw(SW_OK, signature[: cmd.le] if cmd.le is not None else signature)

    # -- GET CHALLENGE (00 84), GET DATA (00 CA) --------------------------------------------

    def _get_challenge(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 or cmd.p2:
            return _sw(SW_INCORRECT_P1P2)
        if cmd.data or cmd.le is None:
            return _sw(SW_WRONG_LENGTH)
        if cmd.extended:
            return _sw(SW_CONDITIONS)
        return _sw(SW_OK, os.urandom(cmd.le))

    def _get_data(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            return _sw(SW_WRONG_LENGTH)
        tag = (cmd.p1 << 8) | cmd.p2
        profile = self._state.profile
        value: bytes | None = None
        if tag == 0x5F51:
            atr = profile.atr if profile.interface.value == "contact" else DEFAULT_CONTACT_ATR
            value = atr[1:]
        elif self._df.isd and tag == 0x00F0:
            code = self._state.info.get("municipality_code")
            value = code.encode("ascii") if isinstance(code, str) else None
        elif self._df.isd and tag == 0x00F2:
            expiry = self._state.info.get("card_expiry")
            value = expiry.replace("-", "").encode("ascii") if isinstance(expiry, str) else None
        if value is None:
            return _sw(SW_DATA_NOT_FOUND)
        return _sw(SW_OK, value[: cmd.le])

    # -- proprietary commands ---------------------------------------------------------------

    def _set_session_key(self, cmd: CommandApdu) -> bytes:
        name = self._df.name
        if name == "text":
            return _sw(SW_INCORRECT_DATA if 0x0011 in self._verified else SW_SECURITY)
        return _sw(_SESSION_KEY_ANSWER.get(name, SW_SESSION_KEY_NOT_CONFIGURED))

    def _set_public_ic_key(self, cmd: CommandApdu) -> bytes:
        # No terminal CA is simulated; every P1-P2 seen on cards answers 6A86 (MC).
        return _sw(SW_INCORRECT_P1P2)

    def _last_command(self, cmd: CommandApdu) -> bytes:
        if not self._state.profile.accepts_last_command_marker:
            return _sw(SW_WRONG_LENGTH)
        if cmd.p1 or cmd.p2:
            return _sw(SW_INCORRECT_P1P2)
        if cmd.case is not ApduCase.CASE_1:
            return _sw(SW_WRONG_LENGTH)
        return _sw(SW_OK)


def _with(pin: PinFile, **changes: Any) -> PinFile:
    return dataclasses.replace(pin, **changes)


def _rsa_private(numbers: rsa.RSAPrivateNumbers, block: bytes, k: int) -> bytes:
    """m^d mod n with the CRT, for a block that is already padded."""
    m = int.from_bytes(block, "big")
    p, q = numbers.p, numbers.q
    m1 = pow(m % p, numbers.dmp1, p)
    m2 = pow(m % q, numbers.dmq1, q)
    h = (numbers.iqmp * (m1 - m2)) % p
    return (m2 + h * q).to_bytes(k, "big")


_Handler = Callable[[SimulatedCard, CommandApdu], bytes]

_INTERINDUSTRY: dict[int, _Handler] = {
    0xA4: SimulatedCard._select,
    0xB0: SimulatedCard._read_binary,
    0xB2: SimulatedCard._read_record,
    0x20: SimulatedCard._verify,
    0x24: SimulatedCard._change_reference_data,
    0x84: SimulatedCard._get_challenge,
    0x88: SimulatedCard._internal_authenticate,
    0xCA: SimulatedCard._get_data,
}

_PROPRIETARY: dict[int, _Handler] = {
    0x2A: SimulatedCard._compute_signature,
    0x32: SimulatedCard._change_key,
    0xA2: SimulatedCard._set_public_ic_key,
    0xAE: SimulatedCard._set_session_key,
    0xFC: SimulatedCard._last_command,
}
