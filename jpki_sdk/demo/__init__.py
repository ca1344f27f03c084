"""The demo: a relying-party web site, the verification service and the card agent on a
simulated card, all on loopback (``jpki demo``; docs/demo.md).

- :class:`DemoStack` builds and runs everything (test PKI, OCSP responder, simulated cards,
  service, agent, site).
- :func:`run_headless` plays both journeys over real HTTP without a browser and reports.

Needs the ``server`` extra. Test roots are trusted here, explicitly: this is a demo.
"""

from __future__ import annotations

from jpki_sdk.demo.headless import HeadlessReport, ScenarioResult, run_headless
from jpki_sdk.demo.reader import DemoCard, DemoReader
from jpki_sdk.demo.site import DemoSite, create_site_app
from jpki_sdk.demo.stack import DEFAULT_CARDS, DEFAULT_SITE_PORT, CardSpec, DemoOptions, DemoStack

__all__ = [
    "DEFAULT_CARDS",
    "DEFAULT_SITE_PORT",
    "CardSpec",
    "DemoCard",
    "DemoOptions",
    "DemoReader",
    "DemoSite",
    "DemoStack",
    "HeadlessReport",
    "ScenarioResult",
    "create_site_app",
    "run_headless",
]
