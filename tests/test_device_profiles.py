"""Board profiles: every shipped file loads, every number has provenance, malformed files are rejected."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import perfmodel
from perfmodel.device import TAGS, DeviceProfile, list_devices, load_device
from perfmodel.errors import InputError, ProfileError

BOARDS = ["wormhole_b0_n150", "wormhole_b0_n300", "blackhole_p150a", "blackhole_p100a"]


def test_shipped_boards_are_listed() -> None:
    assert set(BOARDS) <= set(list_devices())
    assert perfmodel.list_devices() == list_devices()


@pytest.mark.parametrize("name", BOARDS)
def test_every_number_has_a_tag_and_source(name: str) -> None:
    profile = load_device(name)
    text = Path(profile.path).read_text()
    numbers = re.findall(r"^(\w+) = \{ value", text, flags=re.M)
    assert len(profile.provenance) == len(numbers) > 40
    for key, prov in profile.provenance.items():
        assert prov.tag in TAGS, key
        assert prov.source.strip(), key


@pytest.mark.parametrize("name", BOARDS)
def test_profiles_are_physical(name: str) -> None:
    p = load_device(name)
    assert p.name == name
    assert 0 < p.core.l1_free_bytes <= p.core.l1_bytes
    assert len(p.dram.bank_noc_xy) == p.dram.num_banks
    # The banks together sustain a fraction of the peak; the roofline keeps the peak.
    sustained = p.dram_bank_bytes_per_cycle * p.dram.num_banks
    assert sustained == pytest.approx(p.dram_peak_bytes_per_cycle * p.dram.sustained_fraction)
    assert 0.5 < p.dram.sustained_fraction <= 1
    for fmt in ("bfloat16", "float32"):
        costs = p.compute_for(fmt)
        for name_ in ("tilize", "reduce_row", "sub_bcast_col", "pack_untilize", "untilize"):
            assert costs.cost(name_).cycles_per_tile > 0
    # fp32 tiles are twice as many bytes: no fp32 per-tile cost may be cheaper than its bf16 one
    for name_, cost in p.compute_for("float32").costs.items():
        assert cost.cycles_per_tile >= p.compute_for("bfloat16").cost(name_).cycles_per_tile


def test_arch_facts_differ_where_the_boards_differ() -> None:
    wh, bh, p100 = load_device("wormhole_b0_n150"), load_device("blackhole_p150a"), load_device("blackhole_p100a")
    assert (wh.core.num_cbs, bh.core.num_cbs) == (32, 64)
    assert wh.clock_ghz < bh.clock_ghz
    assert p100.dram.num_banks < bh.dram.num_banks
    assert wh.noc.max_packet_bytes < bh.noc.max_packet_bytes


def test_load_by_path_and_profile_is_frozen(tmp_path: Path) -> None:
    p = load_device("wormhole_b0_n150")
    again = load_device(p.path)
    assert again == p
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.clock_ghz = 2.0  # type: ignore[misc]


def test_evolve_changes_nested_values_only() -> None:
    p = load_device("wormhole_b0_n150")
    q = p.evolve(**{"dram.read_latency_cycles": 1.0, "clock_ghz": 2.0})
    assert q.dram.read_latency_cycles == 1.0 and q.clock_ghz == 2.0
    assert q.dram.num_banks == p.dram.num_banks and p.dram.read_latency_cycles != 1.0


def test_unknown_device_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown device 'grayskull_x'.*wormhole_b0_n150"):
        load_device("grayskull_x")


def _shipped_text() -> str:
    return Path(load_device("wormhole_b0_n150").path).read_text()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text(text)
    return path


def _replace_value(text: str, key: str, new: str) -> str:
    pattern = rf"^({key} = \{{ value = )([^,]+|\[.*?\])(, tag)"
    out, n = re.subn(pattern, rf"\g<1>{new}\g<3>", text, count=1, flags=re.M)
    assert n == 1, key
    return out


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (
            lambda t: t.replace("[dram]\n", '[dram]\nbogus = { value = 1, tag = "est", source = "x" }\n'),
            "dram.bogus",
            "unknown key",
        ),
        (lambda t: re.sub(r"^num_banks = .*\n", "", t, flags=re.M), "dram.num_banks", "missing"),
        (lambda t: _replace_value(t, "peak_bandwidth_gbps", "-288.0"), "dram.peak_bandwidth_gbps", "must be > 0"),
        (lambda t: _replace_value(t, "clock_ghz", "0.0"), "clock_ghz", "must be > 0"),
        (lambda t: _replace_value(t, "sustained_fraction", "1.2"), "dram.sustained_fraction", "fraction in (0, 1]"),
        (
            lambda t: _replace_value(t, "interleaved_fraction", "0.95"),
            "dram.interleaved_fraction",
            "exceeds dram.sustained_fraction",
        ),
        (lambda t: _replace_value(t, "num_cbs", '"32"'), "core.num_cbs", "expected an integer"),
        (lambda t: _replace_value(t, "num_cbs", "32.5"), "core.num_cbs", "expected an integer"),
        (lambda t: _replace_value(t, "link_bytes_per_cycle", "true"), "noc.link_bytes_per_cycle", "expected a number"),
        (lambda t: _replace_value(t, "l1_free_bytes", "2000000"), "core.l1_free_bytes", "exceeds core.l1_bytes"),
        (lambda t: _replace_value(t, "worker_noc_x", "[1, 2, 3]"), "noc.worker_noc_x", "has 3 entries"),
        (
            lambda t: t.replace(
                'tag = "spec", source = "Wormhole product', 'tag = "guess", source = "Wormhole product', 1
            ),
            "clock_ghz",
            "tag 'guess'",
        ),
        (
            lambda t: re.sub(r'(^clock_ghz = .*?source = )"[^"]*"', r'\1"  "', t, flags=re.M),
            "clock_ghz",
            "non-empty string",
        ),
        (lambda t: re.sub(r"^(clock_ghz = )\{.*\}$", r"\g<1>1.0", t, flags=re.M), "clock_ghz", "expected a table"),
    ],
)
def test_malformed_profiles_are_rejected_naming_file_and_key(tmp_path: Path, edit, key: str, problem: str) -> None:
    path = _write(tmp_path, edit(_shipped_text()))
    with pytest.raises(ProfileError) as info:
        DeviceProfile.from_toml(path)
    message = str(info.value)
    assert str(path) in message
    assert f"'{key}" in message
    assert problem in message
    assert "\n" not in message


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid TOML"):
        DeviceProfile.from_toml(_write(tmp_path, "name = [unclosed"))
    with pytest.raises(ProfileError, match="not found"):
        DeviceProfile.from_toml(tmp_path / "nope.toml")


def test_compute_cost_lookup_names_the_missing_entry() -> None:
    p = load_device("blackhole_p150a")
    with pytest.raises(InputError, match="matmul"):
        p.compute_for("bfloat16").cost("matmul")
    with pytest.raises(InputError, match="bfloat8_b"):
        p.compute_for("bfloat8_b")
