"""Property tests: no byte sequence crashes the card; every answer is a plausible response."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu import CommandApdu
from simulator.card import SimulatedCard
from simulator.files import AID_JPKI, AID_TEXT
from simulator.state import CardState

# SW1 values this card may answer with (ISO 7816-4 families it uses).
PLAUSIBLE_SW1 = {0x62, 0x63, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6D, 0x6E}
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(response: bytes) -> None:
    assert len(response) >= 2
    sw = int.from_bytes(response[-2:], "big")
    if sw == 0x9000:
        return
    assert response[-2] in PLAUSIBLE_SW1, f"{sw:04X}"
    assert len(response) == 2, "error answers carry no data"


def _fresh(base: CardState) -> SimulatedCard:
    return SimulatedCard(base.copy())


interesting_cla = st.sampled_from([0x00, 0x80, 0x08, 0x0C, 0x10, 0x01, 0x41, 0x84, 0xA0, 0xFF])
interesting_ins = st.sampled_from(
    [0xA4, 0xB0, 0xB1, 0xB2, 0x20, 0x24, 0x2A, 0x32, 0x84, 0x88, 0xCA, 0xA2, 0xAE, 0xFC, 0xC0]
)


@st.composite
def commands(draw: st.DrawFn) -> bytes:
    cla = draw(st.one_of(interesting_cla, st.integers(0, 255)))
    ins = draw(st.one_of(interesting_ins, st.integers(0, 255)))
    p1 = draw(st.one_of(st.sampled_from([0x00, 0x01, 0x02, 0x04, 0x80, 0x8A]), st.integers(0, 255)))
    p2 = draw(st.one_of(st.sampled_from([0x00, 0x0C, 0x80, 0x97, 0x9A, 0x98]), st.integers(0, 255)))
    data = draw(
        st.one_of(
            st.just(b""),
            st.sampled_from([AID_JPKI, AID_TEXT, b"\x00\x0a", b"\x00\x18", b"1234"]),
            st.binary(max_size=300),
        )
    )
    le = draw(st.one_of(st.none(), st.integers(1, 65536)))
    extended = draw(st.booleans())
    return CommandApdu(cla, ins, p1, p2, data, le=le, extended=extended).encode()


@FUZZ
@given(raw=st.binary(max_size=64))
def test_random_bytes_never_crash(simulated_card: SimulatedCard, raw: bytes) -> None:
    card = _fresh(simulated_card.state)
    _check(card.transmit(raw))


@FUZZ
@given(raw=commands())
def test_well_formed_random_commands_never_crash(simulated_card: SimulatedCard, raw: bytes) -> None:
    card = _fresh(simulated_card.state)
    _check(card.transmit(raw))
    # And inside each application too.
    for aid in (AID_JPKI, AID_TEXT):
        card.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid).encode())
        _check(card.transmit(raw))


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(session=st.lists(commands(), min_size=1, max_size=25))
def test_random_sessions_never_crash(simulated_card: SimulatedCard, session: list[bytes]) -> None:
    card = _fresh(simulated_card.state)
    for raw in session:
        _check(card.transmit(raw))
    # The card is still usable afterwards (a reset gives the power-on state).
    card.reset()
    assert card.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID_JPKI).encode()) == b"\x90\x00"
