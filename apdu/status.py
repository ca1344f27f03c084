"""Status words (SW1 SW2) of ISO/IEC 7816-4 and their plain-language descriptions."""

from __future__ import annotations

import logging
from enum import IntEnum

__all__ = ["StatusWord", "describe_sw"]

logger = logging.getLogger(__name__)


class StatusWord(IntEnum):
    """Named status words. Families with a variable SW2 (61xx, 63Cx, 6Cxx) are not members;
    :func:`describe_sw` explains them."""

    SUCCESS = 0x9000

    # Warnings, non-volatile memory unchanged (62xx)
    WARNING_NO_INFORMATION = 0x6200
    PART_OF_DATA_CORRUPTED = 0x6281
    END_OF_FILE_REACHED = 0x6282
    SELECTED_FILE_DEACTIVATED = 0x6283
    FCI_NOT_FORMATTED = 0x6284
    SELECTED_FILE_TERMINATED = 0x6285

    # Warnings, non-volatile memory changed (63xx)
    WARNING_MEMORY_CHANGED = 0x6300
    FILE_FILLED_UP = 0x6381

    # Execution errors (64xx, 65xx)
    EXECUTION_ERROR = 0x6400
    MEMORY_FAILURE = 0x6581

    # Checking errors
    WRONG_LENGTH = 0x6700
    CLA_FUNCTION_NOT_SUPPORTED = 0x6800
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    COMMAND_CHAINING_NOT_SUPPORTED = 0x6884
    COMMAND_NOT_ALLOWED = 0x6900
    COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED_NO_CURRENT_EF = 0x6986
    SM_DATA_OBJECTS_MISSING = 0x6987
    SM_DATA_OBJECTS_INCORRECT = 0x6988
    WRONG_PARAMETERS = 0x6A00
    INCORRECT_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    NC_INCONSISTENT_WITH_TLV = 0x6A85
    INCORRECT_P1P2 = 0x6A86
    NC_INCONSISTENT_WITH_P1P2 = 0x6A87
    DATA_NOT_FOUND = 0x6A88
    FILE_ALREADY_EXISTS = 0x6A89
    DF_NAME_ALREADY_EXISTS = 0x6A8A
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


