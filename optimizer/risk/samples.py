"""Sample sets of SPEC section 7: sampled futures of bans and hashprice, as folders, and the sampler.

A sample set is a folder of three CSVs (read and checked like scenario files; every problem
names the file, the spreadsheet row and the column):

- samples.csv: ``sample`` (integer, unique), ``weight`` (optional, > 0; normalised to sum 1).
- bans.csv: ``sample``, ``jurisdiction`` (in sites.csv), ``ban_month`` (integer 0..H-1), optional
  ``end_month`` (> ban_month, <= H, empty = H: mining resumes from that month; optimizer/futures.py); a
  (sample, jurisdiction) pair absent means no ban within the horizon.
- hashprice.csv (optional): ``sample``, ``month`` (0..H-1), ``factor`` (> 0); absent rows mean 1.
- resale.csv (optional, SPEC section 9): ``sample``, ``month``, ``factor`` (> 0, month 0 = 1): f_k,t;
  absent rows: the scenario's resale path (``futures.resale_path``).

The sampler (``draw``)
----------------------
Bans. Each jurisdiction j has the annual ban probability r_j of section 2 (the largest
``reg_risk`` of its sites: bans are per jurisdiction, a site with a lower figure is treated as
its neighbours). Section 2 says mining there is still allowed in month t with probability
S_j,t = (1 - r_j)^((t + 0.5) / 12). The sampler draws U_j uniform on (0, 1) and sets

    ban_month_j = min { t in 0..H-1 : U_j > S_j,t }   (no ban within the horizon if none),

so P(ban_month_j > t) = P(U_j <= S_j,t) = S_j,t exactly, for every t: the share of samples in
which j is still allowed in month t tends to S_j,t. The U_j of one sample are tied by a Gaussian
copula with one common factor: U_j = Phi(sqrt(rho) F + sqrt(1 - rho) e_j), F and e_j independent
standard normals, rho = ``risk.ban_correlation`` in [0, 1). A high F (a regulatory wave, such as
China's in 2021 followed by Kazakhstan's) pushes every U_j up at once: one regulator's move
raises the odds next door. rho is the correlation of the latent normals; rho = 0 makes
jurisdictions independent. The marginals (and so section 2's survival) do not depend on rho.

Hashprice. factor_k,t = exp(sigma * W_t - sigma^2 * t / 2) with W_0 = 0 and W_t a sum of t
independent standard normal steps (a driftless geometric random walk in months), sigma =
``risk.hashprice_volatility`` / sqrt(12). E[factor_k,t] = 1 for every t, so the sampled
hashprice is centred on the scenario's own path hp_t (its drift, halvings, market.csv);
month 0 keeps today's hashprice. Factors are independent of the bans. With a volatility of 0
every factor is 1 and no hashprice.csv is written.

Default volatility 0.44 a year: the standard deviation of month-to-month log changes of the
monthly-mean hashprice (difficulty-implied, fees included, from Coin Metrics daily data: the
histories of datasets/china-2021, Jul 2021-Jun 2023, and datasets/post-halving-2024, Jun 2024-Dec
2025; ESTIMATE months left out), around each window's own drift, pooled over 41 changes and
annualised with sqrt(12): 0.437 (tools/hashprice_volatility.py; tests/test_volatility.py recomputes
it and ties the default to it). That is what the sampler multiplies: the scenario's monthly path.
Bitcoin's own monthly returns (25% a month over the five years to September 2021, 0.866 a year, the
default before issue 21) overstate it: the network hashrate and fees partly offset the price. Set
``risk.hashprice_volatility`` to your own.

Stops that end (SPEC section 9). Each drawn ban is permanent with probability
``risk.stop_permanent_share`` (default 1: every stop lasts to the horizon, as before), else mining
resumes ``risk.stop_months`` months later (bans.csv's ``end_month``, capped at H). The ban month's law
(the survival above) is unchanged: the share only decides how long a stop lasts. One stop per
jurisdiction and sample.

Resale (SPEC section 9). With ``risk.resale_beta`` = beta != 0 and a volatility > 0, the sample set
carries resale.csv: f_k,t = f_t * factor_k,t^beta, f_t the scenario's resale path
(``futures.resale_path``). ASIC prices follow hashprice; beta = 1 moves them one for one.

Seeds. Samples are drawn in fixed blocks of ``BLOCK`` samples; block b uses
``numpy.random.Generator(PCG64(SeedSequence(seed, spawn_key=(b,))))`` and draws, in this order,
F (n), e (n, J), the hashprice steps (n, H - 1) and, when ``risk.stop_permanent_share`` < 1, one uniform
per sample and jurisdiction for the stop's permanence. Whatever the chunking (local threads, a
Dask cluster, any number of workers) the same seed gives the same numbers and the same files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import scipy.special

from optimizer.economics import survival_path
from optimizer.inputs import names
from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.notes import InputWarning
from optimizer.inputs.scenario import Scenario
from optimizer.risk.futures import (END_MONTH, calendar_months, end_months, match_jurisdictions, refuse_typed_sentinel,
                                    resale_path, review_factors, sampled_resale, stop_ends)

MAX_SAMPLES = 1_000_000  # bounds memory (a sample set is held whole: samples x months factors)
BLOCK = 1024  # samples per seed block: part of the sampler's definition, never change it

_pos = (lambda v: v > 0, "> 0")
_nonneg = (lambda v: v >= 0, ">= 0")

SAMPLES = T.TableSpec(
    "samples.csv",
    (
        T.Column("sample", "integer", "", "sample id, unique"),
        T.Column("weight", "float", "", "relative weight of the sample (normalised to sum 1)", 1.0, _pos[0], _pos[1]),
    ),
    key=(),  # unique: checked by _duplicates (vectorised; the generic row-wise check is slow at 10^5 rows)
)
BANS = T.TableSpec(
    "bans.csv",
    (
        T.Column("sample", "integer", "", "a sample of samples.csv"),
        T.Column("jurisdiction", "text", "", "a jurisdiction of sites.csv"),
        T.Column("ban_month", "integer", "month", "mining stops from the start of this month (0-based)", None,
                 _nonneg[0], _nonneg[1]),
        END_MONTH,
    ),
    key=(),
    required=True,
    min_rows=0,
)
HASHPRICE = T.TableSpec(
    "hashprice.csv",
    (
        T.Column("sample", "integer", "", "a sample of samples.csv"),
        T.Column("month", "integer", "month", "month of the horizon (0-based)", None, _nonneg[0], _nonneg[1]),
        T.Column("factor", "float", "", "multiplies the scenario's hashprice in that sample and month", None,
                 _pos[0], _pos[1]),
    ),
    key=(),
    required=False,
    min_rows=0,
)
RESALE = T.TableSpec(
    "resale.csv",
    (
        T.Column("sample", "integer", "", "a sample of samples.csv"),
        T.Column("month", "integer", "month", "month of the horizon (0-based)", None, _nonneg[0], _nonneg[1]),
        T.Column("factor", "float", "", "f_k,t: a rig sold at the start of that month fetches resale_usd x factor "
                 "(month 0 = 1)", None, _pos[0], _pos[1]),
    ),
    key=(),
    required=False,
    min_rows=0,
)
SAMPLE_TABLES = {"samples": SAMPLES, "bans": BANS, "hashprice": HASHPRICE, "resale": RESALE}
KEYS = {"samples": ("sample",), "bans": ("sample", "jurisdiction"), "hashprice": ("sample", "month"),
        "resale": ("sample", "month")}


def _duplicates(frame: pd.DataFrame, spec: T.TableSpec, key: tuple[str, ...]) -> list[Problem]:
    """A row repeating an earlier row's key: file, row, the key's last column, and where it was first given."""
    dup = frame.duplicated(list(key), keep="first").to_numpy()
    if not dup.any():
        return []
    first = frame.drop_duplicates(list(key), keep="first").set_index(list(key))["_row"]
    problems = []
    for _, row in frame[dup].head(T.MAX_PROBLEMS_PER_FILE).iterrows():
        k = tuple(row[c] for c in key)
        where = first.loc[k if len(k) > 1 else k[0]]
        label = ", ".join(f"{c}={v!r}" for c, v in zip(key, k))
        problems.append(Problem(spec.file, int(row["_row"]), key[-1], f"duplicate {label}", f"first given on row {int(where)}"))
    return problems


@dataclass(frozen=True, eq=False)
class SampleSet:
    """Sampled futures over a horizon of H months. K samples, J jurisdictions.

    ``ban_month[k, j]`` is the month jurisdiction j bans mining in sample k, or H for no ban
    within the horizon. ``factor`` is (K, H), or None when every factor is 1.
    """

    sample: np.ndarray  # (K,) int ids, in file order
    weight: np.ndarray  # (K,) float, sums to 1
    jurisdictions: tuple[str, ...]  # (J,)
    ban_month: np.ndarray  # (K, J) int in 0..H
    factor: np.ndarray | None  # (K, H) float > 0, or None
    months: int
    # SPEC section 8/9: (K, J) int, the month mining resumes (ban_month < end <= H; H: never within the
    # horizon; ignored where ban_month = H). None: every stop is permanent.
    ban_end: np.ndarray | None = None
    # SPEC section 9: (K, H) resale factors f_k,t (month 0 = 1), or None: the scenario's resale path in every sample.
    resale: np.ndarray | None = None
    warnings: tuple = ()  # InputWarnings from reading the files (names unified, months converted, slips)

    @property
    def n(self) -> int:
        return len(self.sample)

    def subset(self, start: int, stop: int) -> "SampleSet":
        """Samples start..stop-1 (weights as they are, not renormalised)."""
        cut = lambda a: None if a is None else a[start:stop]  # noqa: E731
        return SampleSet(self.sample[start:stop], self.weight[start:stop], self.jurisdictions,
                         self.ban_month[start:stop], cut(self.factor), self.months, cut(self.ban_end),
                         cut(self.resale))

    def end_month(self) -> np.ndarray:
        """(K, J) the month each stop ends (H: it lasts to the horizon, or there is no stop)."""
        return np.full_like(self.ban_month, self.months) if self.ban_end is None else self.ban_end

    def ban_indicator(self, jurisdiction_index: np.ndarray) -> np.ndarray:
        """B[k, p, t] = 1 while mining is allowed at pair p's jurisdiction (bool, (K, P, H)):
        t < ban_month or t >= end_month."""
        t = np.arange(self.months)
        alive = t[None, None, :] < self.ban_month[:, jurisdiction_index][:, :, None]
        if self.ban_end is not None:
            alive |= t[None, None, :] >= self.ban_end[:, jurisdiction_index][:, :, None]
        return alive

    def frames(self) -> dict[str, pd.DataFrame]:
        """The three tables as the files hold them (hashprice absent when every factor is 1)."""
        out = {"samples": pd.DataFrame({"sample": self.sample, "weight": self.weight})}
        k, j = np.nonzero(self.ban_month < self.months)
        out["bans"] = pd.DataFrame({"sample": self.sample[k], "jurisdiction": np.array(self.jurisdictions, dtype=object)[j],
                                    "ban_month": self.ban_month[k, j]})
        if self.ban_end is not None and (self.ban_end[k, j] < self.months).any():  # empty cell: to the horizon
            end = self.ban_end[k, j]
            out["bans"]["end_month"] = pd.array(np.where(end < self.months, end, 0), dtype="Int64")
            out["bans"].loc[end >= self.months, "end_month"] = pd.NA
        if self.factor is not None:
            K, H = self.factor.shape
            out["hashprice"] = pd.DataFrame({"sample": np.repeat(self.sample, H), "month": np.tile(np.arange(H), K),
                                             "factor": self.factor.ravel()})
        if self.resale is not None:
            K, H = self.resale.shape
            out["resale"] = pd.DataFrame({"sample": np.repeat(self.sample, H), "month": np.tile(np.arange(H), K),
                                          "factor": self.resale.ravel()})
        return out

    def write(self, folder: str | Path) -> Path:
        """Write samples.csv, bans.csv (and hashprice.csv, resale.csv); floats round-trip exactly. The
        folder is written whole or not at all and replaced whole (``optimizer.results.outdir``), so a
        stale hashprice.csv or resale.csv of an earlier set never stays beside the new files."""
        from optimizer.results import write_files

        return write_files(folder, {SAMPLE_TABLES[name].file: frame.to_csv(index=False, lineterminator="\n",
                                                                           float_format="%.17g")
                                    for name, frame in self.frames().items()})


def scenario_jurisdictions(scn: Scenario) -> tuple[tuple[str, ...], np.ndarray]:
    """Jurisdictions of sites.csv (sorted) and each one's annual ban probability (largest reg_risk of its sites)."""
    risk = scn.sites.groupby("jurisdiction", sort=True)["reg_risk"].max()
    return tuple(str(j) for j in risk.index), risk.to_numpy(float)


