"""Polku installed from its wheel, away from the checkout: the catalog, the rule parameters,
the migrations, the page's templates, stylesheet and texts all travel as package data.

The wheel is built offline from a copy of the sources (`--no-build-isolation`: setuptools
from the dev extras), installed with `--no-index --no-deps` into a fresh venv (no pip of its
own) whose only view of the dependencies is a `.pth` line naming this venv's site-packages
(so no network, and nothing of the checkout: the editable install's hooks there are not
run). Every command then runs from a directory outside the checkout. About a minute on a
2-core machine, most of it `polku train`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_until
from tests.service.helpers import client_profile, free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "models", "pipeline", "service")


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(a working directory outside the checkout, the environment of the installed `polku`)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLKU_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist),
          str(source)], work, env)  # fmt: skip
    (wheel,) = dist.glob("polku-*.whl")

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], work, env)
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                work, env).strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "polku-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    # This venv's pip installs into the new one (`--python`), whose own pip is not needed.
    _run([*pip, "--python", str(python), "install", "--no-index", "--no-deps", str(wheel)],
         work, env)  # fmt: skip

    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    env["POLKU_STATE_DIR"] = str(elsewhere / "state")
    where = _run([str(python), "-c", "import models, service; print(models.__file__)"],
                 elsewhere, env)  # fmt: skip
    assert where.strip().startswith(site), f"polku imported from {where}, not the venv"
    return elsewhere, env


def test_the_wheel_carries_its_data_and_runs_every_command(
    installed: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = installed
    polku = str(Path(env["PATH"].split(os.pathsep)[0]) / "polku")
    out = _run([polku, "generate", "--clients", "1500", "--seed", "0", "--out", "world"], cwd, env)
    assert (cwd / "world" / "episodes.parquet").exists(), out

    out = _run([polku, "eligibility", "world/clients.parquet", "--output", "decisions.csv",
                "--today", "2025-01-01"], cwd, env)  # fmt: skip
    assert "1500 decided" in out
    assert "kuntakokeilu" in (cwd / "decisions.csv").read_text()  # the shipped rule sets

    out = _run([polku, "train", "--data", "world", "--promote-if-first", "--bootstrap", "5"],
               cwd, env)  # fmt: skip
    assert "now champion" in out

    for served in _serve(polku, cwd, env):
        ready = httpx.get(f"{served}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        answer = httpx.post(
            f"{served}/v1/recommendations",
            json={"profile": client_profile()},
            headers={"Authorization": "Bearer dev-caseworker-key"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == "1" and answer.json()["services"]
        signin = httpx.get(f"{served}/signin", timeout=5)  # a template and the page's texts
        assert signin.status_code == 200 and "/static/page.css" in signin.text
        css = httpx.get(f"{served}/static/page.css", timeout=5)
        assert css.status_code == 200 and "--ink" in css.text


def _serve(polku: str, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Run `polku serve --dev-keys` from the wheel; yield its URL once ready, then stop it."""
    port = free_port()
    log = cwd / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [polku, "serve", "--port", str(port), "--dev-keys"],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"polku serve exited:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/health/live", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 120, "the installed polku serve to answer /health/live", interval=0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
