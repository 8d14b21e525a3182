"""The files Polku ships inside its packages, read the one way: `importlib.resources`.

The reviewed catalog and rule parameters live under `models/data/`, the page's templates,
stylesheet and texts under `service/`; all of them are package data (pyproject.toml), so a
checkout and an installed wheel read the same files the same way. Nothing is read here at
import time.

>>> catalog_file().name
'services.toml'
>>> [f.name for f in rule_files()][:1]
['kuntakokeilu-1269-2020.toml']
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable


def package_file(package: str, *parts: str) -> Traversable:
    """A file (or folder) shipped inside `package`, e.g. `package_file("service", "static")`."""
    return resources.files(package).joinpath(*parts)


def catalog_file() -> Traversable:
    """The reviewed catalog of services (`models/data/catalog/services.toml`)."""
    return package_file("models", "data", "catalog", "services.toml")


def rule_files() -> list[Traversable]:
    """The gate's dated parameter sets (`models/data/rules/*.toml`), by file name."""
    folder = package_file("models", "data", "rules")
    return sorted(
        (f for f in folder.iterdir() if f.is_file() and f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
