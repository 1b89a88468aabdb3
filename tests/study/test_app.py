"""What a participant can and cannot do, through the app's routes (in-process client)."""

import sqlite3

import pytest
from fastapi.testclient import TestClient

from vistransfer.errors import VistransferError
from vistransfer.study.app import create_app
from vistransfer.study.store import Store

JSON = {"Accept": "application/json"}


@pytest.fixture
def client(study):
    return TestClient(create_app(study.path))


def next_item(client, token):
    r = client.get(f"/s/{token}/label", headers=JSON)
    assert r.status_code == 200
    return r.json()


def test_a_wrong_or_missing_token_reveals_nothing(client, study):
    study.invite("alice")
    for url in (
        "/s/nope",
        "/s/" + "x" * 32 + "/label",
        "/s/" + "x" * 32 + "/img/abcd.png",
        "/s/",
        "/",
        "/docs",
        "/openapi.json",
        "/admin",
        "/s/" + "x" * 32 + "/class/0.png",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "class" not in r.text and "truth" not in r.text
    r = client.post("/s/" + "x" * 32 + "/label", json={"item": "a", "answer": 1})
    assert r.status_code == 404


def test_pages_carry_no_labels_and_strict_headers(client, study):
    token = study.invite("alice")
    r = client.get(f"/s/{token}")
    assert r.status_code == 200 and "practice" in r.text
    assert r.headers["referrer-policy"] == "no-referrer" and "script-src 'self'" in r.headers["content-security-policy"]
    page = client.get(f"/s/{token}/label").text
    assert "sample" not in page and "imgs" not in page  # the set of an image is never shown
    nxt = next_item(client, token)
    assert set(nxt) == {"item", "practice", "image", "classes", "answered", "total"}
    img = client.get(nxt["image"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"


def test_practice_gives_feedback_the_study_does_not(client, study):
    token = study.invite("alice")
    for _ in range(3):
        nxt = next_item(client, token)
        assert nxt["practice"] is True
        r = client.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": 0})
        assert r.json()["stored"] is True and "truth" in r.json()
    nxt = next_item(client, token)
    assert nxt["practice"] is False and nxt["total"] == 27
    r = client.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": 4})
    assert r.json() == {"stored": True}


def test_answers_are_validated_and_stored_once(client, study):
    token = study.invite("alice")
    item = next_item(client, token)["item"]
    for bad in ({"item": item, "answer": 10}, {"item": item, "answer": -1}, {"item": item, "answer": "cat"}, {"item": item}, [1, 2]):
        assert client.post(f"/s/{token}/label", json=bad).status_code == 422
    assert client.post(f"/s/{token}/label", json={"item": "0123456789abcdef", "answer": 1}).status_code == 404
    assert client.post(f"/s/{token}/label", json={"item": item, "answer": 2}).json()["stored"] is True
    assert client.post(f"/s/{token}/label", json={"item": item, "answer": 7}).json()["stored"] is False
    rows = Store(study.path).export_rows()
    assert [(r["participant"], r["answer"]) for r in rows] == [("alice", 2)]  # the first answer stands


def test_one_participant_cannot_see_anothers_feedback(client, study):
    alice, bob = study.invite("alice"), study.invite("bob")
    item = next_item(client, alice)["item"]
    client.post(f"/s/{alice}/label", json={"item": item, "answer": 1})
    assert client.get(f"/s/{alice}/feedback/{item}").status_code == 200
    assert client.get(f"/s/{bob}/feedback/{item}").status_code == 404


def test_form_posts_redirect_like_a_browser(client, study):
    token = study.invite("alice")
    item = next_item(client, token)["item"]
    r = client.post(f"/s/{token}/label", data={"item": item, "answer": "3"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/s/{token}/feedback/{item}"


def test_study_file_guards(tmp_path, study):
    with pytest.raises(VistransferError, match="never overwritten"):
        Store.create(study.path, ["a"], [b""], {})
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(VistransferError, match="not a vistransfer study"):
        Store.open(tmp_path / "junk.sqlite")
    with sqlite3.connect(study.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # tokens are stored only as hashes
        token = study.invite("carol")
        assert token not in str(con.execute("SELECT * FROM participants").fetchall())
