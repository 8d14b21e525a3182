"""The ranker in MLflow: a pyfunc wrapper, logging, registration and hash-checked loading.

A model version is one `PolkuModel` (rules versions + catalog snapshot + fitted ranker)
saved in `models.persistence`'s format: JSON and plain arrays, which runs no code when read
(a pickle would run whatever its writer named, so anyone able to write to the registry
would own the server). The file's SHA-256 is recorded three times (the pyfunc's model
config, the MLmodel metadata, and a tag on the registered version) and compared with the
file on every load before it is read; a mismatch is refused (`ArtifactIntegrityError`), and
so is a file in any other format (an old pickle included, without reading it). The
fingerprint of the feature layout the ranker was fitted under
(`models.features.feature_layout_fingerprint`) is recorded beside the hash and in the
file's own header, and both are compared with this code's layout before any object is
built: a version from an earlier `models/features.py` is refused with
`IncompatibleModelError` instead of failing inside the encoder on its first request.

The pyfunc is a "models from code" model (`models/pyfunc_entry.py`), so MLflow stores no
cloudpickle of the wrapper: the only artifact is the hash-checked bundle. Loading it needs the
`polku` package importable (the gate and the catalog limits live there and must be the code
the model was validated with); it is not copied into the artifact with `code_paths`, which
would let two copies of the rules drift apart. The library versions recorded with the model
say which environment it was built in.

Embedded default: a SQLite tracking and registry store at `<state_dir>/mlflow.db` and
artifacts under `<state_dir>/mlartifacts` (MLflow's own default for a SQLite store would be
`./mlruns` under whatever directory the process runs in, so the experiment is created with
an explicit artifact location). `MLFLOW_TRACKING_URI` points elsewhere.

Examples
--------
>>> configure_tracking()  # doctest: +SKIP
>>> with mlflow.start_run():  # doctest: +SKIP
...     version = log_model(model, input_example=frame.head(3))
>>> loaded = load_version(version)  # doctest: +SKIP
>>> mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from models.bundle import IncompatibleModelError, PolkuModel
from models.features import feature_layout_fingerprint
from models.objectives import DEFAULT_OBJECTIVE
from models.persistence import PersistenceError, dump, load, read_header
from models.registry_listing import (
    KEY_METRICS,
    MODEL_NAME,
    VersionRow,
    tracking_uri,
)
from models.state import state_dir
from models.training_period import training_period_of

CHAMPION_ALIAS: Final = "champion"
EXPERIMENT_NAME: Final = "polku-ranker"
ARTIFACT_KEY: Final = "polku_model"
ARTIFACT_FILE: Final = "polku_model.polku"
SHA256_KEY: Final = "polku_model_sha256"
FEATURE_LAYOUT_KEY: Final = "polku_feature_layout"
ENTRY_POINT: Final = Path(__file__).resolve().parent / "pyfunc_entry.py"
LIBRARIES: Final = ("numpy", "pandas", "scikit-learn", "scipy", "mlflow", "polku")
# Columns a pyfunc input may never carry into MLflow (the input example is stored as a file).
FORBIDDEN_INPUT_COLUMNS: Final = ("henkilotunnus",)


class ArtifactIntegrityError(RuntimeError):
    """The model file's hash differs from the one recorded when it was logged."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered version, loaded and checked.

    Attributes
    ----------
    model : PolkuModel
    version : str
        Registered version number.
    trained_at : str
        ISO timestamp of training.
    metrics : dict of str to float
        Metrics of the run that logged the version.
    sha256 : str
        SHA-256 of the model file, as the registry recorded it (and the load checked).
    """

    model: PolkuModel
    version: str
    trained_at: str
    metrics: dict[str, float]
    sha256: str = ""


# -- tracking --------------------------------------------------------------------------------


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts for the tracking store at `uri`.

    Beside the database for a SQLite store, the embedded default included
    (`<dir>/mlartifacts`: MLflow's own default would be `./mlruns` under whatever directory
    the command runs in); None for a tracking server or another store, which decides.

    >>> artifact_location("sqlite:////srv/polku/mlflow.db")
    'file:///srv/polku/mlartifacts'
    >>> artifact_location("http://mlflow.internal:5000") is None
    True
    """
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    if not database.is_absolute():
        database = Path.cwd() / database
    return (database.parent / "mlartifacts").as_uri()


def _is_embedded(uri: str) -> bool:
    return uri == f"sqlite:///{state_dir() / 'mlflow.db'}"


