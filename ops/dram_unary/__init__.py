"""dram_unary: the single-core DRAM read / write microbenchmark behind the shipped calibration data.

`OP.build_program(device=..., direction="read"|"write", transaction_bytes=S, num_transactions=N)` builds a
one-core program whose only kernel (the reader on NCRISC / NoC 0, or the writer on BRISC / NoC 1) moves N x S
bytes between L1 and one DRAM bank. `simulate(program).details["zones"]["dram_unary"]` is the cycles of the
profiler zone the CSV reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfmodel.device import DeviceProfile, load_device
from perfmodel.errors import InputError
from perfmodel.op import coerce_config
from perfmodel.ops.dram_unary.kernels import reader, writer
from perfmodel.program import (
    CircularBuffer,
    CoreProgram,
    DramBuffer,
    KernelFn,
    Program,
    frozen_mapping,
    kernel_specs,
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


def _integer(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high]: Python and numpy integers only (a bool, float or string is refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} = {value!r} must be an integer")
    if not low <= int(value) <= high:
        raise InputError(f"{name} = {value!r} must be in {low}..{high}")
    return int(value)


# The keywords that describe a run; `config` is the same as a Config or a dict, so not both.
_KEYWORDS = ("direction", "transaction_bytes", "num_transactions", "bank", "core")


class DramUnary:
    name = OP_NAME
    Config = Config
    reader = staticmethod(reader)
    writer = staticmethod(writer)
    # Not a tensor op: the op subcommands (check, simulate, ...) refuse it; `perfmodel microbench` runs it.
    microbench = True

    def build_program(
        self,
        shape: Any = None,
        *,
        device: str | DeviceProfile,
        direction: str | None = None,
        transaction_bytes: int | None = None,
        num_transactions: int | None = None,
        bank: int | None = None,
        core: tuple[int, int] | None = None,
        dtype: str = "uint8",
        config: Config | Mapping[str, Any] | None = None,
        kernels: Mapping[str, KernelFn] | None = None,
    ) -> Program:
        """One core, one kernel, N transfers of S bytes to consecutive addresses of one bank.

        The run is given either by the keywords (defaults: a read of one 2048-byte transaction from bank 0
        on core (0, 0); None means not given) or by `config`, not both. Sizes are bounded by one DRAM bank,
        which holds the whole run.
        """
        if shape is not None:
            # Ignoring a shape would silently time something else than the caller asked for.
            raise InputError(
                f"dram_unary takes no tensor shape (got {shape!r}): build it with direction, transaction_bytes "
                "and num_transactions"
            )
        if dtype != "uint8":
            raise InputError(f"dram_unary moves raw bytes: dtype must be 'uint8', got {dtype!r}")
        device = load_device(device)
        given = {
            name: value
            for name, value in zip(_KEYWORDS, (direction, transaction_bytes, num_transactions, bank, core), strict=True)
            if value is not None
        }
        if config is not None:
            if given:
                raise InputError(
                    f"dram_unary takes config or keywords, not both (got config and {', '.join(sorted(given))})"
                )
            cfg = Config.coerce(config)
        else:
            cfg = Config(**given)
        if not isinstance(cfg.direction, str) or cfg.direction not in ("read", "write"):
            raise InputError(f"direction must be 'read' or 'write', got {cfg.direction!r}")
        # One DRAM bank holds the whole run: this bounds the size and the count before anything loops on them.
        bank_bytes = device.dram.capacity_bytes // device.dram.num_banks
        size = _integer("transaction_bytes", cfg.transaction_bytes, 1, bank_bytes)
        count = _integer("num_transactions", cfg.num_transactions, 1, bank_bytes // size)
        bank_index = _integer("bank", cfg.bank, 0, device.dram.num_banks - 1)
        if (
            not isinstance(cfg.core, tuple | list)
            or len(cfg.core) != 2
            or any(isinstance(c, bool | np.bool_) or not isinstance(c, int | np.integer) for c in cfg.core)
        ):
            raise InputError(f"core must be two integers (x, y), got {cfg.core!r}")
        cx, cy = (int(c) for c in cfg.core)
        if not (0 <= cx < device.core.grid_x and 0 <= cy < device.core.grid_y):
            raise InputError(f"core {cfg.core} is outside {device.name}'s worker grid")
        cfg = dataclasses.replace(cfg, transaction_bytes=size, num_transactions=count, bank=bank_index, core=(cx, cy))
        slot = "reader" if cfg.direction == "read" else "writer"
        (spec,) = kernel_specs(OP_NAME, {slot: reader if slot == "reader" else writer}, kernels)
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
