"""The one rule for an output file: checked before any work, written atomically."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from models.output_files import (
    OutputPathError,
    atomic_write_bytes,
    check_output_dir,
    check_output_file,
    write_atomically,
)


def test_a_new_file_in_a_missing_directory_is_accepted_and_nothing_is_made(
    tmp_path: Path,
) -> None:
    check_output_file(tmp_path / "new" / "deeper" / "out.csv", "--out")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing, makes no directory


def test_an_existing_file_may_be_replaced(tmp_path: Path) -> None:
    old = tmp_path / "out.csv"
    old.write_text("old")
    check_output_file(old, "--out", inputs={"INPUT": tmp_path / "other.csv"})
    assert old.read_text() == "old"


def test_an_existing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match=r"^--out .*: is an existing directory"):
        check_output_file(tmp_path, "--out")


def test_a_special_file_is_refused() -> None:
    with pytest.raises(OutputPathError, match="/dev/null: is not a regular file"):
        check_output_file(Path("/dev/null"), "--json")


def test_a_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(OutputPathError, match=r"a\.csv is a file, not a directory"):
        check_output_file(tmp_path / "a.csv" / "sub" / "out.csv", "--out")


def test_a_parent_that_cannot_be_made_is_refused() -> None:
    with pytest.raises(OutputPathError, match="cannot create its directory /proc/nope in /proc"):
        check_output_file(Path("/proc/nope/s.parquet"), "--out")


def test_the_same_file_as_an_input_is_refused_even_through_a_link(tmp_path: Path) -> None:
    source = tmp_path / "same.csv"
    source.write_text("input")
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    for target in (source, link, tmp_path / "." / "same.csv"):
        with pytest.raises(OutputPathError, match="is also INPUT, which the command reads"):
            check_output_file(target, "--output", inputs={"--mapping": None, "INPUT": source})
    assert source.read_text() == "input"


def test_a_report_directory_that_is_a_file_or_holds_a_directory_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a directory"):
        check_output_dir(tmp_path / "file", "--report")
    (tmp_path / "report" / "report.html").mkdir(parents=True)
    with pytest.raises(OutputPathError, match=r"--report .*report \(report\.html\) .*directory"):
        check_output_dir(tmp_path / "report", "--report", files=["effects.json", "report.html"])
    check_output_dir(tmp_path / "new", "--report", files=["report.html"])
    assert not (tmp_path / "new").exists()


def test_write_atomically_turns_a_rename_error_into_the_clear_error_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OutputPathError, match=r"cannot write .*out\.parquet: no space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_write_atomically_onto_a_directory_says_so_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "el").mkdir()
    with pytest.raises(OutputPathError, match=r"cannot write .*el: it is a directory"):
        write_atomically(tmp_path / "el", lambda temporary: temporary.write_text("x"))
    assert [p.name for p in tmp_path.iterdir()] == ["el"]
    assert list((tmp_path / "el").iterdir()) == []


def test_write_atomically_lets_other_errors_through_and_cleans_up(tmp_path: Path) -> None:
    def broken(temporary: Path) -> None:
        temporary.write_text("half")
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        write_atomically(tmp_path / "out.csv", broken)
    assert list(tmp_path.iterdir()) == []


def test_write_atomically_makes_the_parents_and_an_ordinary_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    assert write_atomically(target, lambda temporary: temporary.write_text("{}")) == 2
    assert target.read_text() == "{}"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
