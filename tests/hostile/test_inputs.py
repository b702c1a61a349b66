"""Every case of the hostile-input corpus ends in a clean error: the right exit code, a message
naming the field and the value, no traceback, no internal error, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from reesim.cli.main import run as cli_run
from tests.hostile.corpus import Case, all_cases

CASES = all_cases()


def test_the_corpus_has_at_least_250_cases():
    assert len(CASES) >= 250, len(CASES)


def run_case(case: Case, folder: Path, capsys) -> tuple[int, str]:
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    argv = [a.replace("{dir}", str(folder)) for a in case.argv]
    try:
        cli_run(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    cap = capsys.readouterr()
    return code, cap.err + cap.out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, capsys):
    code, text = run_case(case, tmp_path, capsys)
    assert "Traceback" not in text, text[-3000:]
    assert "internal error" not in text, text[-3000:]
    assert code == case.code, f"exit {code}, expected {case.code}: {text[-2000:]}"
    low = text.lower()
    missing = [e for e in case.expect if e.lower() not in low]
    assert not missing, f"message lacks {missing}: {text[-2000:]}"
    assert len(text) < 20_000, f"a {len(text):,}-character message: values must be shortened"
    if case.absent:
        assert not (tmp_path / case.absent).exists(), "something was written"
