"""A simulated card's state and its state file.

A card is a :class:`CardState`: its profile, applications (DFs, EFs, PIN keys with their retry
counters, key references), the RSA private keys, and informational data (the identity it was
made for, serial numbers). It is saved as one JSON document::

    {"format": "jpki-sdk/simulated-card", "version": 1, "sha256": "...", "card": {...}}

``sha256`` is the digest of the ``card`` member in canonical form (sorted keys, no spaces,
UTF-8); a mismatch means the file was damaged or edited by hand. Remove the ``sha256`` member
to accept a deliberate manual edit.

:meth:`CardState.save` writes atomically: a temporary file in the same directory, ``fsync``,
``rename`` over the old file, ``fsync`` of the directory. A crash leaves either the old or the
new file, never a mix. The file holds private keys: it is created with mode 0600.

PIN values are kept as salted SHA-256 digests (:class:`simulator.files.PinSecret`), never in
clear; nothing here prints them.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.files import (
    Access,
    Application,
    BinaryFile,
    Charset,
    ElementaryFile,
    InternalFile,
    KeyFile,
    KeyUse,
    PinFile,
    PinSecret,
    RecordFile,
)
from simulator.profile import CardProfile, ProfileError

__all__ = [
    "FORMAT_ID",
    "FORMAT_VERSION",
    "CardState",
    "StateFileError",
    "atomic_write",
]

logger = logging.getLogger(__name__)

FORMAT_ID = "jpki-sdk/simulated-card"
FORMAT_VERSION = 1
#: A state file is a few tens of kB; anything much larger is not one.
MAX_STATE_FILE_SIZE = 16 * 1024 * 1024


def _check_rsa_arithmetic(name: str, key: rsa.RSAPrivateKey) -> None:
    """Cheap consistency of an RSA private key (no primality tests): ValueError if broken.

    n = p*q, d inverts e modulo lcm(p-1, q-1), and the CRT values match: enough to catch a
    damaged or mismatched key that OpenSSL's skipped validation would have refused.
    """
    numbers = key.private_numbers()
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    p, q, d = numbers.p, numbers.q, numbers.d
    ok = (
        p > 1
        and q > 1
        and p * q == n
        and e > 1
        and e % 2 == 1
        and d * e % math.lcm(p - 1, q - 1) == 1
        and numbers.dmp1 == d % (p - 1)
        and numbers.dmq1 == d % (q - 1)
        and numbers.iqmp * q % p == 1
    )
    if not ok:
        raise ValueError(f"key {name!r} is not a consistent RSA key")


class StateFileError(Exception):
    """A state file that cannot be read or written: missing, corrupt, foreign, truncated.

    The message says which file and what is wrong; the file itself is never modified by a
    failed load.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp, fsync, rename, fsync dir)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"{what} is not valid base64") from None


def _hex_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} is not hex") from None


def _fid(value: object, what: str) -> int:
    if not isinstance(value, str) or len(value) != 4:
        raise ValueError(f"{what} must be a 4-digit hex file identifier")
    try:
        return int(value, 16)
    except ValueError:
        raise ValueError(f"{what} must be a 4-digit hex file identifier") from None


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    return value


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    return value


# -- files <-> JSON ---------------------------------------------------------------------------


def _file_to_json(ef: ElementaryFile) -> dict[str, Any]:
    if isinstance(ef, BinaryFile):
        return {
            "kind": "binary",
            "label": ef.label,
            "read": ef.read.to_json(),
            "object_length": ef.object_length,
            "content": _b64(ef.content),
        }
    if isinstance(ef, RecordFile):
        return {
            "kind": "record",
            "label": ef.label,
            "read": ef.read.to_json(),
            "records": [_b64(r) for r in ef.records],
        }
    if isinstance(ef, PinFile):
        secret = (
            None
            if ef.secret is None
            else {"salt": ef.secret.salt.hex(), "sha256": ef.secret.digest.hex()}
        )
        return {
            "kind": "pin",
            "label": ef.label,
            "max_tries": ef.max_tries,
            "remaining": ef.remaining,
            "min_length": ef.min_length,
            "max_length": ef.max_length,
            "charset": ef.charset.value,
            "change_ins": None if ef.change_ins is None else f"{ef.change_ins:02X}",
            "secret": secret,
        }
    if isinstance(ef, KeyFile):
        return {
            "kind": "key",
            "label": ef.label,
            "key": ef.key,
            "use": ef.use.to_json(),
            "operations": sorted(op.value for op in ef.operations),
        }
    return {"kind": "internal", "label": ef.label}