def survival(reg_risk: np.ndarray, months: int) -> np.ndarray:
    """Section 2's S_t = (1 - reg_risk)^((t + 0.5) / 12), shape (J, H) (``economics.survival_path``)."""
    return survival_path(reg_risk, months)


def draw_block(seed: int, block: int, n: int, reg_risk: np.ndarray, months: int,
               ban_correlation: float, hashprice_volatility: float, stop_permanent_share: float = 1.0,
               stop_months: int = 3) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Ban months (n, J), factors (n, H) or None, and end months (n, J) or None (every stop permanent),
    for samples block*BLOCK .. block*BLOCK + n - 1."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
    J = len(reg_risk)
    common = rng.standard_normal(n)
    own = rng.standard_normal((n, J))
    latent = np.sqrt(ban_correlation) * common[:, None] + np.sqrt(1 - ban_correlation) * own
    u = scipy.special.ndtr(latent)
    surv = survival(reg_risk, months)  # (J, H), non-increasing in t
    # ban_month = number of months t with U <= S_t (S falls with t): the first month with U > S_t.
    ban = (u[:, :, None] <= surv[None, :, :]).sum(axis=2).astype(np.int64)
    steps = rng.standard_normal((n, max(months - 1, 0)))
    # SPEC 9, drawn after everything above so that the bans and factors of a seed do not depend on it
    end = stop_ends(rng, ban, months, stop_permanent_share, stop_months)
    if hashprice_volatility == 0:
        return ban, None, end
    sigma = hashprice_volatility / np.sqrt(12)
    walk = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    t = np.arange(months)
    return ban, np.exp(sigma * walk - sigma**2 * t[None, :] / 2), end


