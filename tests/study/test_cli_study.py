"""The study commands a researcher types: invite, export, report, and their errors."""

import pytest

from tests.study.conftest import by_brightness
from vistransfer.cli.main import main
from vistransfer.study.simulate import serving, take_study


def run_main(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr()


def test_invite_prints_one_unguessable_link_each(study, capsys):
    code, out = run_main(["study", "invite", "--db", str(study.path), "--n", "3", "--base-url", "https://x.org/"], capsys)
    assert code in (0, None)
    lines = out.out.strip().splitlines()
    names = [ln.split("\t")[0] for ln in lines]
    links = [ln.split("\t")[1] for ln in lines]
    assert names == ["subject1", "subject2", "subject3"]
    assert all(link.startswith("https://x.org/s/") and len(link.rsplit("/", 1)[1]) >= 32 for link in links)
    assert len(set(links)) == 3
    code, out = run_main(["study", "invite", "--db", str(study.path), "--n", "1"], capsys)
    assert out.out.startswith("subject4\t")


def test_report_counts_only_finished_participants(study, tmp_path, capsys):
    done, half = study.invite("alice"), study.invite("bob")
    with serving(study.path) as url:
        assert take_study(url, done, by_brightness) == 27
        take_study(url, half, by_brightness, max_items=10)
    code, out = run_main(["study", "report", "--db", str(study.path), "-o", str(tmp_path / "t4")], capsys)
    assert code in (0, None)
    table = (tmp_path / "t4" / "table.md").read_text()
    assert "| alice |" in table and "bob (7 answers)" in table  # 10 answers, 3 of them practice
    # alice answers as h does on every image: agreement 100 on each set
    assert "| alice | 100 (acc." in table
    rows = (tmp_path / "t4" / "labels.csv").read_text().splitlines()
    assert len(rows) == 1 + 27 + 10


def test_errors_are_one_line(tmp_path, capsys):
    code, out = run_main(["study", "report", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2 and "does not exist" in out.err and len(out.err.strip().splitlines()) == 1
    code, out = run_main(["study", "serve", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2 and "vistransfer study create" in out.err


def test_the_report_names_the_studys_own_data_and_h_s(tmp_path):
    """A study of any dataset says what its file says, not CIFAR-10's note and CNN1; files from before
    it said so (every one a CIFAR-10 study with CNN1) keep their wording."""
    from tests.study.conftest import make_study
    from vistransfer.study.report import render, table4
    from vistransfer.study.store import Store

    old = make_study(tmp_path / "old.sqlite")
    assert "lossy JPEG copy" in render(table4(old)) and "h_s (CNN1)" in render(table4(old))
    own = make_study(tmp_path / "own.sqlite")
    with own.connect() as con:
        meta = own.meta() | {"hs_name": "MLP", "data_note": "Digits, 8x8."}
        con.execute("UPDATE meta SET value = ? WHERE key = 'study'", (__import__("json").dumps(meta),))
    text = render(table4(Store(own.path)))
    assert "h_s (MLP)" in text and "Digits, 8x8." in text and "JPEG" not in text
