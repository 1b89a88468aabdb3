"""RR-interval series from R-peak positions: pure numpy functions, units in their names.

The choices follow the Apnea-ECG literature (e.g. Chen et al. 2015; Wang et al. 2019):
* an RR interval outside [0.3, 2.0] s (200-30 beats per minute) is physiologically impossible
  for a sleeping adult and comes from a missed or extra beat detection: dropped;
* an interval that differs from the median of its 5-beat neighbourhood by more than 20% is an
  ectopic beat or a detection error: dropped;
* the remaining intervals, placed at the time of the beat that ends them, are linearly
  interpolated onto a uniform grid (4 Hz: the band of respiratory modulation of heart rate,
  0.1-0.4 Hz, is far below the 2 Hz Nyquist limit).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

RR_MIN_S, RR_MAX_S = 0.3, 2.0
MEDIAN_BEATS = 5
MAX_REL_DEVIATION = 0.2


def rr_intervals(beats: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """beats: (B,) R-peak sample indices (increasing) -> (t_s, rr_s), both (B-1,): the time of
    the beat that ends each interval and the interval's length, in seconds."""
    beats = np.asarray(beats, dtype=np.float64)
    return beats[1:] / fs_hz, np.diff(beats) / fs_hz


def clean_mask(rr_s: np.ndarray) -> np.ndarray:
    """(B-1,) True for intervals that are physiologically possible and not outliers (see module doc)."""
    if len(rr_s) == 0:
        return np.zeros(0, dtype=bool)
    ok = (rr_s >= RR_MIN_S) & (rr_s <= RR_MAX_S)
    med = median_filter(rr_s, size=MEDIAN_BEATS, mode="nearest")
    return ok & (np.abs(rr_s - med) <= MAX_REL_DEVIATION * med)


def resample(t_s: np.ndarray, rr_s: np.ndarray, grid_s: np.ndarray) -> np.ndarray:
    """RR (s) linearly interpolated at the times ``grid_s`` (s); constant beyond the first/last beat."""
    return np.interp(grid_s, t_s, rr_s).astype(np.float32)
