"""`jpki cert ...`: verify and inspect JPKI certificates.

- ``jpki cert verify CERT --purpose auth|sign``: full verification (profile, path to a pinned
  J-LIS root, revocation) at the present time or ``--at``. Exit status 0 only when valid; the
  result names the root used (and whether it is a test root) and the revocation answer.
  Revocation sources: ``--crl DIR|FILE|URL`` (ingested for this run), ``--crl-index [DIR]``
  (the persisted index of ``jpki crl ingest``), ``--ocsp [URL]``; mode ``--revocation``.
- ``jpki cert show CERT``: what the certificate is (kind, subject, issuer, validity, usages,
  issuing root, identity attributes masked unless ``--reveal``). Reading a certificate from a
  card is a separate source (``describe_certificate`` takes any certificate).

Thin: the work is done by :mod:`jpki_sdk.verify`. Exit codes: 0 valid / shown, 1 invalid,
2 usage error (click), 3 configuration or input problem (unreadable file, no revocation source
for the chosen mode, bad test roots).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jpki_sdk.errors import ConfigurationError, JpkiError, VerificationError
from jpki_sdk.verify import (
    CertificateFacts,
    CertificateVerifier,
    FixedClock,
    IdentityAttributeError,
    Purpose,
    RevocationMode,
    RevocationPolicy,
    RevocationSource,
    SystemClock,
    TrustAnchor,
    TrustStore,
    ValidatedCertificate,
    classify,
    identity_from_certificate,
    load_certificate,
)
from jpki_sdk.verify.revocation import (
    CrlIndex,
    CrlSource,
    OcspSource,
    default_index_directory,
    ingest_sources,
)
from jpki_sdk.verify.subject import (
    municipality_code_from_cn,
    read_crl_distribution_point,
    serial_hex,
)
from jpki_sdk.verify.trust import verifies

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INVALID",
    "cert",
    "describe_certificate",
    "load_certificate_file",
    "render_description",
]

logger = logging.getLogger(__name__)

EXIT_INVALID = 1
EXIT_CONFIG = 3
_MAX_FILE = 1 << 20
_KIND_LABEL = {
    Purpose.AUTH: "利用者証明用 (user authentication)",
    Purpose.SIGN: "署名用 (signature)",
}


class _ConfigProblem(click.ClickException):
    exit_code = EXIT_CONFIG


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _emit(ctx: click.Context, data: dict[str, Any], lines: list[str]) -> None:
    if _json_wanted(ctx):
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(lines))


def load_certificate_file(path: Path) -> x509.Certificate:
    """One certificate from a PEM or DER file; :class:`click.ClickException` (exit 3) if not."""
    try:
        if path.stat().st_size > _MAX_FILE:
            raise _ConfigProblem(f"{path}: too large for a certificate file")
        data = path.read_bytes()
    except OSError as exc:
        raise _ConfigProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        der, parsed = load_certificate(data)
        return parsed if parsed is not None else x509.load_der_x509_certificate(der)
    except (VerificationError, ValueError) as exc:
        raise _ConfigProblem(f"{path}: not a certificate ({exc})") from None


def _parse_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 time (e.g. 2025-06-01T09:00:00+09:00)", param_hint="--at"
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter(
            "give a timezone (e.g. 2025-06-01T00:00:00Z or +09:00)", param_hint="--at"
        )
    return value.astimezone(dt.timezone.utc)


def _trust(test_roots: Path | None) -> TrustStore:
    try:
        trust = TrustStore.default()
        if test_roots is not None:
            trust = trust.with_test_roots(test_roots)
    except ConfigurationError as exc:
        raise _ConfigProblem(str(exc)) from None
    return trust


def _revocation(
    ctx: click.Context,
    *,
    mode: str,
    crl_specs: tuple[str, ...],
    crl_index: str | None,
    ocsp: str | None,
    trust: TrustStore,
    at: dt.datetime | None,
) -> RevocationPolicy:
    revocation_mode = RevocationMode.parse(mode)
    sources: list[RevocationSource] = []
    if revocation_mode is not RevocationMode.OFF:
        if crl_index is not None:
            sources.append(_persisted_crl_source(crl_index, trust))
        if crl_specs:
            sources.append(_crl_source(ctx, crl_specs, trust, at))
        if ocsp is not None:
            sources.append(OcspSource(url=None if ocsp == "aia" else ocsp))
    try:
        return RevocationPolicy(revocation_mode, sources)
    except ConfigurationError as exc:
        raise _ConfigProblem(
            f"{exc} (give --crl DIR|FILE|URL and/or --ocsp [URL], or --revocation off)"
        ) from None


def _persisted_crl_source(directory: str, trust: TrustStore) -> RevocationSource:
    path = Path(directory) if directory else default_index_directory()
    if not path.is_dir():
        raise _ConfigProblem(f"no CRL index at {path} (create it with `jpki crl ingest`)")
    try:
        index = CrlIndex(path, trusted_roots=[a.certificate for a in trust])
    except (OSError, JpkiError) as exc:
        raise _ConfigProblem(f"cannot load the CRL index at {path}: {exc}") from None
    for name, problem in index.load_errors:
        click.echo(f"warning: CRL index partition {name} not loaded: {problem}", err=True)
    return CrlSource(index, name="crl-index")


def _crl_source(
    ctx: click.Context, specs: tuple[str, ...], trust: TrustStore, at: dt.datetime | None
) -> RevocationSource:
    clock = FixedClock(at) if at is not None else SystemClock()
    index = CrlIndex(trusted_roots=[a.certificate for a in trust], clock=clock)
    for outcome in ingest_sources(index, specs):
        if outcome.error is not None:
            # Not fatal: the certificate's partition may be elsewhere; a missing partition is
            # reported by the revocation result (and fails in mode require).
            click.echo(
                f"warning: CRL {outcome.source} not used: {outcome.error.code}: {outcome.error}",
                err=True,
            )
    logger.info("CRL index: %d partition(s) loaded", len(index))
    return CrlSource(index)


def _anchor_line(anchor: TrustAnchor, expired_now: bool) -> str:
    kind = "TEST root (explicitly trusted)" if anchor.is_test else "J-LIS root"
    expired = ", expired since " + anchor.not_after.isoformat() if expired_now else ""
    return (
        f"{anchor.name} ({kind}, {anchor.hierarchy.value} generation {anchor.generation}{expired})"
    )


def _valid_lines(result: ValidatedCertificate, reveal: bool) -> list[str]:
    lines = [
        f"VALID: {result.purpose.value} certificate, serial {serial_hex(result.serial)}",
        f"  root:         {_anchor_line(result.anchor, result.anchor_expired)}",
        f"  validated at: {result.validated_at.isoformat()}",
        f"  valid:        {result.not_before.isoformat()} .. {result.not_after.isoformat()}",
        f"  revocation:   {result.revocation.summary}",
    ]
    if result.subject is not None:
        code = result.subject.municipality_code or "unknown"
        lines.append(f"  subject:      CN={result.subject.cn} (municipality {code})")
    if result.identity is not None:
        lines += _identity_lines(result.identity.to_dict(reveal=reveal))
    if result.is_test_root:
        lines.append("  note: a TEST root was used; never accept this in production")
    return lines


def _identity_lines(identity: dict[str, Any]) -> list[str]:
    lines = ["  identity:"]
    for key in ("name", "address", "birth_date", "sex"):
        lines.append(f"    {key + ':':12}{identity[key]}")
    if identity["name_has_substitutes"] or identity["address_has_substitutes"]:
        lines.append("    (substitute characters are used)")
    for extra in identity["extra"]:
        lines.append(f"    extra {extra['kind']} {extra['type_id'] or ''}: {extra['value']}")
    return lines


@click.group("cert")
def cert() -> None:
    """Verify and inspect JPKI (My Number card) certificates."""


@cert.command("verify")
@click.argument(
    "certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="CERT"
)
@click.option(
    "--purpose",
    type=click.Choice(["auth", "sign"]),
    required=True,
    help="auth: 利用者証明用 (login); sign: 署名用 (identity).",
)
@click.option("--at", "at_text", metavar="ISO-TIME", help="Validation time (default: now).")
@click.option(
    "--revocation",
    "mode",
    type=click.Choice(["require", "soft-fail", "off"]),
    default="require",
    show_default=True,
    help="require: a revocation answer is needed; soft-fail: tolerated if none; off: skip.",
)
@click.option(
    "--crl",
    "crl_specs",
    multiple=True,
    metavar="DIR|FILE|URL",
    help="CRLs to check against (repeatable).",
)
@click.option(
    "--crl-index",
    "crl_index",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DIR]",
    help="Use the persisted CRL index kept by `jpki crl ingest` "
    "(default directory: $JPKI_CRL_INDEX or ~/.local/share/jpki/crl-index).",
)
@click.option(
    "--ocsp",
    is_flag=False,
    flag_value="aia",
    default=None,
    metavar="[URL]",
    help="Ask OCSP: the given responder, or the certificate's AIA URL without a value.",
)
@click.option(
    "--test-roots",
    type=click.Path(exists=True, path_type=Path),
    help="Also trust the test roots in this directory or file (testing only).",
)
@click.option("--allow-sha1", is_flag=True, help="Accept sha1WithRSAEncryption certificates.")
@click.option("--reveal", is_flag=True, help="Show identity attributes unmasked (sign).")
@click.pass_context
def verify(
    ctx: click.Context,
    *,
    certificate: Path,
    purpose: str,
    at_text: str | None,
    mode: str,
    crl_specs: tuple[str, ...],
    crl_index: str | None,
    ocsp: str | None,
    test_roots: Path | None,
    allow_sha1: bool,
    reveal: bool,
) -> None:
    """Verify CERT for a purpose; exit 0 only when it is valid."""
    at = _parse_at(at_text)
    cert_obj = load_certificate_file(certificate)
    trust = _trust(test_roots)
    policy = _revocation(
        ctx,
        mode=mode,
        crl_specs=crl_specs,
        crl_index=crl_index,
        ocsp=ocsp,
        trust=trust,
        at=at,
    )
    verifier = CertificateVerifier(trust, revocation=policy, allow_sha1=allow_sha1)
    try:
        result = verifier.verify(cert_obj, Purpose.parse(purpose), at=at)
    except VerificationError as exc:
        code = str(getattr(exc, "code", "verification_error"))
        data: dict[str, Any] = {
            "valid": False,
            "purpose": purpose,
            "error": {"code": code, "type": type(exc).__name__, "message": str(exc)},
            "revocation_mode": policy.mode.value,
        }
        revocation = getattr(exc, "result", None)
        if revocation is not None and hasattr(revocation, "to_dict"):
            data["revocation"] = revocation.to_dict()
        anchor = getattr(exc, "anchor", None)
        if isinstance(anchor, TrustAnchor):
            data["root"] = anchor.to_dict()
        _emit(ctx, data, [f"INVALID: {code}: {exc}"])
        ctx.exit(EXIT_INVALID)
    except JpkiError as exc:  # pragma: no cover - configuration problems surface earlier
        raise _ConfigProblem(str(exc)) from None
    _emit(ctx, result.to_dict(reveal=reveal), _valid_lines(result, reveal))


@cert.command("show")
@click.argument(
    "certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="CERT"
)
@click.option("--reveal", is_flag=True, help="Show identity attributes unmasked.")
@click.option(
    "--test-roots",
    type=click.Path(exists=True, path_type=Path),
    help="Also look for the issuer among these test roots.",
)
@click.pass_context
def show(ctx: click.Context, *, certificate: Path, reveal: bool, test_roots: Path | None) -> None:
    """Show what CERT is: kind, subject, issuer, validity, usages, identity (masked)."""
    cert_obj = load_certificate_file(certificate)
    description = describe_certificate(cert_obj, trust=_trust(test_roots), reveal=reveal)
    _emit(ctx, description, render_description(description))


def describe_certificate(
    certificate: x509.Certificate, *, trust: TrustStore, reveal: bool = False
) -> dict[str, Any]:
    """A JSON-ready description of any JPKI certificate (no verification verdict)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    out: dict[str, Any] = {
        "serial": serial_hex(certificate.serial_number),
        "fingerprint_sha256": hashlib.sha256(der).hexdigest(),
        "subject": _safe(lambda: certificate.subject.rfc4514_string()),  # noqa: PLW0108
        "issuer": _safe(lambda: certificate.issuer.rfc4514_string()),  # noqa: PLW0108
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "signature_algorithm": _safe(lambda: certificate.signature_algorithm_oid._name),
        "key": _key_text(certificate),
    }
    try:
        facts = CertificateFacts.from_der(der)
    except VerificationError as exc:
        out["error"] = {"code": getattr(exc, "code", "?"), "message": str(exc)}
        return out
    kind = classify(facts)
    out["kind"] = kind.value if kind is not None else None
    out["key_usage"] = sorted(facts.key_usage) if facts.key_usage is not None else None
    out["extended_key_usage"] = list(facts.ext_key_usage or ())
    out["policies"] = list(facts.policies or ())
    out["critical_extensions"] = list(facts.critical_oids)
    dp_ext = facts.extension("2.5.29.31")
    dp = read_crl_distribution_point(dp_ext.value) if dp_ext is not None else None
    out["crl_distribution_point"] = (
        {"prefecture": dp.prefecture, "municipality": dp.municipality} if dp else None
    )
    out["root"] = _root_description(certificate, facts, trust)
    if kind is Purpose.AUTH or facts.extension("2.5.29.17") is None:
        cns = [str(a.value) for a in _safe_cn(certificate)]
        cn = cns[0] if len(cns) == 1 else None
        out["cn"] = cn
        out["municipality_code"] = municipality_code_from_cn(cn) if cn else None
    if facts.extension("2.5.29.17") is not None:
        try:
            out["identity"] = identity_from_certificate(certificate, facts).to_dict(reveal=reveal)
        except IdentityAttributeError as exc:
            out["identity"] = None
            out["identity_error"] = {"code": exc.code, "attribute": exc.attribute}
    return out


