"""The hashprice volatility the sampler should use, estimated from the repository's sourced histories.

What the sampler multiplies (optimizer/samples.py) is the scenario's *monthly* hashprice path: its
factor_k,t is a driftless geometric random walk with monthly steps of standard deviation
sigma = risk.hashprice_volatility / sqrt(12). The matching estimate is therefore the standard deviation
of month-to-month log changes of the monthly-mean hashprice, around each history's own mean change (the
scenario's drift carries the trend), annualised with sqrt(12):

    r_t = ln(hp_t / hp_{t-1}) over consecutive months t whose rows are both of kind "monthly mean"
    sigma_window = sqrt(12) * std(r, ddof=1)           (one history)
    sigma_pooled = sqrt(12) * sqrt(sum_w sum_t (r - mean_w)^2 / sum_w (n_w - 1))

Rows marked ESTIMATE (interpolations, values without a monthly source) and spot values are left out:
a spot value is not what the sampler multiplies. A change across a halving month would be the
scenario's halving step, not noise: histories here are checked to contain none (``HALVING_MONTHS``).

It also prints the spread of k-month log changes, sqrt(12 / k) * std(ln hp_{t+k} - ln hp_t), for k = 1, 3,
6, 12: for a random walk every k gives the same figure; a spread falling with k says changes revert
(the issue's "24-month spread well below").

Usage:  python -m tools.hashprice_volatility [DATASETS_DIR]   (prints a table and a JSON line)
"""
from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIND = "monthly mean"
HALVING_MONTHS = ("2012-11", "2016-07", "2020-05", "2024-04", "2028-04")  # calendar months holding a halving day


@dataclass(frozen=True)
class Window:
    name: str
    first: str  # calendar month of the first monthly-mean row
    last: str
    changes: tuple[float, ...]  # r_t
    levels: tuple[float, ...]  # ln hp of the run the changes come from

    @property
    def n(self) -> int:
        return len(self.changes)

    def volatility(self) -> float:
        return math.sqrt(12) * _std(self.changes)

    def spread(self, k: int) -> float | None:
        """sqrt(12/k) x the standard deviation of (overlapping) k-month log changes; None if too few."""
        diffs = [self.levels[i + k] - self.levels[i] for i in range(len(self.levels) - k)]
        return math.sqrt(12 / k) * _std(diffs) if len(diffs) >= 3 else None


def _std(values) -> float:
    values = list(values)
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def read_window(path: Path) -> Window | None:
    """The longest run of consecutive monthly-mean rows of one history market.csv (None if under 3 rows)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    rows.sort(key=lambda r: int(r["month"]))
    best: list[dict] = []
    run: list[dict] = []
    for r in rows:
        ok = (r.get("kind") or "").strip() == KIND and float(r["hashprice_usd_th_day"]) > 0
        if ok and run and int(r["month"]) == int(run[-1]["month"]) + 1:
            run.append(r)
        else:
            run = [r] if ok else []
        if len(run) > len(best):
            best = list(run)
    if len(best) < 3:
        return None
    cal = [(r.get("calendar_month") or "").strip() for r in best]
    if any(c in HALVING_MONTHS for c in cal[1:]):
        raise ValueError(f"{path}: the run {cal[0]}..{cal[-1]} crosses a halving; split it there")
    levels = tuple(math.log(float(r["hashprice_usd_th_day"])) for r in best)
    changes = tuple(b - a for a, b in zip(levels, levels[1:]))
    return Window(path.parent.parent.name, cal[0], cal[-1], changes, levels)


def windows(datasets: Path = ROOT / "datasets") -> list[Window]:
    out = []
    for path in sorted(datasets.glob("*/history/market.csv")):
        w = read_window(path)
        if w is not None:
            out.append(w)
    return out


def pooled(ws: list[Window]) -> float:
    num = sum(sum((r - sum(w.changes) / w.n) ** 2 for r in w.changes) for w in ws)
    return math.sqrt(12) * math.sqrt(num / sum(w.n - 1 for w in ws))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ws = windows(Path(argv[0]) if argv else ROOT / "datasets")
    if not ws:
        print("no history market.csv with 3 or more consecutive 'monthly mean' rows", file=sys.stderr)
        return 1
    print(f"{'history':<20} {'months':>14} {'changes':>7} {'vol/yr':>7}  spread k=1,3,6,12")
    for w in ws:
        spreads = ", ".join("-" if w.spread(k) is None else f"{w.spread(k):.3f}" for k in (1, 3, 6, 12))
        print(f"{w.name:<20} {w.first + '..' + w.last:>14} {w.n:>7} {w.volatility():>7.3f}  {spreads}")
    print(f"{'pooled':<20} {'':>14} {sum(w.n for w in ws):>7} {pooled(ws):>7.3f}")
    print(json.dumps({"pooled_volatility_per_year": round(pooled(ws), 4),
                      "windows": {w.name: {"first": w.first, "last": w.last, "changes": w.n,
                                           "volatility_per_year": round(w.volatility(), 4)} for w in ws}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
