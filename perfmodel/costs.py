"""Cost primitives shared by every engine: one NoC packet, one compute-library call, the DRAM roofline.

The discrete-event simulator, the analytic model and the calibration all price work through these
functions, so a constant of the profile is read in one place and the engines cannot drift apart.

Data-movement timing, per packet (a transfer larger than the NoC's largest packet is split by the API):
- the issuing RISC-V is busy `issue_cycles` (its own time; it cannot issue the next packet meanwhile);
- the packet then holds each shared resource on its path, in the order its data crosses them: the DRAM
  bank (`bank_cycles` = bytes / sustained bank bandwidth), the NoC links (`link_cycles`) and the core's NoC
  interface (`core_cycles` = bytes / per-core bandwidth); with nothing else in the way every hold starts at
  once, and under contention each resource queues it on its own (`perfmodel.des.noc`);
- it completes `latency_cycles` after the later of its last hold and `service_cycles` after it entered; a
  barrier waits for the completion of every packet its RISC-V issued.

DRAM under many cores: when n cores stream interleaved pages, each bank serves n streams whose pages sit
in different rows, and it pays row switches and read/write turnarounds between them. A packet's own
timing is unchanged, but the bank stays busy after it for `dram_bank_recovery_cycles` (its hold stretched
from the best-placement rate to `dram_bank_bytes_per_cycle(device, n)`), so the banks together deliver
`dram_bank_fraction` of the peak: the best-placement figure for one core, the many-core figure for many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from perfmodel.compute_config import ComputeConfig
from perfmodel.device.profile import DeviceProfile

Direction = Literal["read", "write"]


@dataclass(frozen=True)
class PacketCost:
    nbytes: int
    issue_cycles: float
    core_cycles: float
    bank_cycles: float
    link_cycles: float
    latency_cycles: float

    @property
    def service_cycles(self) -> float:
        """Time the packet holds its slowest resource when nothing else competes."""
        return max(self.core_cycles, self.bank_cycles, self.link_cycles)


def packet_sizes(nbytes: int, max_packet_bytes: int) -> list[int]:
    """How the NoC API splits one transfer into packets of at most `max_packet_bytes`."""
    if nbytes <= 0:
        return []
    full, rest = divmod(nbytes, max_packet_bytes)
    return [max_packet_bytes] * full + ([rest] if rest else [])


def dram_bank_fraction(sustained: Any, interleaved: Any, streams: Any) -> Any:
    """Share of its peak a DRAM bank delivers to `streams` concurrent interleaved streams (floats or arrays).

    One stream keeps the bank's row buffer open and gets the best-placement `sustained` fraction; every
    further stream's pages land in other rows of the same bank, so the bank tends to the `interleaved`
    fraction as 1 / streams: sustained at 1, interleaved + (sustained - interleaved) / n at n.
    """
    n = np.maximum(np.asarray(streams, dtype=float), 1.0)
    fraction = interleaved + (np.asarray(sustained, dtype=float) - interleaved) / n
    return float(fraction) if np.ndim(fraction) == 0 else fraction


def dram_bank_recovery_cycles(device: DeviceProfile, nbytes: float, streams: int) -> float:
    """Cycles a bank stays busy after serving `nbytes` when `streams` cores share it (0 for one stream)."""
    return nbytes / dram_bank_bytes_per_cycle(device, streams) - nbytes / device.dram_bank_bytes_per_cycle


def dram_bank_bytes_per_cycle(device: DeviceProfile, streams: int = 1) -> float:
    """What one bank sustains when `streams` cores stream interleaved pages at once (1: the best placement)."""
    dram = device.dram
    fraction = dram_bank_fraction(dram.sustained_fraction, dram.interleaved_fraction, streams)
    return dram.peak_bandwidth_gbps * fraction / dram.num_banks / device.clock_ghz


def packet_cost(device: DeviceProfile, direction: Direction, nbytes: int) -> PacketCost:
    """The cost of one packet of `nbytes` between a worker and a DRAM bank."""
    noc, dram = device.noc, device.dram
    if direction == "read":
        issue, core_bw, latency = noc.read_issue_cycles, noc.core_read_bytes_per_cycle, dram.read_latency_cycles
    else:
        issue, core_bw, latency = noc.write_issue_cycles, noc.core_write_bytes_per_cycle, dram.write_latency_cycles
    return PacketCost(
        nbytes=nbytes,
        issue_cycles=issue,
        core_cycles=nbytes / core_bw,
        bank_cycles=nbytes / device.dram_bank_bytes_per_cycle,
        link_cycles=nbytes / noc.link_bytes_per_cycle,
        latency_cycles=latency,
    )


def write_departure_cycles(device: DeviceProfile, transfer_bytes: list[int] | tuple[int, ...]) -> float:
    """`noc_async_writes_flushed` after back-to-back writes of `transfer_bytes`: the time, from the end of the
    last issue, until the last packet's data has left the core (its NoC interface at the per-core write
    bandwidth), not acknowledged. Uncontended: packet k enters after k + 1 issues and the interface serves
    the packets in order."""
    issued = free = 0.0
    for nbytes in transfer_bytes:
        for size in packet_sizes(nbytes, device.noc.max_packet_bytes):
            issued += device.noc.write_issue_cycles
            free = max(issued, free) + size / device.noc.core_write_bytes_per_cycle
    return max(free - issued, 0.0)


def compute_cycles(device: DeviceProfile, data_format: str, name: str, num_tiles: int | float) -> float:
    """Setup plus the slowest thread's time of one compute-library call `name` over `num_tiles` tiles at LoFi:
    the call's time when its three threads overlap fully (a summary; the engines time each thread)."""
    return device.compute_for(data_format).cost(name).cycles(num_tiles)


def thread_cycles(
    device: DeviceProfile, data_format: str, name: str, thread: str, num_tiles: int | float, phases: int = 1
) -> float:
    """Busy cycles of compute thread `thread` ("unpack", "math" or "pack") for `num_tiles` tiles of call
    `name` at `phases` fidelity phases, without the per-call setup."""
    return device.compute_for(data_format).cost(name).thread_cycles(thread, num_tiles, phases)


def dst_tiles(device: DeviceProfile, compute_config: ComputeConfig) -> int:
    """Tiles per Dst acquire: SyncHalf 8 with a 16-bit Dst, 4 with fp32_dest_acc_en; SyncFull twice that."""
    return device.dst.tiles_per_acquire(compute_config.fp32_dest_acc_en, compute_config.dst_full_sync_en)


def untilize_variant(device: DeviceProfile, data_format: str, wt: int, dst_tiles_per_acquire: int | None = None) -> str:
    """pack_untilize while a tile row fits in one Dst acquire, the slower standard untilize above.

    `dst_tiles_per_acquire` defaults to the format's SyncHalf figure (`FormatCompute.dst_tiles_half_sync`)."""
    fits = (
        device.compute_for(data_format).dst_tiles_half_sync if dst_tiles_per_acquire is None else dst_tiles_per_acquire
    )
    return "pack_untilize" if wt <= fits else "untilize"


def dram_roofline_cycles(device: DeviceProfile, dram_bytes: int) -> float:
    """Time to move `dram_bytes` at the board's peak DRAM bandwidth: a bound no engine may beat."""
    return dram_bytes / device.dram_peak_bytes_per_cycle
