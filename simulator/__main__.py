"""``python -m simulator``: serve a simulated card from its state file.

::

    python -m simulator serve STATEFILE --vpcd 127.0.0.1:35963 [--fault SPEC ...]
    python -m simulator stdio STATEFILE [--fault SPEC ...]

``serve`` makes the card a card in vpcd's reader (pcscd); ``stdio`` answers hex APDU lines on
stdin with hex response lines on stdout. The ``jpki sim serve`` command does the same as
``serve``; this entry point needs nothing but the simulator package.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from simulator.card import SimulatedCard
from simulator.faults import Faults, FaultSpecError
from simulator.profile import Latency
from simulator.serve import parse_host_port, serve_stdio, serve_vpcd
from simulator.state import StateFileError

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "stdio"):
        p = sub.add_parser(name)
        p.add_argument("state", help="the card's state file (jpki sim init)")
        p.add_argument("--fault", action="append", default=[], help="remove@N, sw@N=6A82, ...")
        p.add_argument("--latency", choices=["off", "realistic", "profile"], default="profile")
        p.add_argument(
            "--log-level",
            default=os.environ.get("JPKI_SIM_LOG_LEVEL", "WARNING"),
            help="logging level (default: $JPKI_SIM_LOG_LEVEL, else WARNING)",
        )
        if name == "serve":
            p.add_argument("--vpcd", default="127.0.0.1:35963", help="HOST:PORT of vpcd")
    ns = parser.parse_args(argv)
    logging.basicConfig(
        level=ns.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        faults = Faults.parse(ns.fault)
        card = SimulatedCard.open(ns.state, faults=faults)
    except (FaultSpecError, StateFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ns.latency == "off":
        card.latency = Latency()
    elif ns.latency == "realistic":
        card.latency = Latency.realistic(card.profile.interface)
    if ns.command == "stdio":
        return serve_stdio(card)
    try:
        host, port = parse_host_port(ns.vpcd)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        card.close()
        return 2
    serve_vpcd(card, host, port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
