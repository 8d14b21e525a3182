"""The audit groups: age band edges, long-term unemployment, every grouping of a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.groupings import GROUPINGS, age_band, group_labels, long_term_unemployed


def test_age_band_edges():
    labels = age_band(np.array([18, 24, 25, 29, 30, 44, 45, 54, 55, 70]))
    assert labels.tolist() == [
        "under_25",
        "under_25",
        "25_29",
        "25_29",
        "30_44",
        "30_44",
        "45_54",
        "45_54",
        "55_plus",
        "55_plus",
    ]


def test_long_term_unemployed_starts_at_twelve_months():
    assert long_term_unemployed([0, 11, 12, 30]).tolist() == [False, False, True, True]


def test_group_labels_slices_by_age_language_gender_and_unemployment():
    frame = pd.DataFrame(
        {
            "birth_date": pd.to_datetime(["2000-07-01", "1990-01-01", "1960-01-01"]),
            "assessment_date": pd.to_datetime(["2022-06-30", "2022-06-30", "2022-06-30"]),
            "mother_tongue": ["fi", "ru", "sv"],
            "immigrant": [False, False, True],
            "gender": ["female", None, "male"],
            "unemployment_months": [3, 12, 40],
        }
    )
    labels = group_labels(frame)
    assert labels["age_band"].tolist() == ["under_25", "30_44", "55_plus"]
    assert labels["language_group"].tolist() == [
        "national_language",
        "foreign_language",
        "foreign_language",
    ]
    assert labels["gender"].tolist() == ["female", "unknown", "male"]
    assert labels["long_term_unemployed"].tolist() == [
        "under_12_months",
        "12_months_or_more",
        "12_months_or_more",
    ]
    assert tuple(labels) == GROUPINGS


def test_group_labels_without_gender_are_unknown():
    frame = pd.DataFrame(
        {
            "birth_date": pd.to_datetime(["1990-01-01"]),
            "assessment_date": pd.to_datetime(["2022-06-30"]),
            "mother_tongue": ["fi"],
            "immigrant": [False],
            "unemployment_months": [3],
        }
    )
    assert group_labels(frame)["gender"].tolist() == ["unknown"]
