"""The revocation policy: ask sources in order, apply the mode, report who answered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from cryptography import x509

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.verify.revocation.errors import (
    CertificateRevokedError,
    RevocationError,
    RevocationUnavailableError,
)
from jpki_sdk.verify.revocation.types import (
    RevocationAnswer,
    RevocationMode,
    RevocationResult,
    RevocationSource,
    RevocationStatus,
)

__all__ = ["RevocationFields", "RevocationPolicy"]

logger = logging.getLogger(__name__)

_GOOD_CACHE_SIZE = 1024


class RevocationFields(NamedTuple):
    """What a revocation look-up needs from a certificate, already read by the caller.

    The certificate verifier reads these from the DER it has just validated and passes them to
    :meth:`RevocationPolicy.evaluate`, so a source that can use them (``check_fields``, e.g.
    :class:`~jpki_sdk.verify.revocation.CrlSource`) does not parse the certificate a second
    time. ``crl_distribution_points`` is the raw cRLDistributionPoints extension value (None
    when absent); ``authority_key_id`` the AKI keyIdentifier (None when absent). They must
    describe the certificate they are passed with.
    """

    serial: int
    authority_key_id: bytes | None
    crl_distribution_points: bytes | None
    is_ca: bool


_FieldsCheck = Callable[
    [x509.Certificate, x509.Certificate, datetime, RevocationFields], RevocationAnswer
]


def _source_name(source: object) -> str:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else type(source).__name__


class RevocationPolicy:
    """Evaluate ``sources`` in order under ``mode``.

    The first GOOD or REVOKED answer decides. REVOKED raises
    :class:`CertificateRevokedError` in every mode. When no source gives a definitive answer,
    mode REQUIRE (the default) raises :class:`RevocationUnavailableError`; SOFT_FAIL returns an
    UNKNOWN result saying so; OFF never asks a source and says so.

    A source that raises a :class:`RevocationError` (other than revoked) or any unexpected
    exception counts as an UNKNOWN attempt whose ``detail`` carries the error code; the next
    source is asked. REQUIRE and SOFT_FAIL need at least one source
    (:class:`~jpki_sdk.errors.ConfigurationError` otherwise: such a policy could never answer).
    """

    __slots__ = ("_asks", "_good_cache", "_mode", "_sources")

    def __init__(
        self,
        mode: RevocationMode | str = RevocationMode.REQUIRE,
        sources: Iterable[RevocationSource] = (),
    ) -> None:
        self._mode = RevocationMode.parse(mode)
        srcs = tuple(sources)
        for src in srcs:
            if not callable(getattr(src, "check", None)):
                raise TypeError(f"{src!r} is not a RevocationSource (no check method)")
        if self._mode is not RevocationMode.OFF and not srcs:
            raise ConfigurationError(
                f"revocation mode {self._mode.value!r} needs at least one source "
                "(a CRL index, OCSP or a platform operator); use mode 'off' to disable checks"
            )
        self._sources = srcs
        # (source, its name, its check_fields method or None), resolved once.
        self._asks: tuple[tuple[RevocationSource, str, _FieldsCheck | None], ...] = tuple(
            (src, _source_name(src), _fields_method(src)) for src in srcs
        )
        # id(answer) -> (answer, result); holds the answer so its id cannot be reused.
        self._good_cache: dict[int, tuple[RevocationAnswer, RevocationResult]] = {}

    # ------------------------------------------------------------------ constructors

    @classmethod
    def off(cls) -> RevocationPolicy:
        """No revocation checking; every result says so."""
        return cls(RevocationMode.OFF)

    @classmethod
    def require(cls, *sources: RevocationSource) -> RevocationPolicy:
        """Hard-fail: a definitive answer from one of ``sources`` is required."""
        return cls(RevocationMode.REQUIRE, sources)

    @classmethod
    def soft_fail(cls, *sources: RevocationSource) -> RevocationPolicy:
        """Soft-fail: no answer is tolerated and reported; REVOKED still fails."""
        return cls(RevocationMode.SOFT_FAIL, sources)

    # ------------------------------------------------------------------ properties

    @property
    def mode(self) -> RevocationMode:
        return self._mode

    @property
    def sources(self) -> tuple[RevocationSource, ...]:
        return self._sources

    def __repr__(self) -> str:
        names = ", ".join(_source_name(s) for s in self._sources)
        return f"RevocationPolicy(mode={self._mode.value!r}, sources=[{names}])"

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        *,
        fields: RevocationFields | None = None,
    ) -> RevocationResult:
        """Decide for ``cert`` (issued by ``issuer``) at ``at``; see the class docstring.

        ``fields``, when given, are ``cert``'s revocation fields already read by the caller
        (see :class:`RevocationFields`); sources with a ``check_fields`` method get them
        instead of reading ``cert`` again, the others are asked with ``check`` as usual.
        """
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be a timezone-aware datetime")
        if self._mode is RevocationMode.OFF:
            return RevocationResult(
                mode=self._mode,
                status=RevocationStatus.UNKNOWN,
                source=None,
                answer=None,
                detail="not checked: revocation mode is off",
            )
        attempts: list[RevocationAnswer] = []
        for src, name, check_fields in self._asks:
            try:
                if fields is not None and check_fields is not None:
                    answer = check_fields(cert, issuer, at, fields)
                else:
                    answer = src.check(cert, issuer, at)
            except CertificateRevokedError:
                raise
            except Exception as exc:  # a faulty third-party source must not crash the verifier
                answer = _failed_answer(name, exc)
            else:
                if type(answer) is not RevocationAnswer and not isinstance(
                    answer, RevocationAnswer
                ):
                    answer = _bad_answer(name, answer)
            if answer.status is RevocationStatus.GOOD:
                if not attempts:  # the first source answered: a cached, shared result
                    cached = self._good_cache.get(id(answer))
                    result = (
                        cached[1]
                        if cached is not None and cached[0] is answer
                        else self._good_result(answer, [answer])
                    )
                else:
                    attempts.append(answer)
                    result = self._good_result(answer, attempts)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("serial %x: %s", cert.serial_number, result.summary)
                return result
            attempts.append(answer)
            if answer.status is RevocationStatus.REVOKED:
                when = answer.revoked_at.isoformat() if answer.revoked_at else "unknown time"
                result = RevocationResult(
                    mode=self._mode,
                    status=RevocationStatus.REVOKED,
                    source=answer.source,
                    answer=answer,
                    detail=f"revoked at {when}, reason {answer.reason or 'unspecified'}, "
                    f"according to {answer.source}",
                    attempts=tuple(attempts),
                )
                logger.info("serial %x: %s", cert.serial_number, result.summary)
                raise CertificateRevokedError(
                    f"certificate serial {cert.serial_number:x} is revoked: {result.detail}",
                    serial=cert.serial_number,
                    source=answer.source,
                    reason=answer.reason,
                    revoked_at=answer.revoked_at,
                    result=result,
                )
        why = "; ".join(f"{a.source}: {a.detail or 'unknown'}" for a in attempts)
        if self._mode is RevocationMode.SOFT_FAIL:
            result = RevocationResult(
                mode=self._mode,
                status=RevocationStatus.UNKNOWN,
                source=None,
                answer=None,
                detail=f"no source answered (soft-fail accepted it): {why}",
                attempts=tuple(attempts),
            )
            logger.warning("serial %x: %s", cert.serial_number, result.summary)
            return result
        result = RevocationResult(
            mode=self._mode,
            status=RevocationStatus.UNKNOWN,
            source=None,
            answer=None,
            detail=f"no source answered: {why}",
            attempts=tuple(attempts),
        )
        logger.warning("serial %x: %s", cert.serial_number, result.summary)
        raise RevocationUnavailableError(
            f"revocation status of serial {cert.serial_number:x} unavailable (mode require): {why}",
            attempts=attempts,
            result=result,
        )

    def _good_result(
        self, answer: RevocationAnswer, attempts: list[RevocationAnswer]
    ) -> RevocationResult:
        """The GOOD result; when the first source answered, the result only depends on that
        (immutable, often shared) answer, so it is cached by the answer's identity."""
        if len(attempts) == 1:
            entry = self._good_cache.get(id(answer))
            if entry is not None and entry[0] is answer:
                return entry[1]
        result = RevocationResult(
            mode=self._mode,
            status=RevocationStatus.GOOD,
            source=answer.source,
            answer=answer,
            detail=f"not revoked according to {answer.source}"
            + (f" ({answer.detail})" if answer.detail else ""),
            attempts=tuple(attempts),
        )
        if len(attempts) == 1:
            if len(self._good_cache) >= _GOOD_CACHE_SIZE:
                self._good_cache.clear()
            self._good_cache[id(answer)] = (answer, result)
        return result


def _failed_answer(name: str, exc: Exception) -> RevocationAnswer:
    """The UNKNOWN attempt recorded for a source that raised."""
    if isinstance(exc, RevocationError):
        logger.info("revocation source %s failed: %s (%s)", name, exc.code, exc)
        return RevocationAnswer(
            status=RevocationStatus.UNKNOWN, source=name, detail=f"{exc.code}: {exc}"
        )
    logger.warning("revocation source %s raised unexpectedly", name, exc_info=exc)
    return RevocationAnswer(
        status=RevocationStatus.UNKNOWN,
        source=name,
        detail=f"source_error: {type(exc).__name__}",
    )


def _bad_answer(name: str, answer: object) -> RevocationAnswer:
    """The UNKNOWN attempt recorded for a source that returned something else."""
    logger.warning("revocation source %s returned %r", name, type(answer))
    return RevocationAnswer(
        status=RevocationStatus.UNKNOWN,
        source=name,
        detail=f"source_error: returned {type(answer).__name__}, not RevocationAnswer",
    )


def _fields_method(source: object) -> _FieldsCheck | None:
    method = getattr(source, "check_fields", None)
    return method if callable(method) else None
