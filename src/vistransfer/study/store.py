"""The study's one file: SQLite in WAL mode, every answer stored exactly once.

Tables: ``meta`` (the study's description), ``classes`` (names and an example picture each),
``items`` (the images, each under a random key that says nothing about its set, with the ground
truth and the teacher's and h_s's labels, which only the CLI reads), ``participants`` (the
SHA-256 of each token, never the token) and ``answers`` (unique per participant and item: a
repeated submit changes nothing). Every statement commits when it returns (autocommit), so the server
may be killed at any moment: what was committed is there after a restart.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VistransferError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes(k INTEGER PRIMARY KEY, name TEXT NOT NULL, png BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS items(
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, set_name TEXT NOT NULL, position INTEGER NOT NULL,
    practice INTEGER NOT NULL, png BLOB NOT NULL, truth INTEGER, teacher INTEGER, hs INTEGER,
    UNIQUE(set_name, position));
CREATE TABLE IF NOT EXISTS participants(
    id INTEGER PRIMARY KEY, token_sha256 TEXT UNIQUE NOT NULL, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
    order_seed INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers(
    participant_id INTEGER NOT NULL REFERENCES participants(id), item_id INTEGER NOT NULL REFERENCES items(id),
    answer INTEGER NOT NULL, answered_at REAL NOT NULL, UNIQUE(participant_id, item_id));
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Participant:
    id: int
    name: str
    kind: str  # "person" or "simulated"
    order_seed: int


@dataclass(frozen=True)
class Item:
    id: int
    key: str
    practice: bool


class Store:
    """Access to one study file. Open connections per call (:meth:`connect`): safe across threads and processes."""

    def __init__(self, path: str | Path, per_thread: bool = False):
        """per_thread: keep one connection open per thread (a server's worker threads: opening one costs
        about 0.4 ms, a query 5 us); otherwise every call opens and closes its own."""
        self.path = Path(path)
        self.per_thread = per_thread
        self._local = threading.local()

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=FULL")  # a committed answer survives a crash of the machine, too
        return con

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        if self.per_thread:  # autocommit: every statement is committed when it returns, as with a fresh connection
            con = getattr(self._local, "con", None)
            if con is None:
                con = self._local.con = self._open()
            yield con
            return
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    # --- creation (CLI only) -------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, classes: Sequence[str], class_pngs: Sequence[bytes], meta: dict) -> Store:
        path = Path(path)
        if path.exists():
            raise VistransferError(f"{path} already exists; a study file is never overwritten (pick another --db or delete it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        with store.connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            con.execute("BEGIN")
            con.executemany("INSERT INTO classes VALUES (?, ?, ?)", [(k, n, p) for k, (n, p) in enumerate(zip(classes, class_pngs))])
            con.execute("INSERT INTO meta VALUES ('study', ?)", (json.dumps(meta),))
            con.execute("COMMIT")
        return store

    @classmethod
    def open(cls, path: str | Path, per_thread: bool = False) -> Store:
        path = Path(path)
        if not path.is_file():
            raise VistransferError(f"study file {path} does not exist; make one with 'vistransfer study create'")
        store = cls(path, per_thread)
        try:
            with store.connect() as con:
                con.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()
        except sqlite3.DatabaseError:
            raise VistransferError(f"{path} is not a vistransfer study file (not SQLite, or no study in it)") from None
        return store

    def add_items(
        self,
        set_name: str,
        pngs: Sequence[bytes],
        truth: Sequence[int | None],
        teacher: Sequence[int | None],
        hs: Sequence[int | None],
        practice: bool = False,
    ) -> None:
        rows = [
            (secrets.token_hex(8), set_name, i, int(practice), png, _opt(t), _opt(a), _opt(b))
            for i, (png, t, a, b) in enumerate(zip(pngs, truth, teacher, hs, strict=True))
        ]
        with self.connect() as con:
            con.execute("BEGIN")
            con.executemany("INSERT INTO items(key, set_name, position, practice, png, truth, teacher, hs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")

    def invite(self, name: str, kind: str = "person") -> str:
        """A new participant; returns their token (shown once, stored only as a hash)."""
        token = secrets.token_urlsafe(24)
        with self.connect() as con:
            try:
                con.execute(
                    "INSERT INTO participants(token_sha256, name, kind, order_seed, created) VALUES (?, ?, ?, ?, ?)",
                    (token_hash(token), name, kind, secrets.randbits(62), time.time()),
                )
            except sqlite3.IntegrityError:
                raise VistransferError(f"a participant named {name!r} exists already; choose another name") from None
        return token

    # --- what the web app may read and write ------------------------------------------------------
    def meta(self) -> dict:
        with self.connect() as con:
            return json.loads(con.execute("SELECT value FROM meta WHERE key = 'study'").fetchone()[0])

    def classes(self) -> list[str]:
        with self.connect() as con:
            return [r[0] for r in con.execute("SELECT name FROM classes ORDER BY k")]

    def class_png(self, k: int) -> bytes | None:
        with self.connect() as con:
            row = con.execute("SELECT png FROM classes WHERE k = ?", (k,)).fetchone()
        return row[0] if row else None

    def participant(self, token: str) -> Participant | None:
        with self.connect() as con:
            row = con.execute("SELECT id, name, kind, order_seed FROM participants WHERE token_sha256 = ?", (token_hash(token),)).fetchone()
        return Participant(*row) if row else None

    def catalog(self) -> list[tuple[Item, int | None]]:
        """Every item with its truth, in id order, without the pictures (what a server keeps in memory)."""
        with self.connect() as con:
            rows = con.execute("SELECT id, key, practice, truth FROM items ORDER BY id").fetchall()
        return [(Item(i, k, bool(pr)), t) for i, k, pr, t in rows]

    def order(self, p: Participant, catalog: list[tuple[Item, int | None]] | None = None) -> list[Item]:
        """The participant's items: practice first, then the study items, each part in the participant's own
        random order (the practice from a stream of its own, so the study's order is what it always was).
        catalog: :meth:`catalog`, read once by a caller that asks often."""
        items = [i for i, _ in (catalog if catalog is not None else self.catalog())]
        practice = [i for i in items if i.practice]
        study = [i for i in items if not i.practice]
        perm = np.random.default_rng(p.order_seed).permutation(len(study))
        first = np.random.default_rng([p.order_seed, 1]).permutation(len(practice))
        return [practice[j] for j in first] + [study[j] for j in perm]

    def answered(self, p: Participant) -> dict[int, int]:
        with self.connect() as con:
            return dict(con.execute("SELECT item_id, answer FROM answers WHERE participant_id = ?", (p.id,)).fetchall())

    def item_by_key(self, key: str) -> tuple[Item, bytes, int | None] | None:
        """An item, its PNG, and its truth (which the app reveals only as practice feedback)."""
        with self.connect() as con:
            row = con.execute("SELECT id, key, practice, png, truth FROM items WHERE key = ?", (key,)).fetchone()
        return (Item(row[0], row[1], bool(row[2])), row[3], row[4]) if row else None

    def answer(self, p: Participant, item: Item, answer: int) -> bool:
        """Store one answer; False if this participant had answered this item already (the first answer stands)."""
        with self.connect() as con:
            cur = con.execute(
                "INSERT INTO answers(participant_id, item_id, answer, answered_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(participant_id, item_id) DO NOTHING",
                (p.id, item.id, answer, time.time()),
            )
            return cur.rowcount == 1

    # --- what only the CLI reads -------------------------------------------------------------------
    def export_rows(self) -> list[dict]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT p.name, p.kind, i.set_name, i.position, i.practice, a.answer, i.truth, i.teacher, i.hs, a.answered_at "
                "FROM answers a JOIN participants p ON p.id = a.participant_id JOIN items i ON i.id = a.item_id "
                "ORDER BY p.id, i.set_name, i.position"
            ).fetchall()
        cols = ("participant", "kind", "set", "position", "practice", "answer", "truth", "teacher", "hs", "answered_at")
        return [dict(zip(cols, r)) for r in rows]

    def item_table(self) -> list[dict]:
        with self.connect() as con:
            rows = con.execute("SELECT set_name, position, practice, truth, teacher, hs FROM items ORDER BY id").fetchall()
        return [dict(zip(("set", "position", "practice", "truth", "teacher", "hs"), r)) for r in rows]

    def participants(self) -> list[tuple[str, str, int]]:
        """(name, kind, study answers so far) of every participant."""
        with self.connect() as con:
            return con.execute(
                "SELECT p.name, p.kind, COUNT(i.id) FROM participants p LEFT JOIN answers a ON a.participant_id "
                "= p.id LEFT JOIN items i ON i.id = a.item_id AND i.practice = 0 GROUP BY p.id ORDER BY p.id"
            ).fetchall()

    def n_study_items(self) -> int:
        with self.connect() as con:
            return con.execute("SELECT COUNT(*) FROM items WHERE practice = 0").fetchone()[0]


def _opt(v) -> int | None:
    return None if v is None else int(v)
