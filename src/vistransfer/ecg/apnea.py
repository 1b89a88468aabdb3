"""The PhysioNet Apnea-ECG database (learning set, 35 records) as per-minute examples.

Files per record (``--data-dir`` holds them, or an ``apnea-ecg/`` folder with them): ``NAME.hea``
(header), ``NAME.apn`` (expert label per minute: one annotation every 6,000 samples at 100 Hz,
``A`` apnea/hypopnea or ``N`` normal), ``NAME.qrs`` (machine-detected R peaks). The raw ECG
``NAME.dat`` is optional: where present its R-peak amplitudes become a second channel. Every file
present is checked against PhysioNet's ``SHA256SUMS`` (which lists the missing ``.dat`` too).

One example per labelled minute m: the RR-interval series of minutes m-2 .. m+2 (5 minutes, the
window of the Apnea-ECG literature: apnea shows as cyclic heart-rate variation over 30-90 s, so
a minute alone is too short), cleaned and resampled to 4 Hz (:mod:`.rr`): x (1, 1200) in seconds,
clipped to [0.3, 2.0]. Sample j of the window covers time (m - 2) * 60 + (j + 0.5) / 4 s, so samples
480-719 are minute m itself, the minute the label describes. Minutes whose window runs past the
recording's ends, or whose window keeps fewer than half of its beats after cleaning, are dropped
and counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import VistransferError, require
from ..io import default_data_dir
from . import rr as rrmod

RECORDS = tuple([f"a{i:02d}" for i in range(1, 21)] + [f"b{i:02d}" for i in range(1, 6)] + [f"c{i:02d}" for i in range(1, 11)])
FS_OUT_HZ = 4.0
HALF_WINDOW_MIN = 2
SAMPLES_PER_MINUTE = 6000  # at the records' 100 Hz
MIN_KEPT_BEATS = 0.5
CLASSES = ("normal", "apnea")
VALUE_RANGE = (rrmod.RR_MIN_S, rrmod.RR_MAX_S)


@dataclass
class Record:
    """One night. labels: (M,) int, 1 = apnea minute; beats: (B,) R-peak samples; fs: Hz."""

    name: str
    labels: np.ndarray
    beats: np.ndarray
    fs: float
    sig_len: int
    amplitudes: np.ndarray | None = None  # (B,) R-peak amplitude in mV, when the .dat is present


def find_root(data_dir: str | Path | None) -> Path:
    root = default_data_dir(data_dir)
    for cand in (root / "apnea-ecg", root):
        if (cand / "a01.hea").is_file() or (cand / "SHA256SUMS").is_file() and (cand / "RECORDS").is_file():
            return cand
    raise VistransferError(
        f"apnea-ecg: no records in {root} or {root / 'apnea-ecg'}; put the PhysioNet Apnea-ECG files "
        "(NAME.hea, NAME.apn, NAME.qrs, SHA256SUMS) there, or point --data-dir at their folder"
    )


def _sums(root: Path) -> dict[str, str]:
    path = root / "SHA256SUMS"
    if not path.is_file():
        raise VistransferError(f"{path} is missing; copy PhysioNet's SHA256SUMS beside the records (it is how they are verified)")
    out = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.strip().partition(" ")
        if name:
            out[name.strip().lstrip("*")] = digest
    return out


def verify(root: Path, name: str, sums: dict[str, str] | None = None) -> None:
    """Check the files of record ``name`` that are present against SHA256SUMS (header, labels and beats must be)."""
    sums = _sums(root) if sums is None else sums
    for ext in ("hea", "apn", "qrs", "dat"):
        f = root / f"{name}.{ext}"
        if not f.is_file():
            if ext != "dat":
                raise VistransferError(f"{f} is missing; record {name} needs its .hea, .apn and .qrs files")
            continue
        want = sums.get(f.name)
        if want is None:
            raise VistransferError(f"{f.name} is not listed in {root / 'SHA256SUMS'}; use PhysioNet's files and checksum list")
        if hashlib.sha256(f.read_bytes()).hexdigest() != want:
            raise VistransferError(f"{f} fails its SHA256 checksum: the file is truncated, corrupt or not PhysioNet's; replace it")


def read_record(root: Path, name: str, check: bool = True, sums: dict[str, str] | None = None) -> Record:
    """Read one record's labels and beats (and amplitudes if its .dat is there); every problem names the file."""
    wfdb = require("wfdb", "ecg", "reading PhysioNet records")

    if check:
        verify(root, name, sums)
    base = str(root / name)
    try:
        header = wfdb.rdheader(base)
    except Exception as e:  # noqa: BLE001 - wfdb raises many types for a bad header
        raise VistransferError(f"{root / (name + '.hea')} is not a readable WFDB header ({type(e).__name__}); replace it") from None
    fs, sig_len = float(header.fs), int(header.sig_len)
    anns = {}
    for ext in ("apn", "qrs"):
        raw = (root / f"{name}.{ext}").read_bytes()
        if len(raw) < 2 or raw[-2:] != b"\x00\x00":  # MIT annotation files end with a zero word
            raise VistransferError(
                f"{root / (name + '.' + ext)} is not a readable WFDB annotation file (truncated: no end-of-file marker); replace it"
            )
        try:
            anns[ext] = wfdb.rdann(base, ext)
        except Exception as e:  # noqa: BLE001
            raise VistransferError(
                f"{root / (name + '.' + ext)} is not a readable WFDB annotation file ({type(e).__name__}: truncated or corrupt); replace it"
            ) from None
    apn, qrs = anns["apn"], anns["qrs"]
    samples = np.asarray(apn.sample)
    per_minute = int(round(60 * fs))
    n_minutes = sig_len // per_minute + (1 if sig_len % per_minute else 0)
    if len(samples) == 0 or np.any(samples % per_minute) or np.any(np.diff(samples) != per_minute) or samples[0] != 0:
        raise VistransferError(
            f"{root / (name + '.apn')}: labels must be one per minute from sample 0 "
            f"(every {per_minute} samples); this file's do not match record {name}"
        )
    if len(samples) > n_minutes:
        raise VistransferError(
            f"{root / (name + '.apn')} labels {len(samples)} minutes but record {name} lasts "
            f"{sig_len / per_minute:.1f} minutes ({root / (name + '.hea')}); the files do not belong together"
        )
    bad = sorted(set(apn.symbol) - {"A", "N"})
    if bad:
        raise VistransferError(f"{root / (name + '.apn')} holds labels {bad}; expected only A (apnea) and N (normal)")
    beats = np.asarray(qrs.sample, dtype=np.int64)
    if len(beats) < 2 or np.any(np.diff(beats) <= 0) or beats[-1] >= sig_len + per_minute:
        raise VistransferError(f"{root / (name + '.qrs')}: beat positions are not increasing sample indices inside the record")
    labels = np.array([1 if s == "A" else 0 for s in apn.symbol], dtype=np.int64)
    amps = _amplitudes(root, name, beats) if (root / f"{name}.dat").is_file() else None
    return Record(name, labels, beats, fs, sig_len, amps)


