"""The record of a model's training clients: salted digests, no ids, overlap by person."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.training_clients import (
    TrainingClients,
    TrainingClientsError,
    check_training_overlap,
    training_overlap,
)

IDS = ["C0000001", "C0000002", "C0000003"]
BIRTHS = ["1990-01-01", "1985-05-05", "1970-12-31"]


def test_record_holds_no_client_id_and_depends_on_its_salt():
    first = TrainingClients.record(IDS, BIRTHS)
    second = TrainingClients.record(IDS, BIRTHS)
    text = json.dumps(first.to_dict())
    assert not any(client in text for client in IDS)
    assert first.to_dict()["n_clients"] == 3
    assert first.digests != second.digests  # a new salt per model: digests do not link models
    assert TrainingClients.from_dict(json.loads(text)) == first


def test_overlap_is_by_person_id_and_birth_date():
    record = TrainingClients.record(IDS * 2, BIRTHS * 2)  # one row per episode is fine
    found = record.overlap(
        ["C0000002", "C0000002", "C0000009"],
        # the same person; another world's C0000002 (another birth date); a stranger
        [np.datetime64("1985-05-05"), "1999-09-09", "1985-05-05"],
    )
    assert found.tolist() == [True, False, False]


def test_training_overlap_counts_clients_and_episodes_and_refuses():
    metadata = {"training_clients": TrainingClients.record(IDS, BIRTHS).to_dict()}
    overlap = training_overlap(metadata, ["C0000001", "C0000001", "C0000007"], BIRTHS[:1] * 3)
    assert (overlap.episodes, overlap.clients, overlap.of_episodes, overlap.of_clients) == (
        2, 1, 3, 2
    )  # fmt: skip
    with pytest.raises(TrainingClientsError, match="1 of the 2 evaluated clients"):
        check_training_overlap(overlap, allow=False)
    check_training_overlap(overlap, allow=True)  # the flag lets it through


def test_a_model_without_a_record_is_not_checked():
    overlap = training_overlap({}, IDS, BIRTHS)
    assert not overlap.checked and not overlap.any
    assert "records no training clients" in overlap.sentence()
    check_training_overlap(overlap, allow=False)
