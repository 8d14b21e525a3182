"""The catalog a data directory carries, when it is not the reviewed default.

A world drawn with a catalog of its own (the `many_small` scenario splits every service into
variants) is written with that catalog beside its files, as `catalog.json` (the same snapshot
a model stores, `models.catalog.Catalog.to_snapshot`). Every reader of a data directory
resolves its catalog here, in one order: the catalog passed explicitly (`--catalog`), else
the directory's `catalog.json`, else the reviewed `models/data/catalog/services.toml`. A register
extract carries no catalog file, so it is read against the reviewed one, as always.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from models.catalog import Catalog, CatalogError, load_catalog
from models.output_files import atomic_write_bytes

CATALOG_FILE: Final = "catalog.json"


def directory_catalog(directory: str | Path) -> Catalog | None:
    """The catalog `directory` carries (its `catalog.json`), or None when it has none.

    Raises
    ------
    CatalogError
        The file is not a valid catalog snapshot (the message names the file).
    """
    path = Path(directory) / CATALOG_FILE
    if not path.is_file():
        return None
    try:
        return Catalog.from_snapshot(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, CatalogError) as exc:
        raise CatalogError(f"{path}: {exc}") from None


def resolve_catalog(directory: str | Path, catalog: Catalog | None = None) -> Catalog:
    """The catalog to read `directory` with: `catalog` if given, else the directory's own,
    else the reviewed default."""
    if catalog is not None:
        return catalog
    own = directory_catalog(directory)
    return own if own is not None else load_catalog()


def write_catalog(catalog: Catalog, directory: str | Path) -> Path:
    """Write `catalog` as `directory/catalog.json`, atomically; the path written."""
    path = Path(directory) / CATALOG_FILE
    text = json.dumps(catalog.to_snapshot(), ensure_ascii=False, indent=1, sort_keys=True)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))
    return path
