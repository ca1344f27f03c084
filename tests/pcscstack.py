"""A real, private PC/SC stack for tests and benchmarks: pcscd + vsmartcard's vpcd driver.

Layout (see docs/pcsc-test-stack.md):

- a *holder* process (``unshare --net --mount``) owns a private network namespace (loopback
  only, so vpcd's listener, which binds to all interfaces, is reachable from nowhere else)
  and a private mount namespace in which
  - pcscd's IPC directory's parent (``/run``) is a bind mount of ``<workdir>/run``, so pcscd's
    socket and pid file land in our directory instead of the system's ``/run/pcscd``;
  - the USB driver directory is hidden behind an empty tmpfs, so this pcscd only has the vpcd
    readers and never claims a physical reader that the system pcscd serves;
- pcscd runs in both namespaces (``nsenter``) with ``--config <workdir>/reader.conf.d``;
- card-side processes run in the network namespace only (they see the normal file system);
- clients (pyscard in the pytest process, ``opensc-tool``) stay in the normal namespaces and
  reach pcscd through its UNIX socket, named by ``PCSCLITE_CSOCK_NAME``, which libpcsclite
  honours (pcscd 1.9.9 itself does not: hence the bind mount).

libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, so the variable must be set before
anything in the process talks PC/SC: :func:`claim_private_socket` does that (the root conftest
calls it at configure time) and every later stack in the process uses that directory.

Only processes started here are stopped here, by PID and process group. Each is started through
``setpriv --pdeathsig KILL`` so nothing outlives a test run that is killed. The kernel sends
that signal when the *thread* that forked the process ends, not the process: a card started
from a short-lived thread (a ``threading.Timer`` inserting a card "later") was killed as soon
as that thread finished, whenever setpriv had armed the signal first (a race that load
decides). So every process is forked by one spawner thread that lives as long as the stack.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import logging
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
VPCD_DEFAULT_PORT = 35963
VPCD_FRIENDLY_NAME = "Virtual PCD"
#: vsmartcard 3.3 registers this many readers (slots) per reader.conf entry, on consecutive
#: ports from CHANNELID; the stack checks the number against what pcscd actually lists.
VPCD_SLOTS = 2

_PREFIX = "jpki-pcsc-"
_OWNER = "owner.pid"
_state: dict[str, Path] = {}


class StackUnavailable(Exception):  # noqa: N818 (used as a skip reason)
    """This machine cannot run the stack (not root, a tool missing, no namespaces)."""


def claim_private_socket(workdir: Path | None = None) -> Path:
    """Point this process's PC/SC clients at a private pcscd socket; return the work directory.

    Idempotent: the first call picks the directory, later calls return it. Work directories
    left behind by sessions that died (their owner process is gone) are removed first.
    """
    if "workdir" in _state:
        return _state["workdir"]
    if workdir is None:
        _prune_stale_workdirs()
        workdir = Path(tempfile.mkdtemp(prefix=_PREFIX))
    workdir.mkdir(parents=True, exist_ok=True)
    ipcdir = _pcscd_build_paths().get("ipcdir", "/run/pcscd")
    socket_path = workdir / "run" / Path(ipcdir).name / "pcscd.comm"
    if len(str(socket_path).encode()) >= 108:
        raise StackUnavailable(f"socket path too long for AF_UNIX: {socket_path}")
    (workdir / _OWNER).write_text(f"{os.getpid()}\n")
    os.environ[SOCKET_ENV] = str(socket_path)
    _state["workdir"] = workdir
    return workdir


def claimed_workdir() -> Path | None:
    """The work directory claimed by :func:`claim_private_socket`, if any."""
    return _state.get("workdir")


def release_private_socket(*, keep: bool = False) -> Path | None:
    """End of session: remove the work directory, or keep it (``keep`` or JPKI_PCSC_KEEP=1)
    for its logs and return its path. A kept directory is never pruned."""
    workdir = _state.pop("workdir", None)
    if workdir is None:
        return None
    if keep or os.environ.get("JPKI_PCSC_KEEP"):
        (workdir / _OWNER).unlink(missing_ok=True)
        return workdir
    shutil.rmtree(workdir, ignore_errors=True)
    return None


def _prune_stale_workdirs() -> None:
    """Remove work directories whose owner process is gone (a session that was killed)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            pid = int((path / _OWNER).read_text())
        except (OSError, ValueError):
            continue  # kept on purpose, or not one of ours
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pcscd_build_paths() -> dict[str, str]:
    """usbdropdir/ipcdir/configdir as compiled into pcscd (``pcscd -v``)."""
    pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
    try:
        out = subprocess.run(
            [pcscd, "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(re.findall(r"\b(usbdropdir|ipcdir|configdir)=(\S+)", out))


def _which(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StackUnavailable(f"{name} not found (apt-get install the package that has it)")


def _find_vpcd_library(usbdropdir: str) -> Path:
    conf = Path(_pcscd_build_paths().get("configdir", "/etc/reader.conf.d")) / "vpcd"
    if conf.is_file():
        match = re.search(r"^\s*LIBPATH\s+(\S+)", conf.read_text(errors="replace"), re.M)
        if match and Path(match.group(1)).is_file():
            return Path(match.group(1))
    found = sorted(Path(usbdropdir).glob("**/libifdvpcd.so*"))
    if found:
        return found[0]
    raise StackUnavailable("vpcd driver (libifdvpcd.so) not found: apt-get install vsmartcard-vpcd")


class PcscStack:
    """pcscd + vpcd in private namespaces. Use :meth:`start` / :meth:`close` (or ``with``)."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        vpcd_port: int = VPCD_DEFAULT_PORT,
        debug: bool = True,
        startup_timeout: float = 20.0,
    ) -> None:
        self.workdir = claim_private_socket(workdir)
        self.vpcd_port = vpcd_port
        self.debug = debug
        self.startup_timeout = startup_timeout
        self.socket_path = Path(os.environ[SOCKET_ENV])
        self.logdir = self.workdir / "logs"
        self._holder: subprocess.Popen[bytes] | None = None
        self._pcscd: subprocess.Popen[bytes] | None = None
        self._cards: list[subprocess.Popen[bytes]] = []
        self._log_numbers = itertools.count(1)  # numbers the card logs in start order
        self._readers: list[str] = []
        self._setpriv: list[str] = []
        self._nsenter = ""
        self._pcscd_bin = ""
        self._log_handles: list[IO[bytes]] = []
        self._spawner: ThreadPoolExecutor | None = None
        self._spawner_lock = threading.Lock()

    # -- public API used by other tests ----------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Environment for client subprocesses (opensc-tool, pkcs11-tool, the CLI)."""
        env = dict(os.environ)
        env[SOCKET_ENV] = str(self.socket_path)
        return env

    @property
    def readers(self) -> list[str]:
        """The vpcd reader names pcscd lists, in port order."""
        return list(self._readers)

    def reader_name(self, index: int = 0) -> str:
        """Name of the vpcd reader whose card connects to :meth:`port` (``index``)."""
        return self._readers[index]

    def port(self, index: int = 0) -> int:
        """TCP port (inside the namespace) of reader ``index``'s card side."""
        if not 0 <= index < len(self._readers):
            raise IndexError(f"the stack has {len(self._readers)} readers, not {index + 1}")
        return self.vpcd_port + index

    @property
    def pcscd_pid(self) -> int | None:
        return self._pcscd.pid if self._pcscd is not None else None

    @property
    def netns_path(self) -> str:
        assert self._holder is not None, "stack not started"
        return f"/proc/{self._holder.pid}/ns/net"

    def start_card(
        self,
        argv: Sequence[str],
        *,
        name: str = "card",
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the stack's network namespace (where vpcd listens).

        stdout/stderr go to ``<workdir>/logs/<name>-<n>.log``. The process gets its own process
        group; stop it with :meth:`stop_card` (or kill it: that is a card removal).
        """
        self._require_running()
        log = self._open_log(f"{next(self._log_numbers):03d}-{name}")
        full_env = dict(os.environ)
        # card processes built on simulator.vpcd log their connections with timestamps, so a
        # card that is slow to reach vpcd can be told from one vpcd did not accept
        full_env.setdefault("JPKI_SIM_LOG_LEVEL", "DEBUG")
        if env:
            full_env.update(env)
        proc = self._popen(
            [*self._setpriv, self._nsenter, f"--net={self.netns_path}", "--", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        self._cards.append(proc)
        logger.info("card process %d: %s", proc.pid, shlex.join(argv))
        return proc

    def stop_card(
        self, proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 10.0
    ) -> int | None:
        """Stop a process started by :meth:`start_card` (its whole process group).

        Stopping a card that was already stopped returns its exit code again.
        """
        if proc not in self._cards:
            if proc.poll() is not None:
                return proc.returncode
            raise ValueError(f"process {proc.pid} was not started by this stack")
        code = _stop_group(proc, sig, timeout)
        self._cards.remove(proc)
        return code

    def run_in_namespace(
        self, argv: Sequence[str], *, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command inside the network namespace and wait for it."""
        self._require_running()
        return subprocess.run(
            [*self._setpriv, self._nsenter, f"--net={self.netns_path}", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_for_card(
        self, reader: int | str = 0, *, present: bool = True, timeout: float = 15.0
    ) -> Any:
        """Wait until pcscd shows a card in ``reader`` (or none, with ``present=False``).

        Returns the :class:`apdu.pcsc.ReaderInfo` seen last. Polls ``list_readers`` (this
        is test plumbing; the SDK's own waiting is event-driven, see apdu.pcsc.CardWatcher).
        """
        from apdu.pcsc import list_readers

        self._require_running()
        name = reader if isinstance(reader, str) else self.reader_name(reader)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            for info in list_readers():
                if info.name == name:
                    last = info
                    if info.card_present == present:
                        return info
            if time.monotonic() > deadline:
                state = "present" if present else "absent"
                raise TimeoutError(
                    f"card not {state} in {name!r} after {timeout}s (last: {last}); "
                    f"pcscd log: {self.logdir / 'pcscd.log'}"
                )
            time.sleep(0.05)

    def card_logs(self, name: str) -> list[Path]:
        """The log files of the card processes started with ``name``, in start order."""
        return sorted(self.logdir.glob(f"[0-9][0-9][0-9]-{glob.escape(name)}.log"))

    def pcscd_log(self) -> str:
        path = self.logdir / "pcscd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> PcscStack:
        if os.environ.get(SOCKET_ENV) != str(self.socket_path):
            raise RuntimeError(
                f"{SOCKET_ENV} was changed after the stack's socket was claimed; libpcsclite "
                "would not find this pcscd"
            )
        self._check_prerequisites()
        self.logdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_holder()
            self.start_pcscd()
        except BaseException:
            self.close()
            raise
        return self

    def start_pcscd(self) -> None:
        """Start pcscd inside the namespaces and wait until it lists its vpcd readers."""
        assert self._holder is not None
        if self._pcscd is not None and self._pcscd.poll() is None:
            raise RuntimeError("pcscd is already running")
        holder = self._holder.pid
        args = [self._pcscd_bin, "--foreground", "--config", str(self.workdir / "reader.conf.d")]
        if self.debug:
            args.append("--debug")
        self._pcscd = self._popen(
            [
                *self._setpriv,
                self._nsenter,
                f"--net=/proc/{holder}/ns/net",
                f"--mount=/proc/{holder}/ns/mnt",
                "--",
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._open_log("pcscd", append=True),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_for_readers()

    def stop_pcscd(self, timeout: float = 10.0) -> None:
        """Stop pcscd (the namespace and the card processes stay): "service not running"."""
        if self._pcscd is not None:
            _stop_group(self._pcscd, signal.SIGTERM, timeout)
            self._pcscd = None
        deadline = time.monotonic() + timeout
        while self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        """Stop every process this stack started: cards, pcscd, then the namespace holder."""
        for proc in list(self._cards):
            _stop_group(proc, signal.SIGTERM, 5.0)
        self._cards.clear()
        self.stop_pcscd()
        if self._holder is not None:
            _stop_group(self._holder, signal.SIGKILL, 5.0)
            self._holder = None
        for handle in self._log_handles:
            handle.close()
        self._log_handles.clear()
        self._readers = []
        with self._spawner_lock:
            spawner, self._spawner = self._spawner, None
        if spawner is not None:
            spawner.shutdown(wait=True)

    def __enter__(self) -> PcscStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """``subprocess.Popen`` from the stack's spawner thread (see the module docstring)."""
        with self._spawner_lock:
            if self._spawner is None:
                self._spawner = ThreadPoolExecutor(1, thread_name_prefix="pcscstack-spawner")
            spawner = self._spawner
        proc: subprocess.Popen[bytes] = spawner.submit(subprocess.Popen, argv, **kwargs).result()
        return proc

    def _require_running(self) -> None:
        if self._holder is None or self._holder.poll() is not None:
            raise RuntimeError("the PC/SC stack is not running")
        if self._pcscd is not None and self._pcscd.poll() is not None:
            raise RuntimeError(
                f"pcscd exited unexpectedly with {self._pcscd.returncode}; "
                f"log {self.logdir / 'pcscd.log'}:\n{self.pcscd_log()[-3000:]}"
            )

    def _open_log(self, name: str, *, append: bool = False) -> IO[bytes]:
        handle = open(self.logdir / f"{name}.log", "ab" if append else "wb")  # noqa: SIM115
        self._log_handles.append(handle)
        return handle

    def _check_prerequisites(self) -> None:
        if not sys.platform.startswith("linux"):
            raise StackUnavailable("the PC/SC test stack needs Linux namespaces")
        if os.geteuid() != 0:
            raise StackUnavailable("the PC/SC test stack needs root (network/mount namespaces)")
        try:
            import smartcard.scard  # noqa: F401
        except ImportError as exc:
            raise StackUnavailable(f"pyscard is not installed ({exc})") from exc
        self._pcscd_bin = _which("pcscd")
        self._nsenter = _which("nsenter")
        self._unshare = _which("unshare")
        self._ip = _which("ip")
        self._mount = _which("mount")
        setpriv = shutil.which("setpriv")
        self._setpriv = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        paths = _pcscd_build_paths()
        self._usbdropdir = paths.get("usbdropdir", "/usr/lib/pcsc/drivers")
        self._ipcdir = paths.get("ipcdir", "/run/pcscd")
        self._vpcd_lib = _find_vpcd_library(self._usbdropdir)

    def _start_holder(self) -> None:
        """Create the namespaces; hide USB drivers and /run from pcscd; keep them alive."""
        run_dir = self.workdir / "run"
        drivers_dir = self.workdir / "drivers"
        conf_dir = self.workdir / "reader.conf.d"
        for directory in (run_dir, drivers_dir, conf_dir):
            directory.mkdir(parents=True, exist_ok=True)
        lib = self._vpcd_lib
        usbdropdir = Path(self._usbdropdir)
        hide_drivers = usbdropdir.is_dir()
        if hide_drivers and lib.is_relative_to(usbdropdir):
            # the library itself is under the directory we hide: reach it through a bind
            lib = drivers_dir / lib.relative_to(usbdropdir)
        (conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{VPCD_FRIENDLY_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.vpcd_port:04X}\n"
            f"LIBPATH      {lib}\n"
            f"CHANNELID    0x{self.vpcd_port:04X}\n"
        )
        script = [
            "set -e",
            f"{shlex.quote(self._ip)} link set lo up",
        ]
        if hide_drivers:
            script += [
                f"{self._mount} --bind {shlex.quote(str(usbdropdir))} "
                f"{shlex.quote(str(drivers_dir))}",
                f"{self._mount} -t tmpfs -o size=64k,mode=0755 jpki-no-usb-drivers "
                f"{shlex.quote(str(usbdropdir))}",
            ]
        script += [
            f"{self._mount} --bind {shlex.quote(str(run_dir))} "
            f"{shlex.quote(str(Path(self._ipcdir).parent))}",
            "echo ready",
            "exec sleep infinity",
        ]
        holder = self._popen(
            [
                *self._setpriv,
                self._unshare,
                "--net",
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                "\n".join(script),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._open_log("holder"),
            start_new_session=True,
        )
        self._holder = holder
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], self.startup_timeout)
        line = holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            holder.kill()
            holder.wait()
            self._holder = None
            err = (self.logdir / "holder.log").read_text(errors="replace").strip()
            raise StackUnavailable(
                f"could not create private network/mount namespaces: {err or 'no output'}"
            )
        holder.stdout.close()
        (self.workdir / "holder.pid").write_text(f"{holder.pid}\n")

    def _wait_for_readers(self) -> None:
        from apdu.errors import TransportError
        from apdu.pcsc import list_readers

        deadline = time.monotonic() + self.startup_timeout
        names: list[str] = []
        while time.monotonic() < deadline:
            if self._pcscd is not None and self._pcscd.poll() is not None:
                raise RuntimeError(
                    f"pcscd exited with {self._pcscd.returncode}:\n{self.pcscd_log()[-3000:]}"
                )
            if self.socket_path.exists():
                with contextlib.suppress(TransportError):
                    names = [
                        r.name for r in list_readers() if r.name.startswith(VPCD_FRIENDLY_NAME)
                    ]
                if len(names) >= VPCD_SLOTS:
                    self._readers = sorted(names)
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"pcscd did not list {VPCD_SLOTS} vpcd readers in {self.startup_timeout}s "
            f"(saw {names}):\n{self.pcscd_log()[-3000:]}"
        )


def _stop_group(proc: subprocess.Popen[Any], sig: int, timeout: float) -> int | None:
    """Signal a process group we created (pgid == pid), escalate to SIGKILL, reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    return proc.returncode
