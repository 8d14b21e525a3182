"""The security review of issue 13, rerun against a real `polku serve`: four figures.

Run as `.venv/bin/python bench/bench_security_review.py` (about 10 min on 2 busy cores). In
a fresh state directory it generates a world and trains a champion (`polku generate`,
`polku train`; or `--state DIR` reuses a directory that has both), then, on loopback:

1. **schemathesis with every role**: every operation of `/openapi.json` fuzzed with no key
   and with each role's key (`--examples` cases each); requests sent, 5xx answers, and
   answers outside the documented schema, status codes or content types.
2. **the role matrix**: every API route and the page's sign-in, with no key, an unknown key,
   two caseworkers, a data scientist, an evaluator and a team lead, against the policy
   written below (not read from the code); plus one caseworker deciding on another's
   request. A violation is an allowed caller refused, a refused one let through, or an
   operation of `/openapi.json` the policy does not name.
3. **the echo scan**: valid and disguised identity codes sent through every input (each
   profile field, unknown field names, objective, language, decision reason and ids, query
   parameters, paths, the request id and key headers, the page's sign-in, profile and
   decision forms, a body that is not UTF-8, the profiles of an allocation cohort as a data
   scientist and as a team lead, the model switch's reason), then searched for in every
   sink: the answers (bodies and headers), the server's log, the audit database, the
   session database, an audit export and the MLflow store (which is also searched for the
   world's own codes).
4. **kill -9 under load**: six clients asking and deciding, the server killed mid-stream
   `--kills` times; every answered suggestion and decision must be in the audit store
   after the restart.

The rate limits are raised for the run (one address sends everything; the limits have
their own tests). The figures go to `bench/results/security_review.json` and are quoted in
docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "security_review.json"
HMAC_KEY = "review-hmac-key-0123456789abcdef-0123456789"
KEYS = {
    "desk-1": ("caseworker", "review-caseworker-key-desk-1"),
    "desk-2": ("caseworker", "review-caseworker-key-desk-2"),
    "ds-1": ("data_scientist", "review-data-scientist-key-1"),
    "eval-1": ("evaluator", "review-evaluator-key-1"),
    "lead-1": ("team_lead", "review-team-lead-key-1"),
}
CALLERS = ("none", "unknown", *KEYS)
ROLE_OF = {label: role for label, (role, _) in KEYS.items()}
# The callers schemathesis fuzzes every operation with: no key and one key of each role.
FUZZ_CALLERS = ("none", "desk-1", "ds-1", "eval-1", "lead-1")
# How each role's keys reach the server.
KEY_VARIABLES = {
    "caseworker": "POLKU_CASEWORKER_KEYS",
    "data_scientist": "POLKU_DATA_SCIENTIST_KEYS",
    "evaluator": "POLKU_EVALUATOR_KEYS",
    "team_lead": "POLKU_TEAM_LEAD_KEYS",
}
# The access policy, written from docs/ARCHITECTURE.md, docs/SERVICE.md and the issues, not
# from the code.
POLICY: dict[tuple[str, str], set[str]] = {
    ("GET", "/health/live"): {"*"},
    ("GET", "/health/ready"): {"*"},
    ("POST", "/v1/eligibility"): {"caseworker"},
    ("POST", "/v1/recommendations"): {"caseworker"},
    ("POST", "/v1/decisions"): {"caseworker"},
    ("GET", "/v1/services"): {"caseworker", "data_scientist", "evaluator", "team_lead"},
    ("GET", "/v1/model"): {"caseworker", "data_scientist", "evaluator", "team_lead"},
    ("POST", "/v1/admin/reload"): {"data_scientist"},
    ("GET", "/v1/admin/model-switch"): {"data_scientist", "evaluator"},
    # Always switched on: the matrix must not leave the model off for what follows.
    ("PUT", "/v1/admin/model-switch"): {"data_scientist"},
    ("POST", "/v1/allocations"): {"data_scientist", "team_lead"},
    ("GET", "/v1/audit/records"): {"evaluator"},
    ("POST", "/signin"): {"caseworker"},  # only a caseworker's key opens the page
}


def headers_of(caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    if caller == "unknown":
        return {"Authorization": "Bearer review-unknown-key-0000"}
    return {"Authorization": f"Bearer {KEYS[caller][1]}"}


# -- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(state: Path) -> dict[str, str]:
    by_role: dict[str, dict[str, str]] = {}
    for label, (role, key) in KEYS.items():
        by_role.setdefault(role, {})[label] = key
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("POLKU_")},
        "POLKU_STATE_DIR": str(state),
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "POLKU_HMAC_KEY": HMAC_KEY,
        **{KEY_VARIABLES[role]: json.dumps(keys) for role, keys in by_role.items()},
        "POLKU_API_REQUESTS_PER_MINUTE": "100000000",
        "POLKU_AUTH_FAILURES_PER_MINUTE": "100000000",
        "POLKU_SIGNIN_ATTEMPTS_PER_MINUTE": "100000000",
        "OMP_NUM_THREADS": "1",
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def start(state: Path) -> Server:
    port = free_port()
    log = state / "server.log"
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(BIN / "polku"), "serve", "--port", str(port)],
            env=environment(state),
            cwd=state,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base}/health/ready", timeout=2).status_code == 200:
                return server
        time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server was not ready in 180 s")


def prepare(state: Path, clients: int) -> None:
    env = environment(state)
    world = state / "world"
    if not (world / "episodes.parquet").exists():
        command = [str(BIN / "polku"), "generate", "--clients", str(clients), "--seed", "4"]
        subprocess.run(
            [*command, "--out", str(world)],
            env=env,
            check=True,
            cwd=state,
            stdout=subprocess.DEVNULL,
        )
    if not (state / "mlflow.db").exists():
        subprocess.run(
            [str(BIN / "polku"), "train", "--data", str(world), "--promote-if-first"],
            env=env,
            check=True,
            cwd=state,
            stdout=subprocess.DEVNULL,
        )


# -- request bodies ------------------------------------------------------------------------


def profile(**changes: Any) -> dict[str, Any]:
    from service.examples import profile_example

    return {**profile_example(), **changes}


def codes(n: int, seed: int) -> list[str]:
    """Valid codes of people aged 18-29 in 2024 (clients of the experiment)."""
    from models.henkilotunnus import format_henkilotunnus

    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < n:
        born = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 10))
        found.add(format_henkilotunnus(born, rng.randrange(2, 900)))
    return sorted(found)


def disguises(code: str) -> list[str]:
    """The light disguises of the issue's review: full width, spaces and invisible marks."""
    head, sign, tail = code[:6], code[6], code[7:]
    wide = str.maketrans(
        "0123456789-+ABCDEFHJKLMNPRSTUVWXY",
        "０１２３４５６７８９－＋ＡＢＣＤＥＦＨＪＫＬＭＮＰＲＳＴＵＶＷＸＹ",
    )
    return [
        code.translate(wide),
        f"{head} {sign}{tail}",
        f"{head}\u00a0{sign}{tail}",
        f"{head}\u200b{sign}{tail}",
        f"{head}\u202f{sign}{tail}",
        f"{head}{sign} {tail}",
        f"{head[:4]}\u200d{head[4:]}{sign}{tail}",
        f"{head}\u00ad{sign}{tail}",
        f"{head} {tail}",
        f"{head}\ufeff{sign}{tail.lower()}",
        quote(code, safe=""),
        code.lower(),
    ]


