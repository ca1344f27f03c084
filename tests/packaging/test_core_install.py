"""A verification-only install has no PC/SC stack and no server extras: the core must work.

Each check runs in a fresh interpreter whose import system refuses the optional packages
(pyscard, the server and redis extras), as a core `pip install jpki-sdk` would have them
missing. A real `pip install .` without extras was also checked by hand (closing note of the
foundation issue); this keeps the property from regressing on every run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "verify" / "data" / "jpki-auth-ee-2023-mynawallet.pem"

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    OPTIONAL = ("smartcard", "starlette", "uvicorn", "httpx", "redis", "tomli")
    class NoOptional(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, NoOptional())
    """
)


def run_core(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_core_packages_import_without_optional_dependencies() -> None:
    result = run_core(
        """
        import jpki_sdk, jpki_sdk.verify, jpki_sdk.verify.revocation
        import jpki_sdk.auth, jpki_sdk.auth.verifier, jpki_sdk.card
        from jpki_sdk.verify import TrustStore
        assert len(TrustStore.default().anchors) == 6
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in OPTIONAL)
        print("loaded optional:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded optional: []" in result.stdout


def test_cli_verifies_a_real_certificate_without_extras() -> None:
    result = run_core(
        """
        sys.argv = ["jpki"] + sys.argv[1:]
        from cli.main import main
        main()
        """,
        "cert",
        "verify",
        str(SAMPLE),
        "--purpose",
        "auth",
        "--at",
        "2025-06-01T00:00:00Z",
        "--revocation",
        "off",
    )
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout
    assert "authca02" in result.stdout


def test_commands_of_a_missing_extra_say_which_extra_to_install() -> None:
    listing = run_core("from cli.main import main; main()", "--help")
    assert listing.returncode == 0, listing.stderr
    assert "needs: pip install 'jpki-sdk[server]'" in listing.stdout
    demo = run_core(
        """
        sys.argv = ["jpki", "demo", "--headless"]
        from cli.main import main
        main()
        """
    )
    assert demo.returncode == 2
    assert "jpki-sdk[server]" in demo.stderr
