"""Run from the project's own checkout whichever way the project was installed.

The op packages and board profiles live in top-level folders of the project (`ops/`, `device_profiles/`) and
are installed inside the package as `perfmodel.ops` and `perfmodel.device_profiles` (see pyproject.toml).
An installed copy has them inside; an editable install maps them with its import hook. But Python run from
the project root imports the source `perfmodel/` folder first (the current folder leads `sys.path`), and that
folder has neither: after a plain `pip install .`, `import perfmodel` from the checkout would find no ops.

`mount_project_folders` closes that gap: when the package is the source folder of a checkout (its parent holds
pyproject.toml and the top-level folders) and a subpackage is not inside it, the top-level folder is imported
under the package's name. Only those two names are mounted; nothing else of the project root becomes
importable as part of `perfmodel`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

FOLDERS = ("ops", "device_profiles")


def mount_project_folders(package_name: str, package_dir: Path) -> list[str]:
    """Import `<root>/<folder>` as `<package_name>.<folder>` where the package lacks it; the names mounted."""
    root = package_dir.parent
    if not (root / "pyproject.toml").is_file():
        return []  # an installed copy (site-packages): its subpackages are inside it
    mounted = []
    for folder in FOLDERS:
        name = f"{package_name}.{folder}"
        init = root / folder / "__init__.py"
        if name in sys.modules or (package_dir / folder).exists() or not init.is_file():
            continue
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        setattr(sys.modules[package_name], folder, module)
        mounted.append(name)
    return mounted
