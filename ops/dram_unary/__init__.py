"""dram_unary: the single-core DRAM read / write microbenchmark behind the shipped calibration data.

`OP.build_program(device=..., direction="read"|"write", transaction_bytes=S, num_transactions=N)` builds a
one-core program whose only kernel (the reader on NCRISC / NoC 0, or the writer on BRISC / NoC 1) moves N x S
bytes between L1 and one DRAM bank. `simulate(program).details["zones"]["dram_unary"]` is the cycles of the
profiler zone the CSV reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.op import coerce_config
from perfmodel.ops.dram_unary.kernels import reader, writer
from perfmodel.program import (
    KERNEL_SLOTS,
    CircularBuffer,
    CoreProgram,
    DramBuffer,
    KernelFn,
    KernelSpec,
    Program,
    frozen_mapping,
)
from perfmodel.split import split_work_to_cores

OP_NAME = "dram_unary"


@dataclass(frozen=True)
class Config:
    """Which way, how big, how many, and where: the bank and the (logical) worker core."""

    direction: str = "read"
    transaction_bytes: int = 2048
    num_transactions: int = 1
    bank: int = 0
    core: tuple[int, int] = (0, 0)

    @classmethod
    def coerce(cls, config: Config | Mapping[str, Any] | None) -> Config:
        return coerce_config(cls, config, OP_NAME)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} = {value!r} must be an integer >= 1")
    return value


class DramUnary:
    name = OP_NAME
    Config = Config
    reader = staticmethod(reader)
    writer = staticmethod(writer)

    def build_program(
        self,
        shape: Any = None,
        *,
        device: str | DeviceProfile,
        direction: str = "read",
        transaction_bytes: int = 2048,
        num_transactions: int = 1,
        bank: int = 0,
        core: tuple[int, int] = (0, 0),
        dtype: str = "uint8",
        config: Config | Mapping[str, Any] | None = None,
        kernels: Mapping[str, KernelFn] | None = None,
    ) -> Program:
        """One core, one kernel, N transfers of S bytes to consecutive addresses of one bank."""
        if shape is not None:
            # Ignoring a shape would silently time something else than the caller asked for.
            raise InputError(
                f"dram_unary takes no tensor shape (got {shape!r}): build it with direction, transaction_bytes "
                "and num_transactions"
            )
        device = load_device(device)
        if config is not None:
            cfg = Config.coerce(config)
        else:
            cfg = Config(direction, transaction_bytes, num_transactions, bank, tuple(core))  # type: ignore[arg-type]
        if cfg.direction not in ("read", "write"):
            raise InputError(f"direction must be 'read' or 'write', got {cfg.direction!r}")
        size = _positive("transaction_bytes", cfg.transaction_bytes)
        count = _positive("num_transactions", cfg.num_transactions)
        if not 0 <= cfg.bank < device.dram.num_banks:
            raise InputError(f"bank {cfg.bank} does not exist on {device.name} ({device.dram.num_banks} banks)")
        cx, cy = cfg.core
        if not (0 <= cx < device.core.grid_x and 0 <= cy < device.core.grid_y):
            raise InputError(f"core {cfg.core} is outside {device.name}'s worker grid")
        slot = "reader" if cfg.direction == "read" else "writer"
        fn = (kernels or {}).get(slot, reader if slot == "reader" else writer)
        spec = KernelSpec(slot, fn, *KERNEL_SLOTS[slot])
        align = device.core.l1_alignment_bytes
        page = -(-size // align) * align
        # All transactions of the run target one bank: one DRAM "page" per transaction, kept in that bank.
        buffer = DramBuffer("dram", count, size, size, 0, "uint8")
        split = split_work_to_cores((1, 1), 1)
        ct = {slot: frozen_mapping({"transaction_bytes": size, "num_transactions": count, "bank": cfg.bank})}
        rt = {slot: frozen_mapping({"dram_addr": 0})}
        core_program = CoreProgram((cx, cy), 1, 0, 1, frozen_mapping(ct), frozen_mapping(rt))
        return Program(
            op_name=OP_NAME,
            device=device,
            shape=(count, size),
            dtype="uint8",
            config=cfg,
            units=1,
            cbs=(CircularBuffer(0, "cb_l1", page, 1, "uint8"),),
            buffers=(buffer,),
            split=split,
            kernels=(spec,),
            cores=(core_program,),
            attributes=frozen_mapping({"direction": cfg.direction, "bank": cfg.bank}),
        )

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OP = DramUnary()

__all__ = ["OP", "Config", "DramUnary", "reader", "writer"]