# The MLflow UI opens an experiment on the view of its kind; without the tag, MLflow 3 shows
# the GenAI traces view. These tags make it open on the training runs, with a description.
EXPERIMENT_TAGS: Final = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": (
        "Polku's service ranker: one run per `polku train` (parameters, data fingerprint, "
        "evaluation on held-out clients, per-group metrics), each registered as a version "
        "of polku-ranker; the `champion` alias is what `polku serve` answers with."
    ),
}


def configure_tracking(experiment_name: str = EXPERIMENT_NAME) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns its id.

    With a SQLite store (the embedded one included) a new experiment gets its artifacts
    beside the database (`artifact_location`); with a tracking server the server decides.
    The experiment carries `EXPERIMENT_TAGS` (set when missing).
    """
    uri = tracking_uri()
    if _is_embedded(uri):
        state_dir().mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        experiment_id = str(
            client.create_experiment(
                experiment_name, artifact_location=artifact_location(uri), tags=EXPERIMENT_TAGS
            )
        )
    else:
        experiment_id = str(experiment.experiment_id)
        for key, value in EXPERIMENT_TAGS.items():
            if experiment.tags.get(key) != value:
                client.set_experiment_tag(experiment_id, key, value)
    return experiment_id


def _client() -> MlflowClient:
    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a saved model depends on."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_feature_layout(recorded: str, what: str) -> None:
    """Refuse a model whose recorded feature layout is not this code's.

    Parameters
    ----------
    recorded : str
        The fingerprint recorded when the model was logged ("": not checked here; the
        file's header and the loaded encoder are checked in any case).
    what : str
        How to name the model in the message (e.g. "version 3").

    Raises
    ------
    IncompatibleModelError
    """
    current = feature_layout_fingerprint()
    if recorded and recorded != current:
        raise IncompatibleModelError(
            f"{what} was trained under feature layout {recorded[:12]}, but this code encodes "
            f"layout {current[:12]} (models/features.py changed); retrain it with this code, "
            "or serve it with the polku version it was built with"
        )


def load_checked(path: str | Path, expected_sha256: str, expected_layout: str = "") -> PolkuModel:
    """Read a bundle only if its SHA-256 equals `expected_sha256` and its layout fits.

    Parameters
    ----------
    path : str or Path
    expected_sha256 : str
        SHA-256 recorded when the bundle was logged.
    expected_layout : str, optional
        Feature-layout fingerprint recorded when it was logged; compared with this code's
        before the file is opened, and the file's own header before anything is built.

    Raises
    ------
    ArtifactIntegrityError
        The file's hash differs (it was changed after logging), no hash was recorded, or
        the file is not a Polku model file (`models.persistence`; a pickle is refused
        without being read).
    IncompatibleModelError
        The bundle was fitted under another feature layout than this code encodes.
    """
    check_feature_layout(expected_layout, Path(path).name)
    if not expected_sha256:
        raise ArtifactIntegrityError(f"no SHA-256 recorded for {Path(path).name}; refusing it")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ArtifactIntegrityError(
            f"{Path(path).name} has SHA-256 {actual[:12]}..., but {expected_sha256[:12]}... "
            "was recorded when it was logged; refusing to load a changed model file"
        )
    try:
        check_feature_layout(str(read_header(path).get(FEATURE_LAYOUT_KEY, "")), Path(path).name)
        model = load(path)
    except PersistenceError as exc:
        raise ArtifactIntegrityError(str(exc)) from None
    if not isinstance(model, PolkuModel):
        raise ArtifactIntegrityError(f"{Path(path).name} does not hold a PolkuModel")
    return model


# -- the pyfunc ------------------------------------------------------------------------------


class PolkuPyfunc(PythonModel):
    """MLflow pyfunc over a `PolkuModel`.

    Input: a DataFrame of raw client profiles (the fields of `models.profile`; a
    henkilötunnus column is accepted, used for the birth date and dropped). Params:
    `objective` (default the six-month objective) and `top_k` (0: all). Output: one row per
    input row with `client_id`, `eligible`, `rules_version` and `suggestions` (JSON list of
    ranked services with with/without, uplift, interval and drivers).
    """

    model: PolkuModel

    def load_context(self, context: Any) -> None:
        """Check the bundle's hash and layout, then read it."""
        config = context.model_config or {}
        self.model = load_checked(
            context.artifacts[ARTIFACT_KEY],
            config.get(SHA256_KEY, ""),
            config.get(FEATURE_LAYOUT_KEY, ""),
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Gate and rank each input profile (see the class docstring)."""
        from models.profile_validation import parse_profile_frame, profile_from_row

        params = params or {}
        objective = str(params.get("objective") or DEFAULT_OBJECTIVE)
        top_k = int(params.get("top_k") or 0) or None
        parsed = parse_profile_frame(pd.DataFrame(model_input))
        if parsed.errors:
            first = parsed.errors[:5]
            described = "; ".join(f"row {e.row} {e.field}: {e.message}" for e in first)
            raise ValueError(f"{len(parsed.errors)} invalid profile value(s): {described}")
        records = []
        for _, row in parsed.frame.iterrows():
            profile = profile_from_row(row)
            decision, ranked = self.model.recommend(profile, objective, top_k)
            records.append(
                {
                    "client_id": profile.client_id,
                    "eligible": decision.eligible,
                    "rules_version": decision.rules_version,
                    "suggestions": json.dumps([_ranked_record(r) for r in ranked]),
                }
            )
        return pd.DataFrame.from_records(
            records, columns=["client_id", "eligible", "rules_version", "suggestions"]
        )


def _ranked_record(ranked: Any) -> dict[str, Any]:
    return {
        "service_id": ranked.service_id,
        "rank": ranked.rank,
        "expected_with": ranked.expected_with,
        "expected_without": ranked.expected_without,
        "uplift": ranked.uplift,
        "uplift_low": ranked.uplift_low,
        "uplift_high": ranked.uplift_high,
        "drivers": [
            {"factor": d.factor, "uplift_without": d.uplift_without} for d in ranked.drivers
        ],
    }


# -- logging and registering -----------------------------------------------------------------


def _clean_input_example(frame: pd.DataFrame) -> pd.DataFrame:
    example = frame.drop(columns=[c for c in FORBIDDEN_INPUT_COLUMNS if c in frame.columns])
    example = example.reset_index(drop=True).copy()
    # Serialisable plain values: dates as ISO strings, missing as None.
    for column in example.columns:
        if pd.api.types.is_datetime64_any_dtype(example[column]):
            example[column] = example[column].dt.strftime("%Y-%m-%d").astype(object)
            example.loc[example[column].isna(), column] = None
    return example


def log_polku_model(
    model: PolkuModel,
    *,
    input_example: pd.DataFrame | None = None,
    name: str = "model",
) -> Any:
    """Log a bundle as a pyfunc model in the active run (one is started if none is).

    Parameters
    ----------
    model : PolkuModel
    input_example : pandas.DataFrame, optional
        A few profiles; used for the signature and stored with the model, so invented ones
        (`pipeline.training.train.EXAMPLE_PROFILES`), never register rows. A henkilötunnus column is
        dropped first.
    name : str
        The logged model's name within the run.

    Returns
    -------
    mlflow.models.model.ModelInfo
        With `model_uri`; its metadata carries the SHA-256 of the bundle.
    """
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory(prefix="polku-model-") as tmp:
        path = Path(tmp) / ARTIFACT_FILE
        dump(model, path, header={FEATURE_LAYOUT_KEY: model.feature_layout})
        sha256 = file_sha256(path)
        versions = library_versions()
        example = None
        signature = None
        if input_example is not None:
            example = _clean_input_example(input_example)
            pyfunc = PolkuPyfunc()
            pyfunc.model = model
            output = pyfunc.predict(None, example)
            with warnings.catch_warnings():
                # The hint that integer columns cannot hold missing values: a valid profile's
                # integer field (months unemployed) is never missing.
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                signature = infer_signature(
                    example, output, params={"objective": DEFAULT_OBJECTIVE, "top_k": 0}
                )
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(ENTRY_POINT),
            artifacts={ARTIFACT_KEY: str(path)},
            model_config={SHA256_KEY: sha256, FEATURE_LAYOUT_KEY: model.feature_layout},
            signature=signature,
            input_example=example,
            pip_requirements=[
                f"{lib}=={versions[lib]}"
                for lib in ("numpy", "pandas", "scikit-learn", "scipy", "mlflow")
            ],
            metadata={
                SHA256_KEY: sha256,
                FEATURE_LAYOUT_KEY: model.feature_layout,
                "library_versions": versions,
                "rules_versions": list(model.rules_versions),
                "catalog_fingerprint": model.catalog.fingerprint,
                "trained_at": model.trained_at,
            },
        )
    return info


def register(model_info: Any) -> str:
    """Register a logged model as a new version of `MODEL_NAME`; returns the version number.

    The bundle's SHA-256 is also set as a tag of the version, so a load can compare the
    file against the registry, not only against the metadata stored beside the file; so is
    its feature layout, so the registry shows which code a version needs.
    """
    sha256 = (model_info.metadata or {}).get(SHA256_KEY)
    if not sha256:
        raise ValueError("the logged model carries no SHA-256; log it with log_polku_model")
    version = mlflow.register_model(model_info.model_uri, MODEL_NAME)
    client = _client()
    client.set_model_version_tag(MODEL_NAME, version.version, SHA256_KEY, sha256)
    layout = (model_info.metadata or {}).get(FEATURE_LAYOUT_KEY)
    if layout:
        client.set_model_version_tag(MODEL_NAME, version.version, FEATURE_LAYOUT_KEY, layout)
    return str(version.version)


def describe_version(version: str | int, description: str, metrics: dict[str, float]) -> None:
    """Give a registered version a description and its key metrics as tags (`metric.NAME`),
    so the registry's own pages say what each version is and how it did."""
    client = _client()
    client.update_model_version(MODEL_NAME, str(version), description=description)
    for name, value in metrics.items():
        client.set_model_version_tag(MODEL_NAME, str(version), f"metric.{name}", f"{value:.6g}")


def log_model(model: PolkuModel, *, input_example: pd.DataFrame | None = None) -> str:
    """Log the bundle in the active run and register it; returns the new version number.

    The version is tagged with its training period (`models.training_period`, dates only)
    when the model records one, so the registry shows what data a version may not be
    judged on."""
    version = register(log_polku_model(model, input_example=input_example))
    period = training_period_of(model.metadata)
    for key, value in ({} if period is None else period.tags()).items():
        set_version_tag(version, key, value)
    return version


def champion_version() -> str | None:
    """The version holding the champion alias, without loading it; None when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version)
    except MlflowException:
        return None


def set_champion(version: str | int) -> None:
    """Give `version` the champion alias."""
    _client().set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, str(version))


# -- loading ---------------------------------------------------------------------------------


def load_version(version: str | int) -> LoadedModel:
    """Load a registered version, checking the bundle's hash and layout before reading it."""
    client = _client()
    model_version = client.get_model_version(MODEL_NAME, str(version))
    return _load(client, model_version)


def load_champion() -> LoadedModel:
    """Load the version holding the champion alias (hash- and layout-checked).

    Raises
    ------
    ArtifactIntegrityError
        The model file changed after logging.
    IncompatibleModelError
        The version was trained under another feature layout than this code encodes.
    """
    client = _client()
    model_version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    return _load(client, model_version)


def _load(client: MlflowClient, model_version: Any) -> LoadedModel:
    from mlflow.artifacts import download_artifacts
    from mlflow.models import Model

    uri = client.get_model_version_download_uri(MODEL_NAME, str(model_version.version))
    registered_hash = (model_version.tags or {}).get(SHA256_KEY, "")
    with tempfile.TemporaryDirectory(prefix="polku-load-") as tmp:
        local = Path(download_artifacts(artifact_uri=uri, dst_path=tmp))
        metadata = Model.load(str(local)).metadata or {}
        recorded = str(metadata.get(SHA256_KEY, ""))
        if registered_hash and recorded != registered_hash:
            raise ArtifactIntegrityError(
                f"version {model_version.version}: the model's recorded hash differs from the "
                "registry's; refusing it"
            )
        files = list(local.rglob(ARTIFACT_FILE))
        if len(files) != 1:
            raise ArtifactIntegrityError(
                f"version {model_version.version}: expected one {ARTIFACT_FILE}, found {len(files)}"
            )
        layout = str(
            metadata.get(FEATURE_LAYOUT_KEY)
            or (model_version.tags or {}).get(FEATURE_LAYOUT_KEY, "")
        )
        check_feature_layout(layout, f"version {model_version.version}")
        model = load_checked(files[0], registered_hash or recorded, layout)
    metrics: dict[str, float] = {}
    if model_version.run_id:
        metrics = dict(client.get_run(model_version.run_id).data.metrics)
    return LoadedModel(
        model, str(model_version.version), model.trained_at, metrics, registered_hash or recorded
    )


# -- runs and versions -----------------------------------------------------------------------
# Every other MLflow call of Polku goes through these, so the pipeline never holds a client.

RegistryError = MlflowException
"""What MLflow raises for an unknown version, alias or run (for callers to catch)."""

# The metrics `polku models` shows beside each version.


class TrainingRun:
    """The active MLflow run of `polku train`, as the few calls training makes."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def log_params(self, params: dict[str, str]) -> None:
        mlflow.log_params(params)

    def set_tags(self, tags: dict[str, str]) -> None:
        mlflow.set_tags(tags)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        mlflow.log_metrics(metrics)

    def log_dict(self, payload: dict[str, Any], artifact_file: str) -> None:
        mlflow.log_dict(payload, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        mlflow.log_text(text, artifact_file)

    def log_artifacts(self, local_dir: Path, artifact_path: str) -> None:
        mlflow.log_artifacts(str(local_dir), artifact_path=artifact_path)

    def describe(self, text: str) -> None:
        """The run's description (what the MLflow UI shows on the run's page)."""
        mlflow.set_tag("mlflow.note.content", text)

    def log_dataset(
        self, frame: pd.DataFrame, *, name: str, source: str, digest: str, context: str
    ) -> None:
        """Record a dataset the run used: its name, source, digest, schema and size.

        MLflow keeps the schema and counts, not the rows; the digest is the data's own
        fingerprint (cut to the 32 characters a dataset digest holds in MLflow's store).
        """
        from mlflow.data.pandas_dataset import from_pandas

        dataset = from_pandas(frame, source=source, name=name, digest=digest[:32])
        mlflow.log_input(dataset, context=context)


FAILURE_REASON_TAG: Final = "failure_reason"
# An MLflow tag value holds at most 5,000 characters (older stores: 250 for params).
_MAX_REASON: Final = 4_000


def _reason(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


@contextmanager
def training_run(run_name: str) -> Iterator[TrainingRun]:
    """Start a run in Polku's experiment (configuring tracking first); ends it on exit.

    A run left by an exception ends FAILED with the tag `failure_reason` (the exception's
    kind and message; training's own messages never carry a person's data).
    """
    experiment_id = configure_tracking()
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        try:
            yield TrainingRun(run.info.run_id)
        except BaseException as exc:
            mlflow.set_tag(FAILURE_REASON_TAG, _reason(f"{type(exc).__name__}: {exc}"))
            raise


def record_failed_run(run_name: str, reason: str, params: dict[str, str]) -> str:
    """A run that failed before it could log anything else: its parameters, the tag
    `failure_reason`, status FAILED. Returns the run id."""
    experiment_id = configure_tracking()
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.set_tag(FAILURE_REASON_TAG, _reason(reason))
        run_id = run.info.run_id
        mlflow.end_run(status="FAILED")
    return run_id


def failure_reason(run_id: str) -> str | None:
    """The `failure_reason` tag of a run (None when it has none)."""
    configure_tracking()
    return _client().get_run(run_id).data.tags.get(FAILURE_REASON_TAG)


def run_params(version: str | int) -> dict[str, str]:
    """The parameters of the run that produced a registered version ({} without a run)."""
    configure_tracking()
    client = _client()
    model_version = client.get_model_version(MODEL_NAME, str(version))
    if not model_version.run_id:
        return {}
    return dict(client.get_run(model_version.run_id).data.params)


def log_to_version_run(version: str | int, payload: dict[str, Any], artifact_file: str) -> None:
    """Add a JSON artifact to the run that produced `version` (e.g. a promotion decision)."""
    model_version = _client().get_model_version(MODEL_NAME, str(version))
    if model_version.run_id:
        with mlflow.start_run(run_id=model_version.run_id):
            mlflow.log_dict(payload, artifact_file)


def set_version_tag(version: str | int, key: str, value: str) -> None:
    """Tag a registered version (e.g. the outcome of a promotion against the champion)."""
    _client().set_model_version_tag(MODEL_NAME, str(version), key, value)


def version_tags(version: str | int) -> dict[str, str]:
    """The tags of a registered version."""
    return dict(_client().get_model_version(MODEL_NAME, str(version)).tags)


def list_versions() -> list[VersionRow]:
    """Every registered version of the ranker, newest first, with aliases and key metrics,
    as MLflow's client reads them (any store; `models.registry_listing.read_versions` is
    the fast reading of a SQLite store)."""
    import datetime as dt

    configure_tracking()
    client = _client()
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    if not versions:
        return []
    # Searches do not fill in aliases; the registered model holds them.
    aliases_of: dict[str, list[str]] = {}
    try:
        registered = client.get_registered_model(MODEL_NAME)
        for alias, version in (registered.aliases or {}).items():
            aliases_of.setdefault(str(version), []).append(alias)
    except MlflowException:
        pass
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        metrics: dict[str, float] = {}
        fingerprint = ""
        if mv.run_id:
            run = client.get_run(mv.run_id)
            metrics = {k: v for k, v in run.data.metrics.items() if k in KEY_METRICS}
            fingerprint = run.data.params.get("data_fingerprint", "")
        created = dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC)
        rows.append(
            VersionRow(
                version=str(mv.version),
                aliases=tuple(sorted(aliases_of.get(str(mv.version), ()))),
                created=created.isoformat(timespec="seconds"),
                run_id=mv.run_id or "",
                metrics=metrics,
                data_fingerprint=fingerprint,
            )
        )
    return rows