def _file_from_json(fid: int, data: Mapping[str, Any]) -> ElementaryFile:
    kind = data.get("kind")
    label = _str(data.get("label", ""), "label")
    if kind == "binary":
        return BinaryFile(
            fid,
            _unb64(data.get("content"), "content"),
            read=Access.from_json(data.get("read")),
            label=label,
            object_length=_int(data.get("object_length"), "object_length"),
        )
    if kind == "record":
        records = data.get("records")
        if not isinstance(records, list):
            raise ValueError("records must be a list")
        return RecordFile(
            fid,
            tuple(_unb64(r, "record") for r in records),
            read=Access.from_json(data.get("read")),
            label=label,
        )
    if kind == "pin":
        raw_secret = data.get("secret")
        secret: PinSecret | None
        if raw_secret is None:
            secret = None
        else:
            secret_obj = _obj(raw_secret, "secret")
            secret = PinSecret(
                _hex_bytes(secret_obj.get("salt"), "salt"),
                _hex_bytes(secret_obj.get("sha256"), "sha256"),
            )
            if len(secret.digest) != 32:
                raise ValueError("PIN digest must be 32 bytes")
        change = data.get("change_ins")
        return PinFile(
            fid,
            label,
            max_tries=_int(data.get("max_tries"), "max_tries"),
            remaining=_int(data.get("remaining"), "remaining"),
            min_length=_int(data.get("min_length"), "min_length"),
            max_length=_int(data.get("max_length"), "max_length"),
            charset=Charset(_str(data.get("charset"), "charset")),
            secret=secret,
            change_ins=None if change is None else int(_str(change, "change_ins"), 16),
        )
    if kind == "key":
        ops = data.get("operations")
        if not isinstance(ops, list):
            raise ValueError("operations must be a list")
        return KeyFile(
            fid,
            label,
            key=_str(data.get("key"), "key"),
            use=Access.from_json(data.get("use")),
            operations=frozenset(KeyUse(_str(o, "operation")) for o in ops),
        )
    if kind == "internal":
        return InternalFile(fid, label)
    raise ValueError(f"unknown file kind {kind!r}")


def _app_to_json(app: Application) -> dict[str, Any]:
    return {
        "name": app.name,
        "label": app.label,
        "aid": app.aid.hex().upper(),
        "isd": app.isd,
        "default_key": app.default_key,
        "files": {f"{fid:04X}": _file_to_json(ef) for fid, ef in sorted(app.files.items())},
    }


def _app_from_json(data: Mapping[str, Any]) -> Application:
    files_raw = _obj(data.get("files"), "files")
    files: dict[int, ElementaryFile] = {}
    for key, value in files_raw.items():
        fid = _fid(key, "file identifier")
        try:
            files[fid] = _file_from_json(fid, _obj(value, f"file {key}"))
        except ValueError as exc:
            raise ValueError(f"file {key}: {exc}") from None
    default = data.get("default_key")
    isd = data.get("isd", False)
    if not isinstance(isd, bool):
        raise ValueError("isd must be true or false")
    return Application(
        name=_str(data.get("name"), "application name"),
        label=_str(data.get("label", ""), "application label"),
        aid=_hex_bytes(data.get("aid"), "aid"),
        files=files,
        default_key=None if default is None else _str(default, "default_key"),
        isd=isd,
    )


# -- the state ---------------------------------------------------------------------------------


