"""Level shifts in a meter's history, found by a scan over every bucket boundary.

For a design ``X`` with residuals ``r`` and a step regressor ``s`` (1 from
bucket ``j`` on), adding ``s`` lowers the residual sum of squares by
``(r . s)^2 / (s . M s)`` with ``M = I - Q Q'`` (``Q`` from the QR
decomposition of ``X``): both are sums over the tail from ``j``, so every
boundary is scored at once, in O(n p). The best boundary is kept when its F
statistic is at least ``MIN_F`` and the step is at least ``MIN_SIGMAS``
residual standard deviations: a scan over n boundaries finds a sizeable F in
pure noise, and correlated residuals inflate F without making a step large.
At most ``MAX_SHIFTS`` are kept, each found with the earlier ones in the design.
"""

import numpy as np
import numpy.typing as npt

from server.capacity.design import Design, Floats, fit_residuals

MIN_F = 25.0
MIN_SIGMAS = 3.0
MAX_SHIFTS = 3
#: Buckets on either side of a shift, at least (and at least this share of all).
MIN_SEGMENT = 6
MIN_SEGMENT_SHARE = 0.05
#: |t| of a slope change at the most recent shift for it to be kept.
MIN_SLOPE_CHANGE_T = 4.0
#: A residual sum of squares this small a share of the variation is a perfect fit.
EXACT_FIT = 1e-12


def _tail_sums(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    reversed_sums: npt.NDArray[np.float64] = np.cumsum(array[::-1], axis=0)[::-1]
    return reversed_sums


def _best_shift(
    design: Design, times: Floats, values: Floats, now: float, step: float
) -> float | None:
    matrix = design.matrix(times, now)
    n, width = matrix.shape
    segment = max(MIN_SEGMENT, int(MIN_SEGMENT_SHARE * n))
    if n - width - 1 < 2 or n < 2 * segment:
        return None
    q, _ = np.linalg.qr(matrix)
    residuals = values - q @ (q.T @ values)
    rss = float(residuals @ residuals)
    along = _tail_sums(residuals)
    projected = _tail_sums(q)
    counts = np.arange(n, 0, -1, dtype=np.float64)
    spread = counts - np.sum(projected * projected, axis=1)
    candidates = np.arange(segment, n - segment + 1)
    usable = candidates[spread[candidates] > 1e-9 * n]
    if len(usable) == 0:
        return None
    if rss <= EXACT_FIT * float(np.sum((values - np.mean(values)) ** 2)):
        return None
    gains = along[usable] ** 2 / spread[usable]
    best = int(usable[int(np.argmax(gains))])
    gain = float(along[best] ** 2 / spread[best])
    variance = max(rss - gain, 0.0) / (n - width - 1)
    if variance <= 0:
        return float(times[best] - step / 2)
    size = abs(float(along[best] / spread[best]))
    if gain / variance < MIN_F or size < MIN_SIGMAS * variance**0.5:
        return None
    return float(times[best] - step / 2)


def with_shifts(
    design: Design, times: Floats, values: Floats, now: float, *, step: float
) -> Design:
    """The design with the level shifts the history shows, at most ``MAX_SHIFTS``."""
    for _ in range(MAX_SHIFTS):
        found = _best_shift(design, times, values, now, step)
        if found is None or found in design.shifts:
            break
        design = design.with_shift(found)
    return design


def with_slope_change(design: Design, times: Floats, values: Floats, now: float) -> Design:
    """The design with a change of slope at its most recent shift, when significant."""
    if not design.shifts:
        return design
    candidate = Design(design.seasons, design.shifts, slope_change_at=max(design.shifts))
    matrix = candidate.matrix(times, now)
    n, width = matrix.shape
    if n - width < 2:
        return design
    coefficients, *_ = np.linalg.lstsq(matrix, values, rcond=None)
    residuals = fit_residuals(matrix, values)
    variance = float(residuals @ residuals) / (n - width)
    if variance <= EXACT_FIT * float(np.var(values)):
        return design
    try:
        covariance = variance * np.linalg.inv(matrix.T @ matrix)
    except np.linalg.LinAlgError:
        return design
    t_value = float(coefficients[-1]) / float(np.sqrt(covariance[-1, -1]))
    return candidate if abs(t_value) >= MIN_SLOPE_CHANGE_T else design
