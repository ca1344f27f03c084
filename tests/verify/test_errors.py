"""The verification error tree: every class under VerificationError with a stable code."""

from __future__ import annotations

import inspect

from jpki_sdk.errors import JpkiError, VerificationError
from jpki_sdk.verify import errors

#: The codes are public API (the HTTP service and the CLI print them): never change one.
STABLE_CODES = {
    "BasicConstraintsError": "end_entity_is_ca",
    "CertificateExpiredError": "certificate_expired",
    "CertificateNotYetValidError": "certificate_not_yet_valid",
    "CertificateParseError": "certificate_malformed",
    "CertificatePolicyError": "certificate_policy_invalid",
    "CertificateProfileError": "certificate_profile_invalid",
    "CertificateSignatureError": "certificate_signature_invalid",
    "CertificateVerificationError": "certificate_invalid",
    "ExtendedKeyUsageError": "extended_key_usage_invalid",
    "ExtensionMalformedError": "extension_malformed",
    "HashAlgorithmNotAllowedError": "hash_algorithm_not_allowed",
    "IdentityAttributeError": "identity_attribute_invalid",
    "IdentityAttributeMalformedError": "identity_attribute_malformed",
    "IdentityAttributeMissingError": "identity_attribute_missing",
    "KeyUsageError": "key_usage_invalid",
    "MissingExtensionError": "required_extension_missing",
    "PathValidationError": "path_validation_failed",
    "SerialNumberError": "serial_number_invalid",
    "SignatureAlgorithmNotAllowedError": "signature_algorithm_not_allowed",
    "SignatureInvalidError": "signature_invalid",
    "SubjectError": "subject_invalid",
    "TestPolicyNotAllowedError": "test_policy_not_allowed",
    "TrustAnchorExpiredError": "trust_anchor_expired",
    "TrustAnchorNotYetValidError": "trust_anchor_not_yet_valid",
    "UnknownCriticalExtensionError": "unknown_critical_extension",
    "UnsupportedKeyError": "unsupported_key",
    "UntrustedIssuerError": "untrusted_issuer",
    "WeakKeyError": "weak_key",
    "WrongCertificateKindError": "wrong_certificate_kind",
}


def _classes() -> dict[str, type[VerificationError]]:
    return {
        name: obj
        for name in errors.__all__
        if inspect.isclass(obj := getattr(errors, name)) and issubclass(obj, Exception)
    }


def test_every_class_is_a_verification_error_with_its_stable_code() -> None:
    classes = _classes()
    assert set(classes) == set(STABLE_CODES)
    for name, cls in classes.items():
        assert issubclass(cls, VerificationError) and issubclass(cls, JpkiError)
        assert cls.__dict__.get("code") == STABLE_CODES[name], name  # own code, not inherited
    assert len(set(STABLE_CODES.values())) == len(STABLE_CODES)


def test_codes_do_not_clash_with_revocation_codes() -> None:
    from jpki_sdk.verify.revocation import errors as revocation_errors

    theirs = {
        getattr(revocation_errors, n).code
        for n in revocation_errors.__all__
        if isinstance(getattr(getattr(revocation_errors, n), "code", None), str)
    }
    assert not theirs & set(STABLE_CODES.values())


def test_data_is_kept_on_the_exception() -> None:
    exc = errors.IdentityAttributeMalformedError("birth_date is malformed", attribute="birth_date")
    assert exc.attribute == "birth_date" and isinstance(exc, errors.IdentityAttributeError)
    weak = errors.WeakKeyError("short", bits=1024)
    assert weak.bits == 1024 and isinstance(weak, errors.CertificateProfileError)
    unknown = errors.UnknownCriticalExtensionError("x", oids=["1.2.3"])
    assert unknown.oids == ("1.2.3",)
    policy = errors.TestPolicyNotAllowedError("x", policies=["1.2"])
    assert policy.policies == ("1.2",) and policy.code == "test_policy_not_allowed"
