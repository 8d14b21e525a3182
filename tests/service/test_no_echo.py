"""No echo of an identity code (issue 13 item 6): the reason filter sees through light
disguises (in a decision or model-switch reason and a cohort's profile), refused page posts
never re-render a code, a 404 for `/answers/<code>` writes no
code into its links, and access-log lines are decoded before they are redacted."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from models.henkilotunnus import contains_henkilotunnus, normalise_for_matching
from service.errors import RedactingFilter, redact
from service.pages.answers import answer_path
from tests.service.helpers import auth, client_profile
from tests.service.test_page import _answer, _csrf, _top_service
from tests.service.test_page import caseworker as caseworker  # the signed-in page fixture

CODE = "131052-308T"
DISGUISED = [
    "１３１０５２－３０８Ｔ",  # full-width digits, sign and letter
    "１３１０５２-３０８T",  # full-width digits only
    "131052 -308T",  # a space before the sign
    "131052\u00a0-308T",  # NBSP before the sign
    "131052\u200b-308T",  # zero-width space before the sign
    "131052\u202f-308T",  # narrow NBSP before the sign
    "131052\u2007-308T",  # figure space before the sign
    "131052- 308T",  # a space after the sign
    "1310\u200d52-308T",  # a zero-width joiner among the digits
    "131052\u00ad-308T",  # a soft hyphen before the sign
    "131052 308T",  # a space instead of the sign
    "131052\ufeff-308t",  # a BOM before the sign, lower-case check character
]
NOT_CODES = ["2024-03-04", "klo 10:15", "puh. 040 123 4567", "hinta 100 000 euroa", "123456"]


def _gone_from(text: str) -> bool:
    """No trace of the code, in the text as written or normalised."""
    normal = normalise_for_matching(text)
    return "131052" not in normal and "308T" not in normal.upper()


@pytest.mark.parametrize("variant", [CODE, *DISGUISED])
def test_disguised_codes_are_found_and_redacted(variant: str) -> None:
    text = f"asiakas {variant} soitti"
    assert contains_henkilotunnus(text)
    assert "[redacted]" in redact(text) and _gone_from(redact(text))


@pytest.mark.parametrize("text", NOT_CODES)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert not contains_henkilotunnus(text)
    assert redact(text) == text


@pytest.mark.parametrize("variant", DISGUISED)
def test_the_api_refuses_a_reason_with_a_disguised_code(api: TestClient, variant: str) -> None:
    answer = api.post(
        "/v1/recommendations",
        json={"profile": client_profile(), "top_k": 3},
        headers=auth("caseworker"),
    ).json()
    refused = api.post(
        "/v1/decisions",
        json={
            "request_id": answer["request_id"],
            "choice": "none",
            "reason": f"asiakas {variant} ei halua",
        },
        headers=auth("caseworker"),
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    assert _gone_from(refused.text)


@pytest.mark.parametrize("variant", DISGUISED)
def test_the_api_refuses_a_switch_reason_with_a_disguised_code(
    api: TestClient, variant: str
) -> None:
    refused = api.put(
        "/v1/admin/model-switch",
        json={"model_on": False, "reason": f"asiakas {variant} valitti"},
        headers=auth("data_scientist"),
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    assert _gone_from(refused.text)
    assert api.app.state.audit.count("model_switch_events") == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("variant", [CODE, *DISGUISED])
@pytest.mark.parametrize("field", ["client_id", "mother_tongue"])
def test_an_allocation_cohort_carrying_a_disguised_code_is_refused_unechoed(
    api: TestClient, variant: str, field: str
) -> None:
    cohort = [client_profile(client_id="client-0"), client_profile(**{field: variant})]
    refused = api.post("/v1/allocations", json={"profiles": cohort}, headers=auth("team_lead"))
    assert refused.status_code == 422
    assert ["body", "profiles", 1, field] in [e["loc"] for e in refused.json()["detail"]]
    assert _gone_from(refused.text)


@pytest.mark.parametrize("variant", [CODE, DISGUISED[0], DISGUISED[4]])
def test_a_refused_page_decision_does_not_render_the_code_again(
    caseworker: TestClient, variant: str
) -> None:
    request_id, page = _answer(caseworker)
    reason = f"asiakas {variant} ei halua"
    refused = caseworker.post(
        f"{answer_path(request_id)}/decision",
        data={"csrf_token": _csrf(page), "choice": "none", "reason": reason},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert _gone_from(refused.text)
    # A post refused for its CSRF token (403) shows nothing of it either.
    top = _top_service(page)
    forged = caseworker.post(
        f"{answer_path(request_id)}/decision",
        data={"csrf_token": "wrong", "choice": f"suggested:{top}", "reason": reason},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert _gone_from(forged.text)


@pytest.mark.parametrize(
    "path", [f"/answers/{CODE}", "/answers/131052%2D308T", "/answers/131052%252B308T"]
)
def test_a_404_for_an_answer_path_holding_a_code_does_not_write_it_back(
    caseworker: TestClient, path: str
) -> None:
    response = caseworker.get(path)
    assert response.status_code == 404
    assert _gone_from(response.text)
    assert 'href="/?lang=' in response.text


@pytest.mark.parametrize(
    "target", ["/answers/131052%2D308T", "/answers/131052%2d308T?x=1", "/v1/x?q=131052%2B308T"]
)
def test_access_log_lines_are_decoded_before_redaction(target: str) -> None:
    # The shape of uvicorn's access record: the request target stays percent-encoded.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", target, "1.1", 404),
        None,
    )
    RedactingFilter().filter(record)
    line = record.getMessage()
    assert "[redacted]" in line and _gone_from(line) and "404" in line