_DESCRIPTIONS: dict[int, str] = {
    StatusWord.SUCCESS: "success",
    StatusWord.WARNING_NO_INFORMATION: "warning: no information given, memory unchanged",
    StatusWord.PART_OF_DATA_CORRUPTED: "warning: part of returned data may be corrupted",
    StatusWord.END_OF_FILE_REACHED: "warning: end of file reached before reading Le bytes",
    StatusWord.SELECTED_FILE_DEACTIVATED: "warning: selected file deactivated",
    StatusWord.FCI_NOT_FORMATTED: "warning: file control information not formatted",
    StatusWord.SELECTED_FILE_TERMINATED: "warning: selected file in termination state",
    StatusWord.WARNING_MEMORY_CHANGED: "warning: no information given, memory changed",
    StatusWord.FILE_FILLED_UP: "warning: file filled up by the last write",
    StatusWord.EXECUTION_ERROR: "execution error, memory unchanged",
    StatusWord.MEMORY_FAILURE: "memory failure",
    StatusWord.WRONG_LENGTH: "wrong length",
    StatusWord.CLA_FUNCTION_NOT_SUPPORTED: "function in CLA not supported",
    StatusWord.LOGICAL_CHANNEL_NOT_SUPPORTED: "logical channel not supported",
    StatusWord.SECURE_MESSAGING_NOT_SUPPORTED: "secure messaging not supported",
    StatusWord.LAST_COMMAND_OF_CHAIN_EXPECTED: "last command of the chain expected",
    StatusWord.COMMAND_CHAINING_NOT_SUPPORTED: "command chaining not supported",
    StatusWord.COMMAND_NOT_ALLOWED: "command not allowed",
    StatusWord.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE: (
        "command incompatible with file structure"
    ),
    StatusWord.SECURITY_STATUS_NOT_SATISFIED: "security status not satisfied",
    StatusWord.AUTHENTICATION_METHOD_BLOCKED: "authentication method blocked",
    StatusWord.REFERENCE_DATA_NOT_USABLE: "reference data not usable (blocked)",
    StatusWord.CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    StatusWord.COMMAND_NOT_ALLOWED_NO_CURRENT_EF: "command not allowed (no current EF)",
    StatusWord.SM_DATA_OBJECTS_MISSING: "expected secure messaging data objects missing",
    StatusWord.SM_DATA_OBJECTS_INCORRECT: "incorrect secure messaging data objects",
    StatusWord.WRONG_PARAMETERS: "wrong parameters",
    StatusWord.INCORRECT_DATA: "incorrect parameters in the data field",
    StatusWord.FUNCTION_NOT_SUPPORTED: "function not supported",
    StatusWord.FILE_NOT_FOUND: "file or application not found",
    StatusWord.RECORD_NOT_FOUND: "record not found",
    StatusWord.NOT_ENOUGH_MEMORY: "not enough memory space in the file",
    StatusWord.NC_INCONSISTENT_WITH_TLV: "Nc inconsistent with TLV structure",
    StatusWord.INCORRECT_P1P2: "incorrect parameters P1-P2",
    StatusWord.NC_INCONSISTENT_WITH_P1P2: "Nc inconsistent with parameters P1-P2",
    StatusWord.DATA_NOT_FOUND: "referenced data or reference data not found",
    StatusWord.FILE_ALREADY_EXISTS: "file already exists",
    StatusWord.DF_NAME_ALREADY_EXISTS: "DF name already exists",
    StatusWord.WRONG_P1P2: "wrong parameters P1-P2 (offset outside the EF)",
    StatusWord.INS_NOT_SUPPORTED: "instruction not supported or invalid",
    StatusWord.CLA_NOT_SUPPORTED: "class not supported",
    StatusWord.NO_PRECISE_DIAGNOSIS: "no precise diagnosis",
}

_SW1_FAMILIES: dict[int, str] = {
    0x62: "warning, memory unchanged",
    0x63: "warning, memory changed",
    0x64: "execution error, memory unchanged",
    0x65: "execution error, memory changed",
    0x66: "security-related error",
    0x67: "wrong length",
    0x68: "function in CLA not supported",
    0x69: "command not allowed",
    0x6A: "wrong parameters P1-P2",
    0x6B: "wrong parameters P1-P2",
    0x6D: "instruction not supported",
    0x6E: "class not supported",
    0x6F: "no precise diagnosis",
    0x90: "success with proprietary information",
}


def describe_sw(sw: int) -> str:
    """Describe a status word in plain English, e.g. ``describe_sw(0x6A82)``.

    Handles the variable families: ``61xx`` (xx more bytes available; 00 means 256 or more),
    ``6Cxx`` (wrong Le, the exact length is xx), ``63Cx`` (verification failed, x tries left).
    Unknown status words are described by their SW1 family. Raises ``ValueError`` when *sw*
    is not a two-byte value.
    """
    if isinstance(sw, bool) or not isinstance(sw, int):
        raise TypeError(f"status word must be an int, not {type(sw).__name__}")
    if not 0 <= sw <= 0xFFFF:
        raise ValueError(f"status word must be 0x0000..0xFFFF, got {sw:#x}")
    known = _DESCRIPTIONS.get(sw)
    if known is not None:
        return known
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x61:
        if sw2 == 0:
            return "256 or more response bytes available (GET RESPONSE)"
        noun = "byte" if sw2 == 1 else "bytes"
        return f"{sw2} more response {noun} available (GET RESPONSE)"
    if sw1 == 0x6C:
        exact = 256 if sw2 == 0 else sw2
        return f"wrong Le; the exact length is {exact}"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        tries = sw2 & 0x0F
        if tries == 0:
            return "verification failed, no tries left"
        return f"verification failed, {tries} {'try' if tries == 1 else 'tries'} left"
    family = _SW1_FAMILIES.get(sw1)
    if family is not None:
        return f"{family} (SW2 {sw2:02X})"
    return "unknown status word"
