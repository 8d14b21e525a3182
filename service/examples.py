"""The request examples of the API docs: a client the gate admits, a decision that is valid
for any answer. `GET /docs` offers them under "Try it out"; tests post every one.

The code is synthetic (individual number 900-999, the range no person is given) and the
dates fall inside the experiment the gate decides on, so submitting an example unchanged
answers 200 with suggestions instead of a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

from models.henkilotunnus import format_henkilotunnus
from models.objectives import DEFAULT_OBJECTIVE
from models.profile import HELSINKI_MUNICIPALITY

# A weekday inside the experiment (2021-03-01 to 2024-12-31, models/data/rules/).
ASSESSMENT_DATE: Final = dt.date(2024, 3, 4)
BIRTH_DATE: Final = dt.date(2000, 5, 17)  # under 30 on the assessment date
SYNTHETIC_INDIVIDUAL_NUMBER: Final = 905
# Any id of 32 hex digits; "Try it out" needs the request_id of an answer just received.
EXAMPLE_REQUEST_ID: Final = "0123456789abcdef0123456789abcdef"


def profile_example() -> dict[str, Any]:
    """An unemployed 23-year-old Helsinki resident on labour market subsidy."""
    return {
        "client_id": "example-client-1",
        "henkilotunnus": format_henkilotunnus(BIRTH_DATE, SYNTHETIC_INDIVIDUAL_NUMBER),
        "home_municipality": HELSINKI_MUNICIPALITY,
        "mother_tongue": "fi",
        "immigrant": False,
        "registered_jobseeker": True,
        "labour_market_status": "unemployed",
        "unemployment_benefit": "labour_market_subsidy",
        "assessment_date": ASSESSMENT_DATE.isoformat(),
        "education_level": "basic",
        "unemployment_months": 14,
        "work_experience_years": 1.5,
        "language_level": "B1",
        "debt_problems": True,
        "low_digital_skills": True,
    }


def eligibility_example() -> dict[str, Any]:
    """The body of `POST /v1/eligibility`."""
    return {"profile": profile_example(), "language": "fi"}


def recommendation_example() -> dict[str, Any]:
    """The body of `POST /v1/recommendations`."""
    return {
        "profile": profile_example(),
        "top_k": 5,
        "objective": DEFAULT_OBJECTIVE,
        "language": "fi",
    }


def decision_example() -> dict[str, Any]:
    """The body of `POST /v1/decisions`: no service, with the reason that then is needed
    (valid whatever was suggested; put in the request_id of the answer decided on)."""
    return {
        "request_id": EXAMPLE_REQUEST_ID,
        "choice": "none",
        "reason": "The client starts a job next month.",
    }


def with_example(example: Callable[[], dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` that puts `example()` in the model's schema when the schema is
    built (not at import)."""

    def add(schema: dict[str, Any]) -> None:
        schema["examples"] = [example()]

    return add
