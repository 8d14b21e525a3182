"""The one action space: services in order, then "no service" last."""

from __future__ import annotations

import numpy as np
import pytest

from models.actions import (
    NO_SERVICE,
    ActionSpace,
    action_ids,
    allowed_actions,
    no_service_index,
    uplift_over_no_service,
    with_no_service,
)


def test_action_indices_maps_services_and_none() -> None:
    got = ActionSpace(["a", "b", "c"]).indices(["b", "none", "a", "c"])
    assert got.tolist() == [1, 3, 0, 2]


def test_action_indices_names_row_of_unknown_service() -> None:
    with pytest.raises(ValueError, match=r"row 2: service 'zzz' is not among the services"):
        ActionSpace(["a", "b"]).indices(["a", "zzz"])


def test_action_space_puts_no_service_last() -> None:
    space = ActionSpace(("a", "b"))
    assert space.ids == action_ids(("a", "b")) == ("a", "b", NO_SERVICE)
    assert space.no_service == no_service_index(2) == space.n_actions - 1 == 2
    assert space.is_service([0, 1, 2]).tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("services", "message"),
    [(("a", "none"), "must not include 'none'"), (("a", "a"), "duplicates")],
)
def test_action_space_rejects_none_and_duplicates(services: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ActionSpace(services)


def test_uplift_over_no_service_and_allowed_actions_follow_the_order() -> None:
    outcomes = np.array([[0.5, 0.2, 0.3], [0.1, 0.4, 0.1]])
    np.testing.assert_allclose(uplift_over_no_service(outcomes), [[0.2, -0.1], [0.0, 0.3]])
    joined = with_no_service(np.array([[0.5, 0.2], [0.1, 0.4]]), np.array([0.3, 0.1]))
    np.testing.assert_array_equal(joined, outcomes)
    mask = allowed_actions(np.array([[True, False], [False, False]]))
    assert mask.tolist() == [[True, False, True], [False, False, True]]