def _safe(read: Any) -> str | None:
    try:
        return str(read())
    except (ValueError, TypeError, AttributeError):
        return None


def _safe_cn(certificate: x509.Certificate) -> list[x509.NameAttribute[Any]]:
    try:
        return list(certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME))
    except (ValueError, TypeError):
        return []


def _key_text(certificate: x509.Certificate) -> str:
    try:
        key = certificate.public_key()
    except Exception:
        return "unreadable"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits, e={key.public_numbers().e}"
    return type(key).__name__


def _root_description(
    certificate: x509.Certificate, facts: CertificateFacts, trust: TrustStore
) -> dict[str, Any] | None:
    try:
        candidates = trust.candidates(certificate, facts)
    except VerificationError:
        return None
    for anchor in candidates:
        if verifies(certificate, anchor):
            return {**anchor.to_dict(), "signature_verifies": True}
    return {**candidates[0].to_dict(), "signature_verifies": False}


def render_description(description: dict[str, Any]) -> list[str]:
    """Human-readable lines for :func:`describe_certificate`'s output."""
    kind = description.get("kind")
    label = _KIND_LABEL.get(Purpose(kind), kind) if kind else "not a JPKI end-entity certificate"
    lines = [
        f"kind:        {label}",
        f"serial:      {description['serial']}",
        f"subject:     {description['subject']}",
        f"issuer:      {description['issuer']}",
        f"validity:    {description['not_before']} .. {description['not_after']}",
        f"key:         {description['key']}, signed {description['signature_algorithm']}",
        f"sha256:      {description['fingerprint_sha256']}",
    ]
    if "error" in description:
        error = description["error"]
        lines.append(f"error:       {error['code']}: {error['message']}")
        return lines
    lines += [
        f"key usage:   {', '.join(description['key_usage'] or ['none'])}",
        f"ext. usage:  {', '.join(description['extended_key_usage']) or 'none'}",
        f"policies:    {', '.join(description['policies']) or 'none'}",
    ]
    dp = description.get("crl_distribution_point")
    if dp:
        lines.append(f"CRL DP:      {dp['prefecture']} / {dp['municipality']}")
    if description.get("cn"):
        code = description.get("municipality_code") or "unknown"
        lines.append(f"CN:          {description['cn']} (municipality {code})")
    root = description.get("root")
    if root is None:
        lines.append("root:        no trusted root matches its issuer")
    else:
        status = "signature verifies" if root["signature_verifies"] else "SIGNATURE DOES NOT VERIFY"
        test = "TEST root" if root["is_test"] else "J-LIS root"
        lines.append(
            f"root:        {root['name']} ({test}, generation {root['generation']}): {status}"
        )
    if "identity" in description:
        if description["identity"] is None:
            err = description.get("identity_error", {})
            lines.append(f"identity:    unreadable ({err.get('code')}: {err.get('attribute')})")
        else:
            lines += _identity_lines(description["identity"])
    lines.append("(use `jpki cert verify` for a verdict)")
    return lines