def _amplitudes(root: Path, name: str, beats: np.ndarray) -> np.ndarray:
    """R-peak amplitude (mV) at each beat, from the raw ECG (only for users who have the .dat)."""
    wfdb = require("wfdb", "ecg", "reading PhysioNet records")

    sig = wfdb.rdrecord(str(root / name), channels=[0]).p_signal[:, 0]
    lo, hi = np.clip(beats - 5, 0, len(sig) - 1), np.clip(beats + 6, 1, len(sig))
    return np.array([sig[a:b].max() for a, b in zip(lo, hi)], dtype=np.float32)


def minute_examples(rec: Record, half: int = HALF_WINDOW_MIN, fs_out: float = FS_OUT_HZ) -> dict:
    """Per-minute windows of one record: x (N, C, L) float32 (C = 1: RR in s; 2 with amplitudes),
    y (N,), minute (N,), and how many minutes were dropped and why."""
    t, rr = rrmod.rr_intervals(rec.beats, rec.fs)
    keep = rrmod.clean_mask(rr)
    tc, rrc = t[keep], rr[keep]
    amp = rec.amplitudes[1:][keep] if rec.amplitudes is not None else None
    minutes_in_record = rec.sig_len / (60 * rec.fs)
    length = int(round((2 * half + 1) * 60 * fs_out))
    xs, ys, ms = [], [], []
    dropped = {"edge": 0, "few_beats": 0}
    for m, label in enumerate(rec.labels):
        start, stop = (m - half) * 60.0, (m + half + 1) * 60.0
        if start < 0 or stop > minutes_in_record * 60.0:
            dropped["edge"] += 1
            continue
        in_win = (t >= start) & (t < stop)
        if in_win.sum() == 0 or keep[in_win].mean() < MIN_KEPT_BEATS or ((tc >= start) & (tc < stop)).sum() < 2:
            dropped["few_beats"] += 1
            continue
        grid = start + (np.arange(length) + 0.5) / fs_out
        chans = [np.clip(rrmod.resample(tc, rrc, grid), *VALUE_RANGE)]
        if amp is not None:
            chans.append(np.interp(grid, tc, amp).astype(np.float32))
        xs.append(np.stack(chans))
        ys.append(label)
        ms.append(m)
    x = np.stack(xs) if xs else np.zeros((0, 1 + (amp is not None), length), np.float32)
    return {"x": x, "y": np.array(ys, dtype=np.int64), "minute": np.array(ms, dtype=np.int64), "dropped": dropped}


