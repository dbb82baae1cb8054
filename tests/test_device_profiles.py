"""Board profiles: every shipped file loads, every number has provenance, malformed files are rejected."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
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
    # Besides the file's numbers, each compute cost's slowest-thread figure when the file leaves it derived.
    derived = [k for k, prov in profile.provenance.items() if prov.source.startswith("derived: ")]
    assert all(k.endswith(".cycles_per_tile") for k in derived)
    assert len(profile.provenance) - len(derived) == len(numbers) > 40
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


def test_a_folder_or_a_non_utf8_file_is_a_profile_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=f"profile '{tmp_path}' is a folder"):
        load_device(tmp_path)
    binary = tmp_path / "board.toml"
    binary.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(ProfileError, match=rf"{binary}: not UTF-8 text"):
        load_device(binary)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("clock_ghz", 0.0, "key 'clock_ghz': value 0.0 must be > 0"),
        ("clock_ghz", float("nan"), "key 'clock_ghz': value nan is not finite"),
        ("clock_ghz", float("inf"), "key 'clock_ghz': value inf is not finite"),
        ("clock_ghz", 1e308, "key 'clock_ghz': value 1e+308 is outside the accepted range [0.01, 10] GHz"),
        ("dram.peak_bandwidth_gbps", -288.0, "key 'dram.peak_bandwidth_gbps': value -288.0 must be > 0"),
        ("dram.peak_bandwidth_gbps", float("nan"), "key 'dram.peak_bandwidth_gbps': value nan is not finite"),
        ("noc.link_bytes_per_cycle", 1e-300, "key 'noc.link_bytes_per_cycle': value 1e-300 is outside"),
        ("dram.alignment_bytes", 3, "key 'dram.alignment_bytes': value 3 must be a power of two"),
        ("core.grid_x", 100, "core.grid_x is 100"),
        ("core.num_cbs", 8.5, "key 'core.num_cbs': expected an integer, got 8.5"),
        ("core.l1_free_bytes", 10**9, "key 'core.l1_free_bytes': 1000000000 exceeds core.l1_bytes"),
        ("compute.bfloat16.tilize.cycles_per_tile", -1, "compute.bfloat16.tilize.cycles_per_tile': value -1.0"),
        ("bogus", 1, "unknown key 'bogus' = 1"),
        ("dram.bogus", 1, "unknown key 'dram.bogus' = 1"),
        ("compute.bfloat16.matmul.cycles_per_tile", 1.0, "unknown key 'compute.bfloat16.matmul.cycles_per_tile'"),
        ("compute.int8.tilize.cycles_per_tile", 1.0, "unknown key 'compute.int8.tilize.cycles_per_tile'"),
        ("compute", {}, "key 'compute': expected a mapping of data formats"),
        ("core", 5, "key 'core': expected a CoreSpec, got int"),
    ],
)
def test_evolve_validates_as_the_loader_does(key: str, value, problem: str) -> None:
    p = load_device("wormhole_b0_n150")
    with pytest.raises(ProfileError) as info:
        p.evolve(**{key: value})
    assert str(info.value).startswith("wormhole_b0_n150.evolve: ")
    assert problem in str(info.value)


def test_evolve_reaches_compute_costs_and_keeps_float_fields_float() -> None:
    p = load_device("wormhole_b0_n150")
    q = p.evolve(**{"compute.bfloat16.tilize.cycles_per_tile": 60, "clock_ghz": 2, "core.num_cbs": np.int64(16)})
    assert q.compute_for("bfloat16").cost("tilize").cycles_per_tile == 60.0
    assert isinstance(q.clock_ghz, float) and q.clock_ghz == 2.0 and q.core.num_cbs == 16
    assert p.compute_for("bfloat16").cost("tilize").cycles_per_tile != 60.0


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
        (lambda t: _replace_value(t, "alignment_bytes", "3"), "dram.alignment_bytes", "value 3 must be a power of two"),
        (lambda t: _replace_value(t, "clock_ghz", "1e308"), "clock_ghz", "1e+308 is outside the accepted range"),
        (
            lambda t: _replace_value(t, "peak_bandwidth_gbps", "1e-300"),
            "dram.peak_bandwidth_gbps",
            "1e-300 is outside the accepted range [0.001, 1e+06] GB/s",
        ),
        (lambda t: _replace_value(t, "num_banks", "100000"), "dram.num_banks", "100000 is outside the accepted range"),
        (
            lambda t: t.replace("[compute.bfloat16.tilize]", "[compute.bfloat16.tilise]"),
            "compute.bfloat16.tilise",
            "unknown compute call 'tilise'",
        ),
        (
            lambda t: t.replace("[compute.float32", "[compute.float16"),
            "compute.float16",
            "unknown data format 'float16'",
        ),
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
    with pytest.raises(InputError, match="bfloat4_b"):
        p.compute_for("bfloat4_b")
