"""The OpenAPI 3.1 document of the service, written by hand to match :mod:`jpki_sdk.server.app`.

Tests check it against the application: every route is documented, every documented status
is one the handlers produce, and schema-driven fuzzing (schemathesis) finds no undocumented
answer and no server error.
"""

from __future__ import annotations

from typing import Any

from jpki_sdk import __version__

#: Error codes of the HTTP layer (verification failures add the verifier's codes).
ERROR_CODES = {
    "malformed_json": "the body is not valid JSON (400)",
    "invalid_request": "the JSON body does not have the documented shape (400)",
    "unauthorized": "no API key, or not a valid one (401)",
    "origin_not_allowed": "the API key may not act for this origin (403)",
    "not_found": "no such endpoint (404)",
    "method_not_allowed": "the endpoint does not take this method (405)",
    "payload_too_large": "the body is larger than the configured limit (413)",
    "unsupported_media_type": "the body is not application/json (415)",
    "challenge_store_unavailable": "the challenge store cannot be reached (503)",
    "revocation_unavailable": "no revocation source answered in mode require (503)",
    "internal_error": "a bug: reported in the service log (500)",
}

#: Verification codes answered with 422 (see docs/token-format-v1.md, section 5).
VERIFICATION_CODES = (
    "malformed_token",
    "token_too_large",
    "unsupported_token_format",
    "unsupported_algorithm",
    "purpose_mismatch",
    "certificate_malformed",
    "extension_malformed",
    "wrong_certificate_kind",
    "key_usage_invalid",
    "extended_key_usage_invalid",
    "certificate_policy_invalid",
    "test_policy_not_allowed",
    "unknown_critical_extension",
    "required_extension_missing",
    "end_entity_is_ca",
    "serial_number_invalid",
    "weak_key",
    "unsupported_key",
    "signature_algorithm_not_allowed",
    "subject_invalid",
    "identity_attribute_invalid",
    "identity_attribute_missing",
    "identity_attribute_malformed",
    "untrusted_issuer",
    "certificate_signature_invalid",
    "trust_anchor_expired",
    "trust_anchor_not_yet_valid",
    "path_validation_failed",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_revoked",
    "signature_invalid",
    "hash_algorithm_not_allowed",
    "challenge_unknown",
    "challenge_expired",
    "challenge_replayed",
    "challenge_mismatch",
)

