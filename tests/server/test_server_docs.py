"""docs/relying-party-guide.md stays true: its Python examples compile, its configuration
example is accepted by the service, and every HTTP error code of the service is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jpki_sdk.server import hash_api_key, load_config
from jpki_sdk.server.openapi import ERROR_CODES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "relying-party-guide.md"


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", text, re.DOTALL)


def test_python_examples_compile(guide: str) -> None:
    examples = blocks(guide, "python")
    assert len(examples) >= 5
    for i, source in enumerate(examples):
        compile(source, f"relying-party-guide.md python block {i}", "exec")


def test_configuration_example_is_valid(guide: str, tmp_path: Path) -> None:
    (toml,) = blocks(guide, "toml")
    (tmp_path / "crls").mkdir()
    text = toml.replace("/var/lib/jpki", str(tmp_path)).replace(
        "<the hash printed above>", hash_api_key("jpki_doc-example")
    )
    path = tmp_path / "service.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    assert config.revocation.mode == "require"
    assert config.api_keys[0].origins == ("https://shop.example.jp",)


def test_http_error_codes_are_listed(guide: str) -> None:
    missing = [
        code
        for code in ERROR_CODES
        if code not in ("not_found", "method_not_allowed", "internal_error")
        and f"`{code}`" not in guide
    ]
    assert missing == []
