"""The shared person facts: the membership test the gate and the catalog limits use."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.demographics import is_one_of

_CODES = st.sampled_from(["unemployed", "laid_off", "employed", "student", "", "UNEMPLOYED"])


@given(st.lists(_CODES, max_size=40), st.lists(_CODES, max_size=5, unique=True))
def test_is_one_of_equals_np_isin_for_any_number_of_rows(
    values: list[str], allowed: list[str]
) -> None:
    result = is_one_of(np.array(values, dtype=object), tuple(allowed))
    assert result.dtype == bool
    assert result.shape == (len(values),)
    assert result.tolist() == np.isin(np.array(values, dtype=str), allowed).tolist()
