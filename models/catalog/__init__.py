"""The service catalog: Helsinki's and its partners' services, and who may take each one.

One job per module:

- `services`: what a service is (`Service`, `ServiceLimits`, `FAMILIES`);
- `loading`: reading and checking `models/data/catalog/services.toml` (and snapshots);
- `limits`: which services a profile, or a whole frame of them, may take;
- `catalog`: the `Catalog` itself, in a fixed order, and `load_catalog`.

The names callers use are importable from here.
"""

from models.catalog.catalog import SNAPSHOT_VERSION, Catalog, load_catalog
from models.catalog.limits import LIMIT_COLUMNS, language_level_rank
from models.catalog.loading import DEFAULT_CATALOG_PATH, CatalogError
from models.catalog.services import FAMILIES, Service, ServiceLimits
from models.languages import LANGUAGES, LocalizedText

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "FAMILIES",
    "LANGUAGES",
    "LIMIT_COLUMNS",
    "SNAPSHOT_VERSION",
    "Catalog",
    "CatalogError",
    "LocalizedText",
    "Service",
    "ServiceLimits",
    "language_level_rank",
    "load_catalog",
]
