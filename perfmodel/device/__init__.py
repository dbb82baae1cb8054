"""Board profiles: frozen records, the TOML loader and the registry of shipped boards."""

from perfmodel.device.loader import load_profile_file
from perfmodel.device.profile import (
    TAGS,
    ComputeCost,
    CoreSpec,
    DeviceProfile,
    DispatchSpec,
    DramSpec,
    DstSpec,
    FormatCompute,
    NocSpec,
    Provenance,
)
from perfmodel.device.registry import list_devices, load_device

__all__ = [
    "TAGS",
    "ComputeCost",
    "CoreSpec",
    "DeviceProfile",
    "DispatchSpec",
    "DramSpec",
    "DstSpec",
    "FormatCompute",
    "NocSpec",
    "Provenance",
    "list_devices",
    "load_device",
    "load_profile_file",
]
