"""Instruction bytes: names for traces and error messages, and which ones carry secrets.

ISO/IEC 7816-4 defines the interindustry instructions (CLA bit 8 clear). With CLA bit 8 set
the class is proprietary; the JPKI card (JICSAP) uses it for COMPUTE DIGITAL SIGNATURE
(``80 2A``), SET PUBLIC IC KEY (``80 A2``), SET SESSION KEY (``80 AE``) and CHANGE KEY
(``80 32``). Unknown proprietary instructions fall back to the interindustry name, which is
what most cards mean by them.
"""

from __future__ import annotations

import logging

__all__ = ["SECRET_INS", "ins_name", "is_secret_command"]

logger = logging.getLogger(__name__)

_INTERINDUSTRY: dict[int, str] = {
    0x04: "DEACTIVATE FILE",
    0x0C: "ERASE RECORD",
    0x0E: "ERASE BINARY",
    0x0F: "ERASE BINARY",
    0x20: "VERIFY",
    0x21: "VERIFY",
    0x22: "MANAGE SECURITY ENVIRONMENT",
    0x24: "CHANGE REFERENCE DATA",
    0x26: "DISABLE VERIFICATION REQUIREMENT",
    0x28: "ENABLE VERIFICATION REQUIREMENT",
    0x2A: "PERFORM SECURITY OPERATION",
    0x2C: "RESET RETRY COUNTER",
    0x2D: "RESET RETRY COUNTER",
    0x44: "ACTIVATE FILE",
    0x46: "GENERATE ASYMMETRIC KEY PAIR",
    0x47: "GENERATE ASYMMETRIC KEY PAIR",
    0x70: "MANAGE CHANNEL",
    0x82: "EXTERNAL AUTHENTICATE",
    0x84: "GET CHALLENGE",
    0x86: "GENERAL AUTHENTICATE",
    0x87: "GENERAL AUTHENTICATE",
    0x88: "INTERNAL AUTHENTICATE",
    0xA0: "SEARCH BINARY",
    0xA1: "SEARCH BINARY",
    0xA2: "SEARCH RECORD",
    0xA4: "SELECT",
    0xB0: "READ BINARY",
    0xB1: "READ BINARY",
    0xB2: "READ RECORD",
    0xB3: "READ RECORD",
    0xC0: "GET RESPONSE",
    0xC2: "ENVELOPE",
    0xC3: "ENVELOPE",
    0xCA: "GET DATA",
    0xCB: "GET DATA",
    0xD0: "WRITE BINARY",
    0xD1: "WRITE BINARY",
    0xD2: "WRITE RECORD",
    0xD6: "UPDATE BINARY",
    0xD7: "UPDATE BINARY",
    0xDA: "PUT DATA",
    0xDB: "PUT DATA",
    0xDC: "UPDATE RECORD",
    0xDD: "UPDATE RECORD",
    0xE0: "CREATE FILE",
    0xE2: "APPEND RECORD",
    0xE4: "DELETE FILE",
    0xE6: "TERMINATE DF",
    0xE8: "TERMINATE EF",
    0xFE: "TERMINATE CARD USAGE",
}

# Proprietary-class instructions of the JPKI card (JICSAP), see jpki-card-spec.md section 3.
_PROPRIETARY: dict[int, str] = {
    0x2A: "COMPUTE DIGITAL SIGNATURE",
    0x32: "CHANGE KEY",
    0xA2: "SET PUBLIC IC KEY",
    0xAE: "SET SESSION KEY",
}

#: Instructions whose data field carries a PIN, password or other reference data, in any
#: class: VERIFY (20/21), CHANGE REFERENCE DATA (24/25), RESET RETRY COUNTER (2C/2D).
SECRET_INS: frozenset[int] = frozenset({0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D})

# Proprietary-class instructions that carry a secret: JICSAP CHANGE KEY (80 32) holds the new
# PIN of the common / resident-registry applications.
_SECRET_PROPRIETARY_INS: frozenset[int] = frozenset({0x32})


def _is_proprietary(cla: int) -> bool:
    return bool(cla & 0x80) and cla != 0xFF


def ins_name(cla: int, ins: int) -> str:
    """Return the readable name of an instruction, e.g. ``SELECT`` for ``00 A4``.

    Unknown instructions are named by their hex value (``INS 5A``), so the result is always
    printable.
    """
    if _is_proprietary(cla) and ins in _PROPRIETARY:
        return _PROPRIETARY[ins]
    name = _INTERINDUSTRY.get(ins)
    if name is not None:
        return name
    return f"INS {ins & 0xFF:02X}"


def is_secret_command(cla: int, ins: int) -> bool:
    """Tell whether a command's data field may hold a PIN or other secret.

    True for VERIFY (INS 20) and CHANGE REFERENCE DATA (INS 24) in every class, their odd
    variants, RESET RETRY COUNTER, and the proprietary CHANGE KEY (``80 32``). Traces and
    reprs never show the data field of such a command.
    """
    if ins in SECRET_INS:
        return True
    return _is_proprietary(cla) and ins in _SECRET_PROPRIETARY_INS
