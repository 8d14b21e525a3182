"""State files readable by their owner only: the audit and session databases, the keys.

SQLite creates its `-wal` and `-shm` files with the permissions of the database file, so a
database created here 0600 keeps its companions private too.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; a directory created here is owner-only."""
    if not path.exists():
        path.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
    return path


def private_sqlite_file(database: str | Path) -> Path:
    """Make sure the SQLite file exists and only its owner may read or write it.

    A new file is created 0600; an existing one readable by others is narrowed to 0600 (and
    said so in the log), as are its `-wal` and `-shm` companions.
    """
    path = Path(database)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        narrow_to_owner(candidate)
    return path


def narrow_to_owner(path: Path) -> None:
    """chmod 0600 a file that others could read (no-op if missing or already private)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, PRIVATE_FILE)
        log.warning("%s was readable by others (%o): narrowed to 0600", path.name, mode)


def open_private(path: Path, flags: int) -> int:
    """`os.open` of a file created 0600 (for lock and key files)."""
    private_dir(path.parent)
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    narrow_to_owner(path)
    return fd