def draw(scn: Scenario, n: int | None = None, seed: int | None = None,
         mapper: Callable | None = None) -> SampleSet:
    """Draw a sample set from the scenario (knobs in ``scn.settings.risk``). Equal weights.

    ``mapper(fn, list_of_arg_tuples) -> list`` runs the blocks (see ``optimizer.risk.scaleout``);
    default: one after another. Same (scenario, n, seed) -> same numbers whatever the mapper.
    """
    rs = scn.settings.risk
    n = rs.samples if n is None else int(n)
    seed = rs.seed if seed is None else int(seed)
    if not 1 <= n <= MAX_SAMPLES:
        raise ScenarioError(Problem("--n", None, None, f"must be from 1 to {MAX_SAMPLES:,}, got {n}"))
    if seed < 0:
        raise ScenarioError(Problem("--seed", None, None, f"must be >= 0, got {seed}"))
    H = scn.settings.horizon.months
    juris, risk = scenario_jurisdictions(scn)
    args = [(seed, b, min(BLOCK, n - b * BLOCK), risk, H, rs.ban_correlation, rs.hashprice_volatility,
             rs.stop_permanent_share, rs.stop_months) for b in range((n + BLOCK - 1) // BLOCK)]
    parts = mapper(draw_block, args) if mapper is not None else [draw_block(*a) for a in args]
    ban = np.concatenate([p[0] for p in parts])
    factor = None if rs.hashprice_volatility == 0 else np.concatenate([p[1] for p in parts])
    end = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    if end is not None and not (end[ban < H] < H).any():
        end = None  # every drawn stop reaches the horizon: the files say nothing more than without end months
    return SampleSet(np.arange(n), np.full(n, 1.0 / n), juris, ban, factor, H, end,
                     sampled_resale(scn, factor, rs.resale_beta))


def one_future(scn: Scenario, ban_months: Mapping[str, int] | None = None,
               hashprice_usd_th_day: np.ndarray | None = None,
               end_months: Mapping[str, int] | None = None) -> SampleSet:
    """A sample set of one known future (e.g. what actually happened, for a backtest).

    ``ban_months``: jurisdiction -> month its ban starts (absent: no ban); ``end_months``: jurisdiction ->
    month mining resumes (ban_month < end <= H; absent: H, the stop lasts). ``hashprice_usd_th_day``
    (H,): the realised hashprice; factor_t = realised / the scenario's hp_t (None: factor 1).
    Raises ScenarioError for an unknown jurisdiction, a month outside 0..H-1, or a hashprice the
    scenario's path cannot be scaled to (scenario hp_t = 0 where the realised one is not).
    """
    from optimizer import economics

    H = scn.settings.horizon.months
    juris, _ = scenario_jurisdictions(scn)
    ban = np.full((1, len(juris)), H, np.int64)
    problems = []
    for name, month in (ban_months or {}).items():
        if name not in juris:
            problems.append(Problem("bans", None, "jurisdiction", f"unknown jurisdiction '{name}': not in sites.csv",
                                    T._did_you_mean(name, list(juris))))
        elif not 0 <= int(month) <= H - 1:
            problems.append(Problem("bans", None, "ban_month", f"{month} is out of range: must be a month 0..{H - 1}"))
        else:
            ban[0, juris.index(name)] = int(month)
    ban_end = None
    for name, month in (end_months or {}).items():
        if name in juris and name in (ban_months or {}):
            b = int(ban_months[name])
            if not b < int(month) <= H:
                problems.append(Problem("bans", None, "end_month", f"{month} is out of range: must be in {b + 1}..{H}"))
            elif int(month) < H:
                if ban_end is None:
                    ban_end = np.full((1, len(juris)), H, np.int64)
                ban_end[0, juris.index(name)] = int(month)
        elif name not in juris:
            problems.append(Problem("bans", None, "jurisdiction", f"unknown jurisdiction '{name}': not in sites.csv"))
        else:
            problems.append(Problem("bans", None, "end_month", f"'{name}' has an end month but no ban month"))
    factor = None
    if hashprice_usd_th_day is not None:
        realised = np.asarray(hashprice_usd_th_day, float)
        assumed = economics.hashprice(scn)
        if realised.shape != (H,):
            problems.append(Problem("hashprice", None, "hashprice_usd_th_day", f"needs {H} months, got {realised.size}"))
        elif ((assumed <= 0) & (realised > 0)).any():
            problems.append(Problem("hashprice", None, "hashprice_usd_th_day",
                                    "the scenario's hashprice is 0 in a month where the realised one is not"))
        else:
            factor = np.divide(realised, assumed, out=np.ones(H), where=assumed > 0)[None, :]
    if problems:
        raise ScenarioError(problems)
    return SampleSet(np.array([0]), np.array([1.0]), juris, ban, factor, H, ban_end)


# ---------------------------------------------------------------------------- reading


def read_sample_folder(path: str | Path) -> dict[str, bytes]:
    folder = Path(path)
    if not folder.is_dir():
        raise ScenarioError(Problem(str(folder), None, None, "does not exist" if not folder.exists() else "is not a folder",
                                    "give the folder `python -m optimizer sample` wrote"))
    files = {}
    try:
        for spec in SAMPLE_TABLES.values():
            p = folder / spec.file
            if p.is_file():
                files[spec.file] = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(Problem(str(folder), None, None, f"cannot be read: {exc.strerror or exc}")) from None
    return files


def _table(files: dict[str, bytes], spec: T.TableSpec, problems: list[Problem],
           prepare: Callable[[pd.DataFrame, T.TableSpec], tuple[pd.DataFrame, list[Problem], set]] | None = None
           ) -> pd.DataFrame | None:
    data = files.get(spec.file)
    if data is None:
        if spec.required:
            problems.append(Problem(spec.file, None, None, "is missing",
                                    "a sample set needs samples.csv and bans.csv (hashprice.csv optional)"))
        return None
    frame, found = T.read_csv(data, spec)
    problems.extend(found)
    if frame is None:
        return None
    early = refuse_typed_sentinel(frame, spec.file)
    if prepare is not None:  # calendar months converted, names matched (optimizer/futures.py)
        frame, found, quiet = prepare(frame, spec)
        early += found
    taken = {(p.row, p.column) for p in early} | (quiet if prepare is not None else set())  # reported once
    typed, found = T.validate_table(frame, spec)
    problems.extend(early + [p for p in found if (p.row, p.column) not in taken])
    if early:
        return None
    if typed is not None:
        found = _duplicates(typed, spec, KEYS[next(k for k, v in SAMPLE_TABLES.items() if v is spec)])
        problems.extend(found)
        if found:
            return None
    return typed


def samples_from_files(files: dict[str, bytes], scn: Scenario) -> SampleSet:
    """A checked SampleSet from file contents; raises ScenarioError listing every problem."""
    from optimizer import economics
    from optimizer.inputs.plausibility import confirmations

    problems: list[Problem] = []
    notes: list[InputWarning] = []
    H = scn.settings.horizon.months
    juris, _ = scenario_jurisdictions(scn)

    def prepare(frame: pd.DataFrame, spec: T.TableSpec) -> tuple[pd.DataFrame, list[Problem]]:
        frame, found, converted, quiet = calendar_months(frame, spec.file, scn.settings.horizon.start_month)
        frame, named = match_jurisdictions(frame, spec.file, list(juris))
        notes.extend(converted + named)
        return frame, found, quiet

    frames = {name: _table(files, spec, problems, prepare) for name, spec in SAMPLE_TABLES.items()}
    if problems:
        raise ScenarioError(problems)
    smp, bans, hp, rs = frames["samples"], frames["bans"], frames["hashprice"], frames["resale"]
    ids = smp["sample"].to_numpy(np.int64)
    index = pd.Index(ids)

    def refs(frame: pd.DataFrame, spec: T.TableSpec) -> np.ndarray:
        pos = index.get_indexer(frame["sample"].to_numpy(np.int64))
        for r, v, p in zip(frame["_row"], frame["sample"], pos):
            if p < 0:
                problems.append(Problem(spec.file, int(r), "sample", f"unknown sample {v}: not in samples.csv"))
        return pos

    def months(frame: pd.DataFrame, spec: T.TableSpec, column: str) -> None:
        bad = frame[column].to_numpy(np.int64) > H - 1
        for r, v in zip(frame["_row"][bad], frame[column][bad]):
            problems.append(Problem(spec.file, int(r), column, f"{v} is out of range: must be a month 0..{H - 1}",
                                    f"the scenario's horizon is {H} months"))

    k_ban = refs(bans, BANS)
    months(bans, BANS, "ban_month")
    end = end_months(bans, BANS.file, H, problems)
    j_ban = pd.Index(juris).get_indexer(bans["jurisdiction"])
    for r, v, j in zip(bans["_row"], bans["jurisdiction"], j_ban):
        if j < 0:
            problems.append(Problem(BANS.file, int(r), "jurisdiction", f"unknown jurisdiction '{v}': not in sites.csv",
                                    T._did_you_mean(v, list(juris))))
    factor = None
    if hp is not None:
        k_hp = refs(hp, HASHPRICE)
        months(hp, HASHPRICE, "month")
    if hp is not None and not problems:
        review_factors(hp, HASHPRICE.file, k_hp, len(ids), H, economics.hashprice(scn), "hashprice", problems, notes)
    if rs is not None:
        k_rs = refs(rs, RESALE)
        months(rs, RESALE, "month")
        if not problems:
            review_factors(rs, RESALE.file, k_rs, len(ids), H, resale_path(scn), "resale", problems, notes)
        for r, f in zip(rs["_row"][rs["month"] == 0], rs["factor"][rs["month"] == 0]):
            if f != 1:
                problems.append(Problem(RESALE.file, int(r), "factor", f"{f:g} in month 0: must be 1",
                                        "month 0 is today, when a rig fetches resale_usd; factors are relative to it"))
    if problems:
        raise ScenarioError(problems[: 2 * T.MAX_PROBLEMS_PER_FILE])
    K = len(ids)
    ban = np.full((K, len(juris)), H, np.int64)
    ban[k_ban, j_ban] = bans["ban_month"].to_numpy(np.int64)
    ban_end = None
    if (end < H).any():
        ban_end = np.full((K, len(juris)), H, np.int64)
        ban_end[k_ban, j_ban] = end
    if hp is not None and len(hp):
        factor = np.ones((K, H))
        factor[k_hp, hp["month"].to_numpy(np.int64)] = hp["factor"].to_numpy(float)
    resale = None
    if rs is not None and len(rs):  # absent rows: the scenario's resale path
        resale = np.tile(resale_path(scn), (K, 1))
        resale[k_rs, rs["month"].to_numpy(np.int64)] = rs["factor"].to_numpy(float)
    w = smp["weight"].to_numpy(float)
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        raise ScenarioError(Problem(SAMPLES.file, None, "weight", "weights do not add up to a positive finite number"))
    confirmed = {names.canon(c) for c in confirmations(scn.settings)}
    kept = tuple(note for note in notes if not (note.confirm and names.canon(note.confirm) in confirmed))
    return SampleSet(ids, w / total, juris, ban, factor, H, ban_end, resale, kept)


def load_samples(path: str | Path, scn: Scenario) -> SampleSet:
    """Read and check a sample-set folder against its scenario (horizon, jurisdictions)."""
    return samples_from_files(read_sample_folder(path), scn)
