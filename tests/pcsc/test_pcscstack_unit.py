"""The stack's own checks: it refuses to start, with a reason, where it cannot work."""

from __future__ import annotations

import os
import subprocess

import pcscstack
import pytest
from pcscstack import SOCKET_ENV, PcscStack, StackUnavailable


@pytest.fixture(autouse=True)
def _private_socket_session(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--reader") is not None:
        pytest.skip("--reader sessions use the system pcscd: no private socket")


def test_not_root_is_a_clear_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(StackUnavailable, match="needs root"):
        PcscStack().start()


def test_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    real_which = pcscstack.shutil.which

    def which(name: str, *args: object, **kwargs: object) -> str | None:
        return None if name == "nsenter" else real_which(name)

    monkeypatch.setattr(pcscstack.shutil, "which", which)
    monkeypatch.setattr(pcscstack.os, "access", lambda path, mode: "nsenter" not in str(path))
    with pytest.raises(StackUnavailable, match="nsenter not found"):
        PcscStack().start()


def test_the_session_talks_to_the_private_socket_only() -> None:
    """The root conftest claimed a private socket before any test could touch PC/SC."""
    path = os.environ[SOCKET_ENV]
    assert path.endswith("/run/pcscd/pcscd.comm")
    assert not path.startswith("/run/")
    assert PcscStack().socket_path.as_posix() == path


def test_a_changed_socket_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOCKET_ENV, "/tmp/elsewhere/pcscd.comm")
    stack = PcscStack()
    monkeypatch.setattr(stack, "socket_path", pcscstack.Path("/tmp/ours/pcscd.comm"))
    with pytest.raises(RuntimeError, match="changed"):
        stack.start()


def test_stale_work_directories_are_pruned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pcscstack.Path
) -> None:
    monkeypatch.setattr(pcscstack.tempfile, "gettempdir", lambda: str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    dirs = {name: tmp_path / f"jpki-pcsc-{name}" for name in ("dead", "alive", "kept", "bad")}
    for path in dirs.values():
        (path / "logs").mkdir(parents=True)
    (dirs["dead"] / "owner.pid").write_text(f"{dead.pid}\n")
    (dirs["alive"] / "owner.pid").write_text(f"{os.getpid()}\n")
    (dirs["bad"] / "owner.pid").write_text("not a pid\n")
    pcscstack._prune_stale_workdirs()
    assert not dirs["dead"].exists()
    assert dirs["alive"].exists() and dirs["kept"].exists() and dirs["bad"].exists()
