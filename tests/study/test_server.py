"""The study server on loopback: 1,000 concurrent answers stored exactly once, and a kill mid-study
that loses nothing. Bounded in count and time; only 127.0.0.1 is ever contacted."""

import asyncio
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.study.conftest import make_study
from vistransfer.study.simulate import free_port, serving, take_study

JSON = {"Accept": "application/json"}


@pytest.mark.slow
def test_a_thousand_concurrent_answers_each_stored_once(tmp_path):
    store = make_study(tmp_path / "study.sqlite", n_sample=10, n_imgs=10, n_practice=0)
    tokens = [store.invite(f"p{i}") for i in range(50)]

    async def participant(client, token):
        # each item once, then five of them again: repeats must change nothing
        seen = []
        for _ in range(20):
            nxt = (await client.get(f"/s/{token}/label", headers=JSON)).json()
            r = await client.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": len(seen) % 10})
            assert r.status_code == 200 and r.json()["stored"] is True
            seen.append(nxt["item"])
        again = await asyncio.gather(*(client.post(f"/s/{token}/label", json={"item": k, "answer": 9}) for k in seen[:5]))
        assert all(r.json()["stored"] is False for r in again)

    async def everyone(url):
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            await asyncio.wait_for(asyncio.gather(*(participant(client, t) for t in tokens)), timeout=240)

    with serving(store.path) as url:
        assert url.startswith("http://127.0.0.1:")
        asyncio.run(everyone(url))
    rows = store.export_rows()
    assert len(rows) == 1000
    assert len({(r["participant"], r["set"], r["position"]) for r in rows}) == 1000
    nines = [sum(r["answer"] == 9 for r in rows if r["participant"] == f"p{i}") for i in range(50)]
    assert nines == [2] * 50  # the 10th and 20th answers: no repeat (answer 9) overwrote a first answer


def _start(db, port):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vistransfer.cli.main", "study", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/s/x", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start: " + proc.stderr.read().decode()[-2000:])


@pytest.mark.slow
def test_killed_mid_study_loses_no_answer(tmp_path):
    store = make_study(tmp_path / "study.sqlite")
    token = store.invite("alice")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(store.path, port)
    try:
        answered = take_study(url, token, lambda x: [3], max_items=10)
        assert answered == 10
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean shutdown
        proc.wait(timeout=30)
    assert len(store.export_rows()) == 10
    proc = _start(store.path, port)
    try:
        nxt = httpx.get(f"{url}/s/{token}/label", headers=JSON, timeout=10).json()
        assert nxt["answered"] == 10  # continues where it stopped
        assert take_study(url, token, lambda x: [5]) == 27 - 10
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    rows = store.export_rows()
    assert len(rows) == 27 and [r["answer"] for r in rows].count(3) == 10
