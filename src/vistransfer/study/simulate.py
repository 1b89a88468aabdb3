"""Programmatic participants: classifiers that take the study through its HTTP routes, as a browser does,
and a server on loopback that stops by itself (for them and for tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .app import create_app
from .build import decode_png, from_uint8

Classifier = Callable[[torch.Tensor], np.ndarray]  # (N, C, H, W) in [0, 1] -> (N,) labels


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db: str | Path, port: int | None = None) -> Iterator[str]:
    """Run the app on 127.0.0.1 in a background thread; yields its base URL and stops it on exit."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the study server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def take_study(base_url: str, token: str, classify: Classifier, timeout: float = 30.0, max_items: int = 100_000) -> int:
    """Answer every item (practice first) the way a participant does; returns how many were answered."""
    import httpx

    n = 0
    with httpx.Client(base_url=base_url, timeout=timeout, headers={"Accept": "application/json"}) as c:
        while n < max_items:
            r = c.get(f"/s/{token}/label")
            r.raise_for_status()
            nxt = r.json()
            if nxt["item"] is None:
                return n
            img = c.get(nxt["image"])
            img.raise_for_status()
            x = from_uint8(decode_png(img.content)[None])
            label = int(classify(x)[0])
            c.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": label}).raise_for_status()
            n += 1
    return n
