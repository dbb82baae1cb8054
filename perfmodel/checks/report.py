"""Frozen check results: violations and the per-core L1 picture behind them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfmodel.program import CircularBuffer


@dataclass(frozen=True)
class Violation:
    """One broken rule: `kind` is a stable identifier (e.g. 'l1_overflow'), `message` says it for people."""

    kind: str
    message: str
    where: str | None = None  # kernel source line, when the rule is about a kernel


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    violations: tuple[Violation, ...]
    l1_bytes_per_core: int
    l1_budget_bytes: int
    cbs: tuple[CircularBuffer, ...]
    num_cores: int
    core_groups: tuple[tuple[tuple[Any, ...], int], ...]
    device: str
    # The program factory tt-metal picks for the op and why, for ops that choose between several.
    factory: str | None = None
    factory_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, field names as in the CLI."""
        return {
            "ok": self.ok,
            "device": self.device,
            "violations": [
                {"kind": v.kind, "message": v.message, **({"where": v.where} if v.where else {})}
                for v in self.violations
            ],
            "l1_bytes_per_core": self.l1_bytes_per_core,
            "l1_budget_bytes": self.l1_budget_bytes,
            "cbs": [
                {
                    "index": cb.index,
                    "name": cb.name,
                    "page_size": cb.page_size_bytes,
                    "num_pages": cb.num_pages,
                    "bytes": cb.total_bytes,
                    "data_format": cb.data_format,
                }
                for cb in self.cbs
            ],
            "num_cores": self.num_cores,
            "core_groups": [
                {"cores": [[list(r[0]), list(r[1])] for r in ranges], "units_per_core": units}
                for ranges, units in self.core_groups
            ],
            **({"factory": self.factory, "factory_reason": self.factory_reason} if self.factory else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        """The report back from its `to_dict()` form (e.g. a service's JSON)."""
        return cls(
            ok=bool(data["ok"]),
            violations=tuple(Violation(v["kind"], v["message"], v.get("where")) for v in data["violations"]),
            l1_bytes_per_core=int(data["l1_bytes_per_core"]),
            l1_budget_bytes=int(data["l1_budget_bytes"]),
            cbs=tuple(
                CircularBuffer(cb["index"], cb["name"], cb["page_size"], cb["num_pages"], cb["data_format"])
                for cb in data["cbs"]
            ),
            num_cores=int(data["num_cores"]),
            core_groups=tuple(
                (tuple((tuple(r[0]), tuple(r[1])) for r in group["cores"]), int(group["units_per_core"]))
                for group in data["core_groups"]
            ),
            device=str(data["device"]),
        )
