"""Everything the demo runs, in one process, on loopback only.

:class:`DemoStack` builds, in a work directory (a fresh temporary one by default):

1. a test PKI (``simulator.pki.TestPki``: TEST roots, never trusted by default) and its OCSP
   responder on loopback;
2. three simulated cards issued by it (state files ``card-*.json``): card A (valid, an adult),
   card B (valid certificates, then revoked: "reported lost"), card C (valid, a 17-year-old);
3. the CRLs exported after the revocation, and the verification service (``jpki serve``'s app)
   configured from ``service.toml`` as an operator would: SQLite challenge store, the test
   roots trusted explicitly, CRL index fed with the exported CRLs, OCSP, hard-fail revocation,
   one API key for the demo site's origin;
4. the card agent on the simulated reader, in kiosk mode for the demo site's origin (the page's
   PIN field is used: the demo is non-interactive; a real deployment prompts at the agent),
   with the last PIN try usable only after the page's explicit confirmation;
5. the demo relying-party site.

All four servers listen on 127.0.0.1 (port 0 picks free ports, for tests and headless runs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from starlette.types import ASGIApp

from jpki_sdk.agent import (
    DEFAULT_PORT,
    AgentConfig,
    CardAgent,
    ServerThread,
    bind_loopback,
    create_agent_app,
)
from jpki_sdk.demo.reader import DemoCard, DemoReader
from jpki_sdk.demo.site import DemoSite, create_site_app
from jpki_sdk.server import Service, create_app, generate_api_key, hash_api_key, load_config
from jpki_sdk.server.client import ServiceClient
from jpki_sdk.verify import Clock, SystemClock
from simulator.card import SimulatedCard
from simulator.identity import Identity
from simulator.ocsp import OcspResponder
from simulator.pki import TestPki
from simulator.provision import build_card

logger = logging.getLogger(__name__)

DEFAULT_SITE_PORT = 8080
API_KEY_NAME = "demo-site"


@dataclass(frozen=True)
class CardSpec:
    """A demo card: an identity seed, and what happens to it."""

    key: str
    identity_seed: int
    note: str
    revoked: bool = False
    age: int | None = None  # make the holder exactly this old today (else the seed's birth date)


DEFAULT_CARDS = (
    CardSpec("a", 1, "valid, adult holder"),
    CardSpec("b", 3, "revoked (reported lost)", revoked=True),
    CardSpec("c", 8, "valid, holder aged 17", age=17),
)


@dataclass(frozen=True)
class DemoOptions:
    """How to run the demo. Ports 0 pick free ports."""

    site_port: int = DEFAULT_SITE_PORT
    agent_port: int = DEFAULT_PORT
    service_port: int = 0
    seed: int = 0
    workdir: Path | None = None
    cards: tuple[CardSpec, ...] = DEFAULT_CARDS
    failure_delay: float = 1.0
    max_operations: int = 60
    kiosk_allow_last_attempt: bool = True
    clock: Clock | None = None
    progress: Callable[[str], None] | None = None


def _birthday_years_ago(today: dt.date, years: int) -> dt.date:
    """A birth date making the holder ``years`` old today (born half a year before that)."""
    anchor = today - dt.timedelta(days=182)
    try:
        return anchor.replace(year=anchor.year - years)
    except ValueError:  # 29 February
        return anchor.replace(year=anchor.year - years, day=28)


class DemoStack:
    """Build and run the demo (see the module documentation). Use as a context manager."""

    def __init__(self, options: DemoOptions | None = None) -> None:
        self.options = options or DemoOptions()
        self._tempdir: str | None = None
        self.workdir = Path()
        self.api_key = generate_api_key()
        self.pki: TestPki | None = None
        self.ocsp: OcspResponder | None = None
        self.reader: DemoReader | None = None
        self.agent: CardAgent | None = None
        self.service: Service | None = None
        self.site: DemoSite | None = None
        self._servers: ServerThread | None = None
        self.site_url = ""
        self.agent_url = ""
        self.service_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _say(self, text: str) -> None:
        logger.info("demo: %s", text)
        if self.options.progress is not None:
            self.options.progress(text)

    def start(self) -> DemoStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        if opts.workdir is None:
            self._tempdir = tempfile.mkdtemp(prefix="jpki-demo-")
            self.workdir = Path(self._tempdir)
        else:
            self.workdir = Path(opts.workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        # Bind first: the ports are part of the configuration (origins, API key, CSP).
        sockets = {
            "service": bind_loopback(opts.service_port, what="verification service"),
            "agent": bind_loopback(opts.agent_port, what="card agent"),
            "site": bind_loopback(opts.site_port, what="demo site"),
        }
        try:
            self._build(sockets)
        except BaseException:
            for sock in sockets.values():
                sock.close()
            raise

    def _build(self, sockets: dict[str, socket.socket]) -> None:
        opts = self.options
        ports: dict[str, int] = {name: s.getsockname()[1] for name, s in sockets.items()}
        self.site_url = f"http://127.0.0.1:{ports['site']}"
        self.agent_url = f"http://127.0.0.1:{ports['agent']}"
        self.service_url = f"http://127.0.0.1:{ports['service']}"
        site_origin = self.site_url

        started = time.monotonic()
        self._say("creating the test PKI (TEST roots; never trusted unless opted in)...")
        self.pki = TestPki.create(self.workdir / "pki", seed=opts.seed)
        self.ocsp = OcspResponder(self.pki).start()
        self._say(f"test OCSP responder on {self.ocsp.url}")
        today = dt.date.today()
        cards: list[DemoCard] = []
        for spec in opts.cards:
            self._say(f"issuing simulated card {spec.key.upper()} ({spec.note})...")
            cards.append(self._issue(spec, today))
        self.reader = DemoReader(cards)
        export = self.workdir / "export"
        self.pki.export(export)
        self._write_service_config(ports["service"], site_origin, export)
        self._say("starting the verification service (CRLs ingested, OCSP, SQLite store)...")
        config = load_config(self.workdir / "service.toml", env={})
        self.service = Service.from_config(config, clock=opts.clock or SystemClock())
        agent_config = AgentConfig(
            allowed_origins=(site_origin,),
            kiosk_origin=site_origin,
            kiosk_allow_last_attempt=opts.kiosk_allow_last_attempt,
            port=ports["agent"],
            failure_delay=opts.failure_delay,
            max_failure_delay=max(opts.failure_delay, 60.0),
            max_operations=opts.max_operations,
        )
        self.agent = CardAgent(agent_config, self.reader)
        client = ServiceClient(self.service_url, self.api_key)
        self.site = DemoSite(
            origin=site_origin,
            service=client,
            agent_url=self.agent_url,
            agent=self.agent,
            reader=self.reader,
        )
        agent_port = ports["agent"]
        apps: list[tuple[str, ASGIApp, socket.socket]] = [
            ("service", create_app(self.service), sockets["service"]),
            ("agent", create_agent_app(self.agent, port=lambda: agent_port), sockets["agent"]),
            ("site", create_site_app(self.site), sockets["site"]),
        ]
        self._servers = ServerThread(apps).start()
        self._say(f"ready in {time.monotonic() - started:.0f} s")

    def _issue(self, spec: CardSpec, today: dt.date) -> DemoCard:
        assert self.pki is not None and self.ocsp is not None
        identity = Identity.generate(spec.identity_seed)
        if spec.age is not None:
            identity = dataclasses.replace(
                identity, birth_date=_birthday_years_ago(today, spec.age)
            )
        issued = self.pki.issue(identity, ocsp_url=self.ocsp.url)
        state = build_card(identity, issued)
        if spec.revoked:
            self.pki.revoke(issued.auth_cert, reason="keyCompromise")
            if issued.sign_cert is not None:
                self.pki.revoke(issued.sign_cert, reason="keyCompromise")
        # The state file is written now and every counter change before the card answers;
        # the card stays "in the reader" (its file held by this process) until the demo stops.
        card = SimulatedCard(state, path=self.workdir / f"card-{spec.key}.json")
        label = f"Card {spec.key.upper()}"
        return DemoCard(
            key=spec.key,
            label=label,
            note=spec.note,
            identity=identity,
            card=card,
            auth_certificate=issued.auth_cert,
            sign_certificate=issued.sign_cert,
            revoked=spec.revoked,
        )

    def _write_service_config(self, port: int, origin: str, export: Path) -> None:
        text = f"""# The demo's verification service, configured as an operator would (jpki serve).