class CardState:
    """Everything a simulated card holds. Mutated only through its methods.

    ``applications`` are in selection order (the ISD first); ``keys`` maps key names used by
    :class:`simulator.files.KeyFile` to RSA private keys; ``identity`` (personal data, never
    logged) and ``info`` are informational: the card's behaviour depends only on the files.
    """

    def __init__(
        self,
        *,
        profile: CardProfile,
        applications: list[Application],
        keys: Mapping[str, rsa.RSAPrivateKey],
        identity: Mapping[str, str] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(profile, CardProfile):
            raise TypeError("profile must be a CardProfile")
        self.profile = profile
        self._apps: dict[bytes, Application] = {}
        self._by_name: dict[str, bytes] = {}
        for app in applications:
            if app.aid in self._apps:
                raise ValueError(f"two applications share the AID {app.aid.hex()}")
            if app.name in self._by_name:
                raise ValueError(f"two applications are called {app.name!r}")
            self._apps[app.aid] = app
            self._by_name[app.name] = app.aid
        if sum(1 for app in applications if app.isd) != 1:
            raise ValueError("a card has exactly one ISD (the power-on state)")
        self.keys: dict[str, rsa.RSAPrivateKey] = dict(keys)
        for app in applications:
            if app.default_key is not None and app.default_key not in self.keys:
                raise ValueError(f"{app.name} names the missing key {app.default_key!r}")
            for ef in app.files.values():
                if isinstance(ef, KeyFile) and ef.key not in self.keys:
                    raise ValueError(f"{app.name}/{ef.fid:04X} names the missing key {ef.key!r}")
        self.identity: dict[str, str] | None = None if identity is None else dict(identity)
        self.info: dict[str, Any] = dict(info or {})
        self._key_pem: dict[str, str] = {}
        self._app_json: dict[str, tuple[Application, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return (
            f"CardState(profile={self.profile.name!r}, "
            f"applications={[app.name for app in self._apps.values()]})"
        )

    # -- lookups ------------------------------------------------------------------------

    @property
    def applications(self) -> tuple[Application, ...]:
        return tuple(self._apps.values())

    @property
    def isd(self) -> Application:
        return next(app for app in self._apps.values() if app.isd)

    def by_aid(self, aid: bytes) -> Application | None:
        return self._apps.get(aid)

    def application(self, name: str) -> Application:
        try:
            return self._apps[self._by_name[name]]
        except KeyError:
            raise KeyError(f"no application called {name!r}") from None

    def has_application(self, name: str) -> bool:
        return name in self._by_name

    def pin(self, app_name: str, fid: int) -> PinFile:
        ef = self.application(app_name).get(fid)
        if not isinstance(ef, PinFile):
            raise KeyError(f"{app_name}/{fid:04X} is not a PIN key")
        return ef

    def iter_pins(self) -> Iterator[tuple[Application, PinFile]]:
        for app in self._apps.values():
            for ef in app.files.values():
                if isinstance(ef, PinFile):
                    yield app, ef

    # -- mutation -----------------------------------------------------------------------

    def replace_file(self, app_name: str, ef: ElementaryFile) -> None:
        """Put ``ef`` in place of the application's file with the same identifier."""
        app = self.application(app_name)
        if isinstance(ef, KeyFile) and ef.key not in self.keys:
            raise ValueError(f"key {ef.key!r} is not on the card")
        self._apps[app.aid] = app.with_file(ef)

    def set_pin(self, app_name: str, fid: int, value: str | bytes) -> None:
        """Give a PIN key a new value and a full counter (provisioning and test setup)."""
        raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
        pin = self.pin(app_name, fid)
        if not pin.format_ok(raw):
            raise ValueError(
                f"{pin.label or f'{fid:04X}'} needs {pin.min_length}..{pin.max_length} "
                f"characters ({pin.charset.value})"
            )
        self.replace_file(
            app_name,
            _replace_pin(pin, secret=PinSecret.create(raw), remaining=pin.max_tries),
        )

    def set_tries(self, app_name: str, fid: int, remaining: int) -> None:
        """Set a PIN key's remaining tries (0 blocks it)."""
        pin = self.pin(app_name, fid)
        if isinstance(remaining, bool) or not isinstance(remaining, int):
            raise TypeError("remaining must be an int")
        if not 0 <= remaining <= pin.max_tries:
            raise ValueError(f"remaining tries must be 0..{pin.max_tries}")
        self.replace_file(app_name, _replace_pin(pin, remaining=remaining))

    def copy(self) -> CardState:
        """An independent copy (applications and keys are immutable and shared)."""
        other = CardState(
            profile=self.profile,
            applications=list(self._apps.values()),
            keys=self.keys,
            identity=self.identity,
            info=copy.deepcopy(self.info),
        )
        other._key_pem = dict(self._key_pem)
        other._app_json = dict(self._app_json)
        return other

    # -- serialisation ------------------------------------------------------------------

    def _keys_json(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, key in sorted(self.keys.items()):
            pem = self._key_pem.get(name)
            if pem is None:
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode("ascii")
                self._key_pem[name] = pem
            out[name] = pem
        return out

    def _apps_json(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for app in self._apps.values():
            cached = self._app_json.get(app.name)
            if cached is None or cached[0] is not app:
                cached = (app, _app_to_json(app))
                self._app_json[app.name] = cached
            out.append(cached[1])
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``card`` member of the state file."""
        return {
            "profile": self.profile.to_dict(),
            "identity": self.identity,
            "info": self.info,
            "keys": self._keys_json(),
            "applications": self._apps_json(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, validate_keys: bool = True) -> CardState:
        """Inverse of :meth:`to_dict`; raises ValueError on anything malformed.

        ``validate_keys=False`` skips OpenSSL's full RSA key check (primality tests of p and
        q: about 0.1 s per key, and a card has four) but still checks the key's arithmetic
        (see :func:`_check_rsa_arithmetic`). :meth:`loads` uses it for files whose checksum
        matches, i.e. written by this simulator from keys it had generated or validated.
        """
        data = _obj(data, "card")
        try:
            profile = CardProfile.from_dict(_obj(data.get("profile"), "profile"))
        except ProfileError as exc:
            raise ValueError(f"profile: {exc}") from None
        keys_raw = _obj(data.get("keys"), "keys")
        keys: dict[str, rsa.RSAPrivateKey] = {}
        for name, pem in keys_raw.items():
            try:
                key = serialization.load_pem_private_key(
                    _str(pem, f"key {name}").encode("ascii"),
                    password=None,
                    unsafe_skip_rsa_key_validation=not validate_keys,
                )
            except (ValueError, TypeError, UnicodeEncodeError):
                raise ValueError(f"key {name!r} is not a PEM private key") from None
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"key {name!r} is not an RSA key")
            if not validate_keys:
                _check_rsa_arithmetic(name, key)
            keys[name] = key
        apps_raw = data.get("applications")
        if not isinstance(apps_raw, list) or not apps_raw:
            raise ValueError("applications must be a non-empty list")
        apps = []
        for i, raw in enumerate(apps_raw):
            try:
                apps.append(_app_from_json(_obj(raw, "application")))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"application #{i + 1}: {exc}") from None
        identity = data.get("identity")
        if identity is not None:
            identity = _obj(identity, "identity")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in identity.items()):
                raise ValueError("identity values must be strings")
        info = _obj(data.get("info", {}), "info")
        state = cls(profile=profile, applications=apps, keys=keys, identity=identity, info=info)
        state._key_pem = {name: str(pem) for name, pem in keys_raw.items()}
        return state

    def dumps(self) -> bytes:
        """The state file's bytes."""
        card = self.to_dict()
        canonical = json.dumps(
            card, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        document = {
            "format": FORMAT_ID,
            "version": FORMAT_VERSION,
            "sha256": hashlib.sha256(canonical).hexdigest(),
            "card": card,
        }
        return (
            json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")
            + b"\n"
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state file atomically (temp file, fsync, rename, fsync of the directory)."""
        try:
            atomic_write(path, self.dumps())
        except OSError as exc:
            raise StateFileError(f"cannot write the state file: {exc.strerror}", path=path) from exc

    @classmethod
    def loads(cls, raw: bytes, *, path: str | os.PathLike[str] | None = None) -> CardState:
        """Parse state-file bytes; any problem raises :class:`StateFileError`."""
        if not raw.strip():
            raise StateFileError("the file is empty (truncated?)", path=path)
        try:
            document = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise StateFileError(
                "not a simulated card state file (not UTF-8 text)", path=path
            ) from None
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"not a simulated card state file, or truncated (invalid JSON at byte {exc.pos})",
                path=path,
            ) from None
        if not isinstance(document, dict) or "format" not in document:
            raise StateFileError("not a simulated card state file (no 'format' member)", path=path)
        if document["format"] != FORMAT_ID:
            raise StateFileError(
                f"foreign file: format {str(document['format'])[:60]!r}, expected {FORMAT_ID!r}",
                path=path,
            )
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise StateFileError(
                f"state file version {version!r} is not supported (this simulator reads "
                f"version {FORMAT_VERSION})",
                path=path,
            )
        card = document.get("card")
        if not isinstance(card, dict):
            raise StateFileError("corrupt or truncated: no 'card' object", path=path)
        expected = document.get("sha256")
        checksum_ok = False
        if expected is not None:
            canonical = json.dumps(
                card, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
            if hashlib.sha256(canonical).hexdigest() != expected:
                raise StateFileError(
                    "corrupt: the checksum does not match its content (changed outside the "
                    "simulator; remove the 'sha256' member to accept a deliberate edit)",
                    path=path,
                )
            checksum_ok = True
        try:
            # Loading runs on every reconnect: a file with a matching checksum was written by
            # this simulator from keys it had already generated or fully validated, so only
            # the cheap arithmetic check runs; a hand-edited file (no checksum) gets OpenSSL's
            # full key validation.
            return cls.from_dict(card, validate_keys=not checksum_ok)
        except (ValueError, TypeError, KeyError) as exc:
            raise StateFileError(f"corrupt card data: {exc}", path=path) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CardState:
        """Read a state file; a missing, corrupt or foreign file raises :class:`StateFileError`."""
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_STATE_FILE_SIZE + 1)
        except FileNotFoundError:
            raise StateFileError("no such state file", path=path) from None
        except IsADirectoryError:
            raise StateFileError("is a directory, not a state file", path=path) from None
        except OSError as exc:
            raise StateFileError(f"cannot read the state file: {exc.strerror}", path=path) from exc
        if len(raw) > MAX_STATE_FILE_SIZE:
            raise StateFileError("too large to be a simulated card state file", path=path)
        return cls.loads(raw, path=path)


def _replace_pin(pin: PinFile, **changes: Any) -> PinFile:
    return dataclasses.replace(pin, **changes)
