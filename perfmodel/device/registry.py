"""Find board profiles by name: the TOML files shipped in `perfmodel.device_profiles`, or any path."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from perfmodel.device.profile import DeviceProfile
from perfmodel.errors import InputError


def _profile_dir() -> Path:
    return Path(str(resources.files("perfmodel.device_profiles")))


def list_devices() -> list[str]:
    """Names of the shipped boards, sorted."""
    return sorted(p.stem for p in _profile_dir().glob("*.toml"))


@functools.cache
def _load_shipped(name: str) -> DeviceProfile:
    return DeviceProfile.from_toml(_profile_dir() / f"{name}.toml")


def load_device(name_or_path: str | Path | DeviceProfile) -> DeviceProfile:
    """A shipped board by name (e.g. 'wormhole_b0_n150') or a profile file by path."""
    if isinstance(name_or_path, DeviceProfile):
        return name_or_path
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        return DeviceProfile.from_toml(Path(text))
    if text not in list_devices():
        raise InputError(f"unknown device {text!r} (known: {', '.join(list_devices())})")
    return _load_shipped(text)