def load_minutes(data_dir: str | Path | None, records: tuple[str, ...] = RECORDS, check: bool = True) -> dict:
    """All per-minute examples of ``records``: x (N, 1, 1200) torch float32, y (N,), record (N,) index
    into ``records``, minute (N,), and per-record drop counts."""
    root = find_root(data_dir)
    sums = _sums(root) if check else None
    unknown = [r for r in records if not (root / f"{r}.hea").is_file()]
    if unknown:
        raise VistransferError(f"record(s) {unknown} not found in {root} ({root / (unknown[0] + '.hea')} is missing)")
    parts, dropped = [], {}
    for i, name in enumerate(records):
        ex = minute_examples(read_record(root, name, check, sums))
        ex["record"] = np.full(len(ex["y"]), i, dtype=np.int64)
        parts.append(ex)
        dropped[name] = ex["dropped"]
    cat = lambda k: np.concatenate([p[k] for p in parts])  # noqa: E731
    return {
        "x": torch.from_numpy(cat("x")),
        "y": torch.from_numpy(cat("y")),
        "record": torch.from_numpy(cat("record")),
        "minute": torch.from_numpy(cat("minute")),
        "records": tuple(records),
        "dropped": dropped,
    }


def available_records(root: Path) -> tuple[str, ...]:
    """Learning-set records (a01.., b01.., c01..) whose labels are in ``root``, in RECORDS order."""
    import re

    listed = (root / "RECORDS").read_text().split() if (root / "RECORDS").is_file() else [p.stem for p in sorted(root.glob("*.apn"))]
    names = tuple(r for r in listed if re.fullmatch(r"[abc]\d\d", r))
    missing = [r for r in names if not (root / f"{r}.apn").is_file()]
    if missing:  # dropping it would change the record-wise split without a word
        raise VistransferError(
            f"{root / (missing[0] + '.apn')} is missing ({len(missing)} learning-set record(s) without labels: {missing[:5]}); "
            f"put PhysioNet's .apn files back, or list only the records you have in {root / 'RECORDS'}"
        )
    if not names:
        raise VistransferError(f"apnea-ecg: no labelled learning-set records (a01.apn, ...) in {root}")
    return names


def record_split(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The record-wise split of ``vistransfer run --dataset apnea-ecg``: every fifth record is held out
    (a05, a10, a15, a20, b05, c05, c10 of the 35), so train and test are different people."""
    return tuple(r for i, r in enumerate(names) if i % 5 != 4), tuple(r for i, r in enumerate(names) if i % 5 == 4)