# -- 1. schemathesis -----------------------------------------------------------------------


def fuzz(base: str, examples: int) -> dict[str, Any]:
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    statuses: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        operations.append(name)
        for caller in FUZZ_CALLERS:
            _fuzz_one(operation, name, caller, base, examples, checks, statuses, failures)
    return {
        "operations": len(operations),
        "callers": len(FUZZ_CALLERS),
        "requests": sum(statuses.values()),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "check_failures": sum(failures.values()),
        "failures": dict(failures),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _fuzz_one(
    operation: Any,
    name: str,
    caller: str,
    base: str,
    examples: int,
    checks: list[Any],
    statuses: Counter[int],
    failures: Counter[str],
) -> None:
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        response = case.call(base_url=base, headers=headers_of(caller), timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except Exception as exc:  # a failed check: count it, keep fuzzing
            failures[f"{name} as {caller}: {type(exc).__name__}"] += 1

    one()


# -- 2. the role matrix --------------------------------------------------------------------


def role_matrix(base: str) -> dict[str, Any]:
    from service.examples import (
        decision_example,
        eligibility_example,
        profile_example,
        recommendation_example,
    )

    cells = 0
    violations: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as http:
        # A route added without a row here would go unreviewed: each one counts as a violation.
        schema_operations = 0
        for path, operations in http.get("/openapi.json").json()["paths"].items():
            for method in operations:
                schema_operations += 1
                if (method.upper(), path) not in POLICY:
                    violations.append(f"{method.upper()} {path}: not in the review's policy")
        for (method, path), allowed in POLICY.items():
            for caller in CALLERS:
                cells += 1
                role = ROLE_OF.get(caller, "")
                may = "*" in allowed or role in allowed
                if path == "/signin":
                    status = _sign_in(http, caller)
                else:
                    body: dict[str, Any] | None = None
                    if path == "/v1/eligibility":
                        body = eligibility_example()
                    elif path == "/v1/recommendations":
                        body = recommendation_example()
                    elif path == "/v1/admin/model-switch" and method == "PUT":
                        body = {"model_on": True, "reason": "security review"}
                    elif path == "/v1/allocations":
                        body = {"profiles": [profile_example()]}
                    elif path == "/v1/decisions":
                        asked = http.post(
                            "/v1/recommendations",
                            json=recommendation_example(),
                            headers=headers_of(caller if role == "caseworker" else "desk-1"),
                        ).json()
                        body = {**decision_example(), "request_id": asked["request_id"]}
                    status = http.request(
                        method, path, json=body, headers=headers_of(caller)
                    ).status_code
                refused = status in (401, 403)
                if may == refused or (not may and status != 401):
                    violations.append(f"{method} {path} as {caller}: {status}")
        # Object level: desk-2 may not decide on what desk-1 asked.
        cells += 1
        asked = http.post(
            "/v1/recommendations", json=recommendation_example(), headers=headers_of("desk-1")
        ).json()
        foreign = http.post(
            "/v1/decisions",
            json={**decision_example(), "request_id": asked["request_id"]},
            headers=headers_of("desk-2"),
        )
        if foreign.status_code != 403:
            violations.append(f"desk-2 decided on desk-1's request: {foreign.status_code}")
    return {
        "cells": cells,
        "schema_operations": schema_operations,
        "violations": len(violations),
        "which": violations,
    }


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def _sign_in(http: httpx.Client, caller: str) -> int:
    http.cookies.clear()
    token = _csrf(http.get("/signin").text)
    key = headers_of(caller).get("Authorization", "").removeprefix("Bearer ")
    status = http.post("/signin", data={"csrf_token": token, "key": key}).status_code
    http.cookies.clear()
    return 401 if status == 401 else (200 if status == 303 else status)


# -- 3. the echo scan ----------------------------------------------------------------------


@dataclass
class Sent:
    answers: list[str] = field(default_factory=list)

    def keep(self, response: httpx.Response) -> httpx.Response:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.answers.append(f"{response.status_code}\n{headers}\n{response.text}")
        return response


def echo_scan(base: str, state: Path, n_codes: int) -> dict[str, Any]:
    from models.profile import PROFILE_SPEC

    plain = codes(n_codes, seed=13)
    variants = {code: [code, *disguises(code)] for code in plain}
    sent = Sent()
    string_fields = [s.name for s in PROFILE_SPEC if s.kind in ("id", "code", "enum", "date")]
    inputs = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        caseworker = headers_of("desk-1")
        for k, code in enumerate(plain):
            for variant in variants[code]:
                given = profile(client_id=f"echo-{k}", henkilotunnus=code)
                # The profiles with the variant in them, sent alone and in a cohort.
                carrying = [
                    {**given, variant: variant},
                    {**given, "henkilotunnus": variant},
                    *({**given, name: variant} for name in string_fields),
                ]
                bodies: list[tuple[str, Any]] = [
                    ("/v1/recommendations", {"profile": given, "top_k": 3}),
                    *(("/v1/eligibility", {"profile": one}) for one in carrying),
                    ("/v1/recommendations", {"profile": given, "objective": variant}),
                    ("/v1/recommendations", {"profile": given, "language": variant}),
                    ("/v1/eligibility", {"profile": given, variant: 1}),
                ]
                for path, body in bodies:
                    sent.keep(http.post(path, json=body, headers=caseworker))
                answer = http.post(
                    "/v1/recommendations", json={"profile": given}, headers=caseworker
                ).json()
                for decision in (
                    {"request_id": answer["request_id"], "choice": "none", "reason": variant},
                    {
                        "request_id": answer["request_id"],
                        "choice": "other",
                        "service_id": variant,
                        "reason": "x",
                    },
                    {"request_id": variant, "choice": "none", "reason": "x"},
                ):
                    sent.keep(http.post("/v1/decisions", json=decision, headers=caseworker))
                evaluator = headers_of("eval-1")
                for query in ("since", "until", "offset", "limit", variant):
                    sent.keep(
                        http.get("/v1/audit/records", params={query: variant}, headers=evaluator)
                    )
                for path in (
                    f"/answers/{quote(variant, safe='')}",
                    f"/v1/{quote(variant, safe='')}",
                    f"/{quote(variant, safe='')}",
                    f"/v1/services?lang={quote(variant)}",
                ):
                    sent.keep(http.get(path, headers=caseworker, follow_redirects=False))
                ascii_variant = variant if variant.isascii() else code
                for header in (
                    {"X-Request-ID": f"id_{ascii_variant}"},
                    {"Authorization": f"Bearer {ascii_variant}"},
                    {"X-API-Key": ascii_variant},
                    {**caseworker, "X-Forwarded-For": ascii_variant},
                ):
                    sent.keep(http.get("/v1/model", headers=header))
                latin = json.dumps(
                    {"profile": {"client_id": "Äijä", "henkilotunnus": code}}, ensure_ascii=False
                ).encode("latin-1")
                sent.keep(
                    http.post(
                        "/v1/eligibility",
                        content=latin,
                        headers={**caseworker, "Content-Type": "application/json"},
                    )
                )
                inputs += len(bodies) + 3 + 5 + 4 + 4 + 1
                inputs += _page_round(http, sent, code, variant)
                inputs += _allocation_round(http, sent, given, carrying)
                inputs += _switch_round(http, sent, variant)
    export = state / "review-export.csv"
    subprocess.run(
        [str(BIN / "polku"), "audit", "export", "--out", str(export)],
        env=environment(state),
        check=True,
        cwd=state,
        stdout=subprocess.DEVNULL,
    )
    sinks = {
        "answers": "\n".join(sent.answers),
        "server log": (state / "server.log").read_text(errors="replace"),
        "audit database": _files_text(state.glob("audit.sqlite3*")),
        "session database": _files_text(state.glob("sessions.sqlite3*")),
        "audit export": export.read_text(errors="replace"),
        "MLflow store": _files_text(
            [state / "mlflow.db", *(p for p in (state / "mlartifacts").rglob("*") if p.is_file())]
        ),
    }
    found = {name: _leaked(text, plain) for name, text in sinks.items()}
    world_codes = _world_codes(state)
    mlflow_world = _leaked(sinks["MLflow store"], world_codes)
    return {
        "codes": len(plain),
        "variants_per_code": len(variants[plain[0]]),
        "inputs_sent": inputs,
        "sink_bytes": {name: len(text) for name, text in sinks.items()},
        "codes_found": {name: len(hits) for name, hits in found.items()},
        "world_codes_checked_in_mlflow": len(world_codes),
        "world_codes_found_in_mlflow": len(mlflow_world),
    }


def _page_round(http: httpx.Client, sent: Sent, code: str, variant: str) -> int:
    """Sign in with a code as the key, then as desk-1 post a profile and a decision with it."""
    http.cookies.clear()
    token = _csrf(http.get("/signin").text)
    sent.keep(http.post("/signin", data={"csrf_token": token, "key": variant}))
    token = _csrf(http.get("/signin").text)
    http.post("/signin", data={"csrf_token": token, "key": KEYS["desk-1"][1]})
    form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in profile().items()}
    token = _csrf(http.get("/").text)
    sent.keep(http.post("/", data={**form, "csrf_token": token, "client_id": variant}))
    token = _csrf(http.get("/").text)
    posted = http.post(
        "/", data={**form, "csrf_token": token, "henkilotunnus": code}, follow_redirects=False
    )
    sent.keep(posted)
    location = posted.headers.get("location", "")
    if location.startswith("/answers/"):
        page = sent.keep(http.get(location)).text
        sent.keep(
            http.post(
                f"{location}/decision",
                data={"csrf_token": _csrf(page), "choice": "none", "reason": variant},
            )
        )
    http.cookies.clear()
    return 4


def _allocation_round(
    http: httpx.Client, sent: Sent, given: dict[str, Any], carrying: list[dict[str, Any]]
) -> int:
    """As a data scientist and as a team lead, allocate a cohort of the valid profile with
    the plain code, then one cohort of each profile carrying the variant."""
    cohorts = [[given], *([one] for one in carrying)]
    for caller in ("ds-1", "lead-1"):
        for cohort in cohorts:
            sent.keep(
                http.post("/v1/allocations", json={"profiles": cohort}, headers=headers_of(caller))
            )
    return 2 * len(cohorts)


def _switch_round(http: httpx.Client, sent: Sent, variant: str) -> int:
    """As a data scientist, switch the model off and then on with the variant as the reason,
    each from the other state (a turn to the state in force stores nothing), then back on
    with a plain reason and read the switch (its answer repeats the stored reason)."""
    path, scientist = "/v1/admin/model-switch", headers_of("ds-1")
    for model_on in (False, True):
        http.put(path, json={"model_on": not model_on, "reason": "echo scan"}, headers=scientist)
        sent.keep(http.put(path, json={"model_on": model_on, "reason": variant}, headers=scientist))
    sent.keep(http.put(path, json={"model_on": True, "reason": "echo scan"}, headers=scientist))
    sent.keep(http.get(path, headers=scientist))
    return 2


def _files_text(paths: Any) -> str:
    texts = []
    for path in paths:
        if Path(path).exists():
            data = Path(path).read_bytes()
            texts += [data.decode("utf-8", errors="replace"), data.decode("latin-1")]
    return "\n".join(texts)


def _leaked(text: str, plain: list[str]) -> list[str]:
    """The codes found in `text`: as sent, percent-encoded, or disguised (normalised as the
    redaction does, any one sign or separator between the date and the number)."""
    from urllib.parse import unquote

    from models.henkilotunnus import normalise_for_matching

    normal = normalise_for_matching(unquote(unquote(text))).upper()
    return [
        code
        for code in plain
        if code in normal or re.search(rf"{code[:6]}\W?.?\W?{code[7:]}", normal)
    ]


def _world_codes(state: Path) -> list[str]:
    import pandas as pd

    clients = pd.read_parquet(state / "world" / "clients.parquet", columns=["henkilotunnus"])
    return sorted(clients["henkilotunnus"].dropna().astype(str))[:2000]


# -- 4. kill -9 under load -----------------------------------------------------------------


def _writer(
    base: str, stop: threading.Event, answered: list[str], decided: list[str], k: int
) -> None:
    with httpx.Client(base_url=base, headers=headers_of("desk-1"), timeout=10) as http:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = http.post(
                    "/v1/recommendations",
                    json={"profile": profile(client_id=f"kill-{k}-{n}"), "top_k": 3},
                )
                if response.status_code != 200:
                    continue
                answer = response.json()
                answered.append(answer["request_id"])
                decision = http.post(
                    "/v1/decisions",
                    json={"request_id": answer["request_id"], "choice": "none", "reason": "x"},
                )
                if decision.status_code == 201:
                    decided.append(answer["request_id"])
            except httpx.TransportError:
                return


def kill_rounds(state: Path, rounds: int, seconds: float) -> dict[str, Any]:
    answered_total = decided_total = lost_answers = lost_decisions = 0
    for _ in range(rounds):
        server = start(state)
        stop = threading.Event()
        answered: list[list[str]] = [[] for _ in range(6)]
        decided: list[list[str]] = [[] for _ in range(6)]
        threads = [
            threading.Thread(target=_writer, args=(server.base, stop, a, d, k))
            for k, (a, d) in enumerate(zip(answered, decided, strict=True))
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join()
        with sqlite3.connect(state / "audit.sqlite3") as db:
            stored = {r[0] for r in db.execute("SELECT request_id FROM suggestions")}
            decisions = {r[0] for r in db.execute("SELECT request_id FROM decisions")}
        ids = {i for rows in answered for i in rows}
        decided_ids = {i for rows in decided for i in rows}
        answered_total += len(ids)
        decided_total += len(decided_ids)
        lost_answers += len(ids - stored)
        lost_decisions += len(decided_ids - decisions)
    restarted = start(state)  # the store opens after the last kill
    restarted.stop()
    return {
        "kills": rounds,
        "answered_suggestions": answered_total,
        "answered_decisions": decided_total,
        "lost_suggestions": lost_answers,
        "lost_decisions": lost_decisions,
    }


# -- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="a state dir with a world and a champion")
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument(
        "--examples", type=int, default=60, help="schemathesis cases per operation and caller"
    )
    parser.add_argument("--codes", type=int, default=8, help="codes in the echo scan")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--kill-after", type=float, default=6.0, help="seconds of load")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    state = args.state or Path(tempfile.mkdtemp(prefix="polku-review-"))
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    print(f"state: {state}", flush=True)
    prepare(state, args.clients)
    started = time.monotonic()
    results: dict[str, Any] = {"date": dt.date.today().isoformat()}
    server = start(state)
    try:
        results["schemathesis"] = fuzz(server.base, args.examples)
        print("schemathesis:", json.dumps(results["schemathesis"]), flush=True)
        results["role_matrix"] = role_matrix(server.base)
        print("role matrix:", json.dumps(results["role_matrix"]), flush=True)
        results["echo_scan"] = echo_scan(server.base, state, args.codes)
        print("echo scan:", json.dumps(results["echo_scan"]), flush=True)
    finally:
        server.stop()
    results["kill_9"] = kill_rounds(state, args.kills, args.kill_after)
    print("kill -9:", json.dumps(results["kill_9"]), flush=True)
    results["seconds"] = round(time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
