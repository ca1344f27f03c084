"""`jpki sim init/show/serve` (through click's CliRunner; serve against a fake vpcd)."""

from __future__ import annotations

import json
import socket
import struct
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.sim import sim
from simulator.card import SimulatedCard
from simulator.serve import VpcdCardAdapter, parse_host_port, serve_vpcd
from simulator.state import CardState


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca") / "ca"


@pytest.fixture(scope="module")
def card_file(ca_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cards") / "card.json"
    result = CliRunner().invoke(
        sim, ["init", str(path), "--ca", str(ca_dir), "--seed", "5", "--profile", "contact"]
    )
    assert result.exit_code == 0, result.output
    return path


def test_init_creates_a_card_and_masks_personal_data(card_file: Path) -> None:
    state = CardState.load(card_file)
    assert state.identity is not None
    out = CliRunner().invoke(sim, ["show", str(card_file)]).output
    for secret in (state.identity["my_number"], state.identity["family_name"],
                   state.identity["address"], "1234", "TESTPASS1"):  # fmt: skip
        assert secret not in out
    assert "<masked>" in out and "3/3 tries" in out


def test_show_reveal_shows_personal_data_never_pins(card_file: Path) -> None:
    state = CardState.load(card_file)
    assert state.identity is not None
    out = CliRunner().invoke(sim, ["show", str(card_file), "--reveal"]).output
    assert state.identity["my_number"] in out
    assert state.identity["family_name"] in out
    assert "照合番号B" in out
    assert "TESTPASS1" not in out


def test_show_json(card_file: Path) -> None:
    class Obj:
        json_output = True

    result = CliRunner().invoke(sim, ["show", str(card_file)], obj=Obj())
    data = json.loads(result.output)
    assert data["profile"] == "contact"
    assert {p["key"] for p in data["pins"]} >= {"0018", "001B", "0011"}
    assert data["identity"]["my_number"] == "<masked>"


def test_init_options(ca_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "young.json"
    result = CliRunner().invoke(
        sim,
        ["init", str(path), "--ca", str(ca_dir), "--no-sign-cert", "--profile", "android",
         "--family-name", "山田", "--given-name", "花子", "--birth-date", "2015-04-01",
         "--sex", "2", "--municipality", "13101", "--reselect-clears-state",
         "--read-past-end", "6282", "--wrong-length-pin", "reject", "--blocked-sw", "6983"],
        env={"JPKI_SIM_AUTH_PIN": "5678"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    state = CardState.load(path)
    assert state.identity is not None
    assert state.identity["family_name"] == "山田" and state.identity["sex"] == "2"
    assert state.profile.token_label == "JPKIAPGPSETOKEN"
    assert state.profile.reselect_clears_state and state.profile.read_past_end_sw == 0x6282
    assert state.profile.blocked_sw == 0x6983
    assert not state.has_application("nope")
    assert state.application("jpki").get(0x0001) is None
    card = SimulatedCard(state)
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    card.transmit(bytes.fromhex("00A4020C020018"))
    assert card.transmit(bytes.fromhex("002000800435363738")) == b"\x90\x00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth-pin", "12345"], "4 ASCII digits"),
        (["--sign-pin", "lower123"], "sign password"),
        (["--my-number", "123456789012"], "check digit"),
        (["--birth-date", "1990/01/01"], "YYYY-MM-DD"),
        (["--atr", "00"], "ATR"),
        (["--municipality", "99999"], "municipality"),
    ],
)
def test_init_rejects_bad_input(
    ca_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "x.json"
    result = CliRunner().invoke(sim, ["init", str(path), "--ca", str(ca_dir), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not path.exists()


def test_init_refuses_to_overwrite(card_file: Path, ca_dir: Path) -> None:
    before = card_file.read_bytes()
    result = CliRunner().invoke(sim, ["init", str(card_file), "--ca", str(ca_dir)])
    assert result.exit_code != 0 and "exists" in result.output
    assert card_file.read_bytes() == before


def test_show_of_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = CliRunner().invoke(sim, ["show", str(bad)])
    assert result.exit_code != 0 and "not a simulated card state file" in result.output


def test_pki_commands_are_attached() -> None:
    assert {"init", "show", "serve", "revoke", "ca"} <= set(sim.commands)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:35963", ("127.0.0.1", 35963)), ("localhost", ("localhost", 35963)),
     (":35964", ("127.0.0.1", 35964)), ("[::1]:1", ("::1", 1))],
)  # fmt: skip
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "host:0", "host:x", "[::1", "host:70000"])
def test_parse_host_port_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_port(text)


# -- serve against a fake vpcd -----------------------------------------------------------------


class FakeVpcd:
    """The reader side of the vpcd protocol (what vsmartcard's vpcd does), for one card."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.server.settimeout(20)
        self.conn, _ = self.server.accept()
        self.conn.settimeout(20)

    def send(self, payload: bytes) -> bytes | None:
        assert self.conn is not None
        self.conn.sendall(struct.pack(">H", len(payload)) + payload)
        if len(payload) == 1 and payload[0] != 0x04:
            return None
        head = self._recv(2)
        if not head:
            return b""
        return self._recv(struct.unpack(">H", head)[0])

    def _recv(self, n: int) -> bytes:
        assert self.conn is not None
        out = b""
        while len(out) < n:
            chunk = self.conn.recv(n - len(out))
            if not chunk:
                return out
            out += chunk
        return out

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


def test_serve_answers_vpcd_and_persists(card_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "served.json"
    path.write_bytes(card_file.read_bytes())
    vpcd = FakeVpcd()
    stop = threading.Event()
    card = SimulatedCard.open(path)
    thread = threading.Thread(
        target=serve_vpcd, args=(card, "127.0.0.1", vpcd.port), kwargs={"stop": stop}
    )
    thread.start()
    try:
        vpcd.accept()
        assert vpcd.send(b"\x04") == bytes.fromhex("3BE000FF8131FE4514")
        vpcd.send(b"\x01")  # power on
        assert vpcd.send(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
        assert vpcd.send(bytes.fromhex("00A4020C020018")) == b"\x90\x00"
        assert vpcd.send(bytes.fromhex("002000800430303030")) == b"\x63\xc2"
        assert CardState.load(path).pin("jpki", 0x0018).remaining == 2
        vpcd.send(b"\x02")  # reset: back to the power-on state
        assert vpcd.send(bytes.fromhex("00A4020C020018")) == b"\x6a\x82"
    finally:
        stop.set()
        thread.join(20)
        vpcd.close()
    assert not thread.is_alive()


def test_removal_fault_drops_the_vpcd_connection(simulated_card: SimulatedCard) -> None:
    from simulator.faults import Faults
    from simulator.vpcd import CardEjected

    card = SimulatedCard(simulated_card.state.copy(), faults=Faults(remove_at=2,
                         reinsert_after=0.5))  # fmt: skip
    adapter = VpcdCardAdapter(card)
    assert adapter.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
    with pytest.raises(CardEjected) as info:
        adapter.transmit(bytes.fromhex("00A4020C020018"))
    assert info.value.reinsert_after == 0.5
    adapter.power_off()
    adapter.power_on()  # vpcd powers the re-inserted card
    assert card.present
    assert adapter.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
