"""The labelling study server under load, on loopback only (127.0.0.1), bounded in count and time.

    python -m benchmarks.study_load --participants 50 --items 40 --out benchmarks/results/study_load.json

Three measurements in one run against one server (``vistransfer study serve`` in a process of its own,
the participants in this one):

1. **throughput**: ``--participants`` concurrent participants (httpx, one connection each) answer
   ``--items`` study items each as fast as the server lets them (the label page's JSON, then the
   answer): answers per second over the burst and the answer requests' p50 / p95 / max latency;
2. **a held lock**: another process's write transaction holds the study file for ``--lock-s``
   seconds while a static file and a class picture are fetched and one answer waits: how long the
   fetches take (the event loop must stay free), and that the answer is stored once the lock goes;
3. **what was stored**: every acknowledged answer is in the file exactly once.

Prints a table; writes JSON (keys: ``throughput``, ``held_lock``, ``stored``, ``machine``).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from vistransfer.io import versions, write_json
from vistransfer.study.build import create_study
from vistransfer.study.simulate import free_port

JSON = {"Accept": "application/json"}


def machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


@contextmanager
def server(db: Path) -> Iterator[str]:
    """``vistransfer study serve`` in its own process, as participants meet it, on a free loopback port;
    stopped (SIGTERM, then SIGKILL) on exit."""
    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vistransfer.cli.main", "study", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/s/x", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the study server did not start: " + proc.stderr.read().decode()[-2000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def make_study(path: Path, n_items: int):
    g = torch.Generator().manual_seed(0)
    classes = tuple(f"class{k}" for k in range(10))
    sample = torch.rand(n_items, 3, 32, 32, generator=g)
    return create_study(
        path,
        classes,
        {"sample": (sample, np.arange(n_items) % 10)},
        lambda x: np.zeros(len(x), int),
        lambda x: np.zeros(len(x), int),
        (torch.rand(0, 3, 32, 32), np.zeros(0, int)),
        torch.rand(10, 3, 32, 32, generator=g),
        {"title": "load"},
    )


async def burst(url: str, tokens: list[str], items: int, deadline_s: float) -> dict:
    import httpx

    latencies: list[float] = []

    async def participant(client, token):
        for n in range(items):
            nxt = (await client.get(f"/s/{token}/label", headers=JSON)).json()
            t0 = time.perf_counter()
            r = await client.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": n % 10})
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=len(tokens))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(participant(client, t) for t in tokens)), timeout=deadline_s)
        wall = time.perf_counter() - t0
    ms = np.array(latencies) * 1000
    return {
        "participants": len(tokens),
        "answers": len(latencies),
        "seconds": wall,
        "answers_per_s": len(latencies) / wall,
        "answer_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())},
    }


def held_lock(url: str, db: Path, token: str, item: str, seconds: float) -> dict:
    import httpx

    locked = threading.Event()

    def hold():
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    out: dict = {"lock_s": seconds}

    def answer():
        with httpx.Client(base_url=url, timeout=60) as c:
            t0 = time.perf_counter()
            r = c.post(f"/s/{token}/label", json={"item": item, "answer": 1})
            out["answer_s"], out["answer_status"] = time.perf_counter() - t0, r.status_code

    waiting = threading.Thread(target=answer)
    waiting.start()
    time.sleep(0.2)  # the answer is now waiting on the lock
    with httpx.Client(base_url=url, timeout=60) as c:
        t0 = time.perf_counter()
        c.get("/static/keys.js").raise_for_status()
        out["static_s"] = time.perf_counter() - t0
    waiting.join(120)
    holder.join(120)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--lock-s", type=float, default=3.0)
    ap.add_argument("--deadline-s", type=float, default=300.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/study_load.json"))
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "study.sqlite"
        store = make_study(db, a.items + 1)
        tokens = [store.invite(f"p{i}") for i in range(a.participants)]
        lone = store.invite("lone")
        with server(db) as url:
            assert url.startswith("http://127.0.0.1:")
            through = asyncio.run(burst(url, tokens, a.items, a.deadline_s))
            lock = held_lock(url, db, lone, store.order(store.participant(lone))[0].key, a.lock_s)
        rows = store.export_rows()
        unique = len({(r["participant"], r["position"]) for r in rows})
        stored = {"rows": len(rows), "unique": unique, "acknowledged": a.participants * a.items + (lock["answer_status"] == 200)}
    res = {
        "throughput": through,
        "held_lock": lock,
        "stored": stored,
        "machine": machine(),
        "versions": versions(),
        "args": {**vars(a), "out": str(a.out)},
    }
    write_json(a.out, res)
    t = through
    print(
        f"{t['participants']} participants, {t['answers']} answers in {t['seconds']:.1f} s: {t['answers_per_s']:.0f} answers/s, "
        f"p50 {t['answer_ms']['p50']:.0f} ms, p95 {t['answer_ms']['p95']:.0f} ms, max {t['answer_ms']['max']:.0f} ms"
    )
    print(
        f"a {lock['lock_s']:.0f} s lock held elsewhere: a static file in {1000 * lock['static_s']:.0f} ms; the waiting answer "
        f"{lock['answer_status']} after {lock['answer_s']:.1f} s"
    )
    print(f"stored {stored['rows']} rows ({stored['unique']} unique) of {stored['acknowledged']} acknowledged")
    return res


if __name__ == "__main__":
    main()
