"""Output files written safely: every file the tool writes (profiles, traces, tables) goes through here.

The rules:
- a path is checked before any work (`check_output_path`), so a long run never ends in a refused file;
- an existing path must be a regular file, or a symbolic link to one (or to nothing yet): the link is
  followed and its target replaced, the link itself stays a link; a folder, device node, fifo or socket is
  refused with an `InputError` naming the path;
- the content goes to a temporary file in the target's own folder, is flushed and fsynced, and is then
  renamed over the target, so a reader sees the old file or the new one, never half of one;
- the temporary file is removed on every failure (including an interrupt), so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from perfmodel.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISSOCK, "a socket"),
)


def check_output_path(path: str | os.PathLike[str], *, what: str = "output file") -> Path:
    """The file that writing `path` will replace or create, with symbolic links followed.

    Raises `InputError` naming `path` when it is empty, is (or links to) anything but a regular file, or
    lies in a folder that does not exist.
    """
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what} {text!r}: empty path")
    # realpath follows every link in the chain; a dangling link resolves to the file it will create.
    target = Path(os.path.realpath(text))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise InputError(f"{what} {text!r}: cannot be inspected ({exc.strerror})") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        shown = text if os.path.abspath(text) == str(target) else f"{text} -> {target}"
        raise InputError(f"{what} {shown!r} is {kind}, not a regular file; refusing to replace it")
    if not target.parent.is_dir():
        raise InputError(f"{what} {text!r}: folder {str(target.parent)!r} does not exist")
    return target


@contextlib.contextmanager
def output_file(
    path: str | os.PathLike[str], *, what: str = "output file", verify: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """A temporary path to write the output to (by any writer: text, Parquet, SQLite), renamed over `path` after.

        with output_file("table.parquet", what="--out") as tmp:
            frame.to_parquet(tmp)

    On leaving the block the file is fsynced, `verify(tmp)` runs if given, and it is renamed over the target
    (permissions of a replaced file kept); on any exception it is removed and the target left untouched.
    """
    target = check_output_path(path, what=what)  # again: the path may have changed since the first check
    tmp = _create_temporary(target)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # Keep the permissions of the file being replaced (a new file gets the umask's).
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        if verify is not None:
            verify(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def write_bytes_safely(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    what: str = "output file",
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Write `data` to `path` through `output_file`; returns the file written (a link's target)."""
    with output_file(path, what=what, verify=verify) as tmp:
        tmp.write_bytes(data)
    return check_output_path(path, what=what)


def write_text_safely(
    path: str | os.PathLike[str],
    text: str,
    *,
    what: str = "output file",
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """`write_bytes_safely` of UTF-8 text."""
    return write_bytes_safely(path, text.encode("utf-8"), what=what, verify=verify)


def _create_temporary(target: Path) -> Path:
    """A new, empty, hidden file beside `target`, created exclusively (never an existing file), mode 0666 - umask."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"cannot write in folder {str(target.parent)!r}: {exc.strerror}") from None
        os.close(fd)
        return tmp
    raise InputError(f"cannot create a temporary file in folder {str(target.parent)!r}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
