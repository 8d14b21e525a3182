"""Output files of the `polku` commands: the check of a target before any work, and the one
atomic write (a temporary file beside the target, then a rename).

Every command that writes a file checks each target up front with `check_output_file` (a
file) or `check_output_dir` (a directory it writes named files into), so a bad path is
refused in a sentence before minutes of work: not an existing directory (or special file),
its parent a directory that exists or can be created, somewhere this process can create a
file, and not one of the command's own inputs. `write_atomically` is the write itself: an
`OSError` at write or rename time (a full disk, a directory made meanwhile) becomes the same
`OutputPathError`, and the temporary file is always removed. `pipeline/` and `service/`
both write through here (neither imports the other).
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Inputs by the name a user gave them (`INPUT`, `--mapping`); None for an option not given.
Inputs = Mapping[str, Path | None]

_REASONS = {
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EEXIST: "a part of the path is a file, not a directory",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "the name is too long",
}


class OutputPathError(ValueError):
    """An output path that cannot be written; the message says which path and why."""


def reason(error: OSError) -> str:
    """Why an `OSError` stopped a write, in words (its errno's, else the system's)."""
    words = _REASONS.get(error.errno or 0) or error.strerror or str(error)
    return words[:1].lower() + words[1:]


def check_output_file(path: Path, option: str, *, inputs: Inputs | None = None) -> None:
    """Refuse `path` as the file `option` writes, before any work, unless it can be written.

    Raises
    ------
    OutputPathError
        `path` is an existing directory or special file, its parent cannot be created or
        written into, or it is the same file as one of `inputs` (named in the message).
    """
    where = f"{option} {path}"
    if os.path.isdir(path):
        raise OutputPathError(f"{where}: is an existing directory; give the path of a file")
    if os.path.lexists(path) and not _regular(path):
        raise OutputPathError(f"{where}: is not a regular file; give the path of a file")
    for name, source in (inputs or {}).items():
        if source is not None and _same_file(path, source):
            raise OutputPathError(
                f"{where}: is also {name}, which the command reads; writing it would "
                "overwrite that input: give another path"
            )
    _check_writable_parent(path, where)


def check_output_dir(
    path: Path, option: str, *, files: Iterable[str] = (), inputs: Inputs | None = None
) -> None:
    """Refuse `path` as the directory `option` writes `files` into, unless it can be.

    Raises
    ------
    OutputPathError
        `path` is an existing file, cannot be created or written into, or one of `files`
        in it cannot be written (as `check_output_file` says).
    """
    where = f"{option} {path}"
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputPathError(f"{where}: is a file, not a directory; give a directory")
    if os.path.isdir(path):
        _probe(Path(path), where)
    else:
        _check_writable_parent(path / "probe", where)
    for name in files:
        check_output_file(path / name, f"{option} {path} ({name})", inputs=inputs)


def write_atomically(path: Path, fill: Callable[[Path], T]) -> T:
    """Call `fill(temporary)` on a new file beside `path`, then rename it to `path`.

    The parent directories are created as needed; the file is as readable as any file the
    process makes (the umask's mode, not `mkstemp`'s private 0600) and is flushed to disk
    before the rename, so a reader sees the old file or the whole new one. Returns what
    `fill` returns.

    Raises
    ------
    OutputPathError
        An `OSError` while creating, writing or renaming; no temporary file is left behind.
    """
    temporary, result = _staged(path, fill)
    _rename([(temporary, path)])
    return result


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`write_atomically`)."""
    write_atomically(path, lambda temporary: temporary.write_bytes(data))


def atomic_write_all(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write files that belong together (a table and its summary), none unless all were
    written: each goes to its temporary first (where a full disk or a quota fails), and only
    then is each renamed into place.

    Raises
    ------
    OutputPathError
        As `write_atomically`; a failure before the renames leaves every old file as it was
        and no temporary behind.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files:
            temporary, _ = _staged(path, functools.partial(_write_bytes, data))
            staged.append((temporary, path))
    finally:
        if len(staged) < len(files):  # a write failed: nothing is renamed into place
            _remove(staged)
    _rename(staged)


def _staged(path: Path, fill: Callable[[Path], T]) -> tuple[Path, T]:
    """A temporary beside `path`, filled and flushed to disk, and what `fill` returned."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputPathError(f"cannot write {path}: {reason(error)}") from error
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        result = fill(temporary)
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputPathError(f"cannot write {path}: {reason(error)}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, result


def _write_bytes(data: bytes, temporary: Path) -> int:
    return temporary.write_bytes(data)


def _rename(staged: Sequence[tuple[Path, Path]]) -> None:
    """Rename each temporary to its path; on a failure, remove the temporaries left."""
    try:
        for temporary, path in staged:
            try:
                os.replace(temporary, path)
            except OSError as error:
                raise OutputPathError(f"cannot write {path}: {reason(error)}") from error
    finally:
        _remove(staged)


def _remove(staged: Sequence[tuple[Path, Path]]) -> None:
    """Remove the temporaries still there (a renamed one is gone already)."""
    for temporary, _ in staged:
        temporary.unlink(missing_ok=True)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a dangling symbolic link: the rename replaces the link itself
        return os.path.islink(path)


def _same_file(path: Path, source: Path) -> bool:
    try:
        return os.path.samefile(path, source)
    except OSError:  # either is missing: nothing is overwritten
        return False


def _check_writable_parent(path: Path, where: str) -> None:
    """The nearest existing ancestor of `path` must be a directory a file can be made in."""
    ancestor = Path(os.path.abspath(path)).parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not os.path.isdir(ancestor):
        raise OutputPathError(f"{where}: {ancestor} is a file, not a directory")
    parent = Path(os.path.abspath(path)).parent
    what = "a file" if ancestor == parent else f"its directory {parent}"
    _probe(ancestor, where, what)


def _probe(directory: Path, where: str, what: str = "a file") -> None:
    """Make and remove a file in `directory` (permission bits do not bind root; this does)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".polku-probe.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise OutputPathError(
            f"{where}: cannot create {what} in {directory} ({reason(error)})"
        ) from error
    os.close(handle)
    os.unlink(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