# TEST roots are trusted here explicitly: never do this in production.

[server]
host = "127.0.0.1"
port = {port}
log_format = "text"
log_level = "warning"

[trust]
test_roots = ["export/roots"]

[revocation]
mode = "require"
crl_index = "crl-index"
crl_sources = ["export/crls"]
ocsp = true
ocsp_timeout_seconds = 5.0

[challenges]
store = "sqlite"
sqlite_path = "challenges.sqlite3"
ttl_seconds = 300

[[api_keys]]
name = "{API_KEY_NAME}"
sha256 = "{hash_api_key(self.api_key)}"
origins = ["{origin}"]
"""
        assert export == self.workdir / "export"
        (self.workdir / "service.toml").write_text(text, encoding="utf-8")

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        if self._servers is not None:
            self._servers.wait()

    def stop(self) -> None:
        if self._servers is not None:
            self._servers.stop()
            self._servers = None
        if self.site is not None:
            self.site.service.close()
        if self.ocsp is not None:
            self.ocsp.stop()
            self.ocsp = None
        if self.reader is not None:
            self.reader.close()
        if self.pki is not None:
            self.pki.close()
            self.pki = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None


__all__ = ["DEFAULT_CARDS", "DEFAULT_SITE_PORT", "CardSpec", "DemoOptions", "DemoStack"]