_STEPS = [
    "token",
    "certificate",
    "purpose",
    "path",
    "validity",
    "revocation",
    "signature",
    "challenge",
]


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def openapi_document(*, max_body_bytes: int, ttl_seconds: int) -> dict[str, Any]:
    """The document for a service with these limits."""
    origin = {
        "type": "string",
        "minLength": 1,
        "maxLength": 512,
        "description": "A web origin of the calling API key (https://host[:port]). "
        "Optional when the key has exactly one origin.",
        "examples": ["https://rp.example"],
    }
    session_id = {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "The relying party's own session id. A challenge issued with one is "
        "accepted only together with the same session_id. Stored only as a hash.",
    }
    purpose = {"type": "string", "enum": ["login", "identity"]}
    timestamp = {"type": "string", "format": "date-time"}
    revocation = {
        "type": "object",
        "required": ["mode", "status", "source"],
        "additionalProperties": False,
        "properties": {
            "mode": {"type": "string", "enum": ["require", "soft-fail", "off"]},
            "status": {"type": "string", "enum": ["good", "unknown"]},
            "source": {"type": ["string", "null"]},
        },
    }
    certificate = {
        "type": "object",
        "required": [
            "serial",
            "issuer",
            "issuer_generation",
            "test_root",
            "not_before",
            "not_after",
        ],
        "additionalProperties": False,
        "properties": {
            "serial": {"type": "string", "description": "Upper-case hex."},
            "issuer": {"type": "string", "description": "Root name, e.g. authca02."},
            "issuer_generation": {"type": "integer"},
            "test_root": {"type": "boolean"},
            "not_before": timestamp,
            "not_after": timestamp,
        },
    }
    common_result = {
        "verified": {"const": True},
        "certificate": {"$ref": "#/components/schemas/Certificate"},
        "test_root": {
            "type": "boolean",
            "description": "True when a TEST root (opted in) was used: never a real card.",
        },
        "revocation": {"$ref": "#/components/schemas/Revocation"},
        "origin": {"type": "string"},
        "verified_at": timestamp,
    }
    common_required = [
        "verified",
        "purpose",
        "certificate",
        "test_root",
        "revocation",
        "origin",
        "verified_at",
    ]
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "Stable machine-readable code: "
                            + ", ".join(sorted(ERROR_CODES))
                            + "; verification failures (422): "
                            + ", ".join(VERIFICATION_CODES),
                        },
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "step": {"type": ["string", "null"], "enum": [*_STEPS, None]},
                    },
                }
            },
        },
        "ChallengeRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "purpose": {**purpose, "default": "login"},
                "origin": origin,
                "session_id": session_id,
                "ttl_seconds": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": ttl_seconds,
                    "description": "A shorter time to live than the service's default.",
                },
            },
        },
        "Challenge": {
            "type": "object",
            "required": [
                "nonce",
                "purpose",
                "origin",
                "issued_at",
                "expires_at",
                "ttl_seconds",
                "session_bound",
            ],
            "additionalProperties": False,
            "properties": {
                "nonce": {
                    "type": "string",
                    "minLength": 44,
                    "maxLength": 44,
                    "description": "32 random bytes, standard base64: hand it to the user's "
                    "side, which signs SHA-256(origin) || SHA-256(nonce).",
                },
                "purpose": purpose,
                "origin": {"type": "string"},
                "issued_at": timestamp,
                "expires_at": timestamp,
                "ttl_seconds": {"type": "integer"},
                "session_bound": {"type": "boolean"},
            },
        },
        "Token": {
            "type": "object",
            "description": "Token format v1 (docs/token-format-v1.md).",
            "required": ["format", "purpose", "algorithm", "certificate", "signature", "nonce"],
            "additionalProperties": False,
            "properties": {
                "format": {"type": "string", "const": "jpki-auth-token/v1"},
                "purpose": purpose,
                "algorithm": {"type": "string", "enum": ["RS256", "RS384", "RS512"]},
                "certificate": {"type": "string", "description": "base64 DER"},
                "signature": {"type": "string", "description": "base64"},
                "nonce": {"type": "string", "description": "base64 of the 32-byte nonce"},
            },
        },
        "VerifyRequest": {
            "type": "object",
            "required": ["token"],
            "additionalProperties": False,
            "properties": {
                "token": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Token"},
                        {"type": "string", "description": "The token's JSON text."},
                    ]
                },
                "origin": origin,
                "session_id": session_id,
                "purpose": {
                    **purpose,
                    "description": "The flow being run: a token for the other purpose is "
                    "refused (purpose_mismatch).",
                },
                "attributes": {
                    "type": "array",
                    "maxItems": 16,
                    "items": {"type": "string"},
                    "description": "Identity attributes to release: name, name_substitutes, "
                    "address, address_substitutes, birth_date, sex, age_over_N (N 0..150).",
                    "examples": [["name", "age_over_20"]],
                },
            },
        },
        "Revocation": revocation,
        "Certificate": certificate,
        "LoginResult": {
            "type": "object",
            "required": [*common_required, "subject"],
            "additionalProperties": False,
            "properties": {
                **common_result,
                "purpose": {"const": "login"},
                "subject": {
                    "type": "object",
                    "required": [
                        "key",
                        "serial",
                        "cn",
                        "municipality_code",
                        "issuer",
                        "issuer_generation",
                    ],
                    "additionalProperties": False,
                    "properties": {
                        "key": {
                            "type": "string",
                            "description": "Stable account key for this card's certificate.",
                        },
                        "serial": {"type": "string"},
                        "cn": {"type": "string"},
                        "municipality_code": {"type": ["string", "null"]},
                        "issuer": {"type": "string"},
                        "issuer_generation": {"type": "integer"},
                    },
                },
            },
        },
        "IdentityResult": {
            "type": "object",
            "required": [*common_required, "attributes"],
            "additionalProperties": False,
            "properties": {
                **common_result,
                "purpose": {"const": "identity"},
                "attributes": {
                    "type": "object",
                    "description": "Only the requested attributes: strings, and booleans for "
                    "age_over_N.",
                    "additionalProperties": {"type": ["string", "boolean"]},
                },
            },
        },
        "Health": {
            "type": "object",
            "required": [
                "status",
                "version",
                "challenge_store",
                "revocation_mode",
                "test_roots_trusted",
            ],
            "additionalProperties": False,
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "version": {"type": "string"},
                "challenge_store": {"type": "string", "enum": ["ok", "unavailable"]},
                "revocation_mode": {"type": "string", "enum": ["require", "soft-fail", "off"]},
                "test_roots_trusted": {"type": "boolean"},
            },
        },
    }
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    common_errors = {
        "400": _error_response("malformed_json or invalid_request"),
        "401": _error_response("unauthorized: missing or invalid API key"),
        "403": _error_response("origin_not_allowed"),
        "413": _error_response(f"payload_too_large: the body exceeds {max_body_bytes} bytes"),
        "415": _error_response("unsupported_media_type: send application/json"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jpki-sdk authentication service",
            "version": __version__,
            "description": "Log in and verify identity with Japan's My Number card (JPKI). "
            "Issue a challenge, have the user's side sign it with the card, verify the token.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/v1/challenges": {
                "post": {
                    "operationId": "createChallenge",
                    "summary": "Issue a challenge (32-byte nonce, single use).",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ChallengeRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("Challenge", "The new challenge."),
                        **common_errors,
                        "503": _error_response("challenge_store_unavailable"),
                    },
                }
            },
            "/v1/verify": {
                "post": {
                    "operationId": "verifyToken",
                    "summary": "Verify a login or identity token and consume its challenge.",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/VerifyRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Verified.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/LoginResult"},
                                            {"$ref": "#/components/schemas/IdentityResult"},
                                        ]
                                    }
                                }
                            },
                        },
                        **common_errors,
                        "422": _error_response(
                            "The token was refused; error.code says why and error.step at "
                            "which step."
                        ),
                        "503": _error_response(
                            "challenge_store_unavailable or revocation_unavailable: retry later"
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and challenge-store reachability.",
                    "security": [],
                    "responses": {
                        "200": _json("Health", "Healthy."),
                        "503": _json("Health", "The challenge store is unreachable."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format 0.0.4).",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Metrics.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


__all__ = ["ERROR_CODES", "VERIFICATION_CODES", "openapi_document"]
