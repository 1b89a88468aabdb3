"""What a participant can and cannot do, through the app's routes (in-process client)."""

import json
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


def raw(client, token, text: str, content_type="application/json"):
    return client.post(f"/s/{token}/label", content=text.encode(), headers={"Content-Type": content_type, **JSON})


def test_an_answer_is_a_class_number_nothing_coerced(client, study):
    token = study.invite("alice")
    item = next_item(client, token)["item"]
    for bad in (3.7, True, " 3 ", "\u0663", "+4", "3.0", "", None, [3], {"a": 3}, 10**30):
        r = client.post(f"/s/{token}/label", json={"item": item, "answer": bad})
        assert r.status_code == 422, bad
    for text in ('{"item": "%s", "answer": 1e400}', '{"item": "%s", "answer": Infinity}', '{"item": "%s", "answer": NaN}'):
        assert raw(client, token, text % item).status_code == 422, text
    assert raw(client, token, "[" * 2000 + "]" * 2000).status_code == 422  # deeply nested: refused, not a RecursionError
    assert client.post(f"/s/{token}/label", data={"item": item, "answer": " 3"}).status_code == 422
    assert not Store(study.path).export_rows()
    assert client.post(f"/s/{token}/label", json={"item": item, "answer": "3"}).json()["stored"] is True  # a form's digits


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, study):
    from vistransfer.study.app import MAX_BODY

    token = study.invite("alice")
    item = next_item(client, token)["item"]
    r = raw(client, token, json.dumps({"item": item, "answer": 1, "pad": "x" * MAX_BODY}))
    assert r.status_code == 413 and r.headers["x-frame-options"] == "DENY"
    r = client.post(f"/s/{token}/label", content=b"{}", headers={"Content-Type": "application/json", "Content-Length": str(64 << 20)})
    assert r.status_code in (400, 413)  # a declared 64 MB: refused without waiting for it
    assert not Store(study.path).export_rows()


def test_practice_and_the_order_cannot_be_skipped(client, study):
    token = study.invite("alice")
    order = Store(study.path).order(Store(study.path).participant(token))
    study_item, second = next(i for i in order if not i.practice), order[1]
    for skipped in (study_item, second):
        r = client.post(f"/s/{token}/label", json={"item": skipped.key, "answer": 1})
        assert r.status_code == 409, skipped
    assert not Store(study.path).export_rows()
    assert client.post(f"/s/{token}/label", json={"item": order[0].key, "answer": 1}).json()["stored"] is True


def test_practice_comes_in_each_participants_own_order(study):
    from tests.study.conftest import make_study

    big = make_study(study.path.with_name("big.sqlite"), n_practice=10)
    s = Store(big.path)
    orders = {tuple(i.key for i in s.order(s.participant(big.invite(f"p{j}"))) if i.practice) for j in range(4)}
    assert len(orders) > 1
    by_class = tuple(i.key for i in sorted((i for i in s.order(s.participant(big.invite("q"))) if i.practice), key=lambda i: i.id))
    assert orders != {by_class}


def test_the_token_is_checked_first(client, study):
    from vistransfer.study.app import NOT_FOUND

    token, wrong = study.invite("alice"), "x" * 32
    for method, url in (
        ("GET", f"/s/{wrong}/label?start=abc"),
        ("GET", f"/s/{wrong}/class/abc.png"),
        ("GET", f"/s/{wrong}/class/{'9' * 20}.png"),
        ("PUT", f"/s/{wrong}/label"),
        ("DELETE", f"/s/{wrong}/img/abcd.png"),
        ("POST", f"/s/{wrong}/img/abcd.png"),
    ):
        r = client.request(method, url)
        assert r.status_code == 404 and "allow" not in r.headers and r.text == NOT_FOUND, (method, url)
    assert client.get(f"/s/{token}/class/{'9' * 20}.png").status_code == 404  # a 20-digit class: not an OverflowError
    assert client.get(f"/s/{token}/label?start=abc").status_code == 200
    nxt = next_item(client, token)
    assert client.head(nxt["image"]).status_code == 200 and client.head(f"/s/{token}/class/0.png").status_code == 200


def test_no_participant_input_gets_a_500(client, study):
    """A bounded fuzz of every route with what a participant controls: paths, queries, bodies."""
    import random

    token = study.invite("alice")
    item = next_item(client, token)["item"]
    rng = random.Random(0)
    pieces = ["", "0", "-1", "9" * 25, "1e400", "%00", "..", "\u0663", "x" * 300, item, "<script>", "%ff", "NaN", "[]", "{}"]
    bodies = ['{"item": %s, "answer": %s}', "%s=%s", "[%s, %s]", '{"item": "%s", "answer": "%s"}']
    for _ in range(300):
        a, b = rng.choice(pieces), rng.choice(pieces)
        kind = rng.randrange(5)
        if kind == 0:
            r = client.get(f"/s/{rng.choice([token, a])}/label?start={b}")
        elif kind == 1:
            r = client.get(f"/s/{token}/class/{a}.png")
        elif kind == 2:
            r = client.get(f"/s/{token}/img/{a}.png")
        elif kind == 3:
            r = client.get(f"/s/{token}/feedback/{a}")
        else:
            ctype = rng.choice(["application/json", "application/x-www-form-urlencoded", "text/plain", ""])
            r = raw(client, token, rng.choice(bodies) % (a, b), ctype)
        assert r.status_code < 500, (kind, a, b, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff"
