"""Helpers shared by the demo tests (browser and headless)."""

from __future__ import annotations

from jpki_sdk.demo import DemoStack


def restore(demo: DemoStack) -> None:
    """Card A in the reader, nothing armed, every PIN counter at its maximum."""
    assert demo.agent is not None and demo.reader is not None and demo.site is not None
    with demo.agent.maintenance():
        demo.reader.pull_during_next_signature(False)
        demo.site.expire_next = False
        for key in demo.reader.cards:
            demo.reader.reset_pins(key)
        demo.reader.insert("a")
    demo.agent.limiter.success()
