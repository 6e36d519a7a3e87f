"""The decision a board takes, in one place: what to do, what it is expected to add against selling
everything now, the odds of ending below selling, the bad tail, and (where the scenario ships a
history) what the advice realised.

One definition of each figure for the app's decision card, the Risk tab, the report and the CLI:

- **expected value** (``expected_value_usd``): the plan's value under SPEC sections 2-3 with every
  month weighted by S_t, the chance mining is still allowed, *before* the caution charge
  (``policy.risk_aversion``'s penalty, a preference and not money). Computed, not sampled: no
  sampling error. ``gain_usd`` = expected value - ``sell_all_usd`` (the whole fleet sold today).
- **chance of ending below selling** and **worst-alpha average (CVaR)**: SPEC section 7 over the
  scenario's own sample set (``risk.samples`` futures drawn with ``risk.seed``): sampled, with n.
- **sampled mean** (``risk.json``'s ``expected_npv_usd``) with its standard error
  (``expected_npv_se_usd`` = sd / sqrt(n) for equal weights). It is not the expected value above:
  besides its sampling error ($3.2M at china-2021's 1,000 samples), in a sample the hashprice moves
  month by month and a rig switches off in a month when power costs more than it earns, which the
  single planning path cannot do (on china-2021: $105.1M +- $0.4M over 40,000 samples against
  $103.54M). With ``risk.hashprice_volatility = 0`` the two agree within the standard error
  (tests/test_decision.py).
- **realised**: ``optimizer.risk.backtest``'s realised value of the plan on the history, against
  selling everything at the start.

``schedule``: the monthly plan (SPEC section 8: what to ship when, what to hold, what to sell later)
once it exists; None means every decision is taken at month 0, which is all sections 2-3 decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.results import fmt

WHOLE_TOLERANCE = 1e-6  # a rig count this close to an integer is whole (solver noise: 8999.999999999995)


@dataclass(frozen=True)
class Decision:
    """The figures of the decision card (USD, rigs, probabilities as fractions)."""

    rigs_total: float
    rigs_relocated: float
    rigs_sold: float
    rigs_idle: float
    whole_rigs: bool  # every count in the allocation is a whole number
    destinations: tuple[tuple[str, float], ...]  # (jurisdiction, rigs shipped there), most rigs first
    sites_used: int
    expected_value_usd: float
    sell_all_usd: float
    risk_charge_usd: float
    risk: dict[str, Any] | None = None  # optimizer.risk.summarize's figures, or None when not sampled
    realised: dict[str, Any] | None = None  # optimizer.risk.backtest's summary, or None without a history
    schedule: pd.DataFrame | None = field(default=None, compare=False)  # SPEC section 8's monthly plan, when solved

    @property
    def gain_usd(self) -> float:
        """Expected value minus selling the whole fleet today (USD)."""
        return self.expected_value_usd - self.sell_all_usd

    def count(self, value: float) -> str:
        """Rigs in words: whole ("13,999") or, for a fractional plan, one decimal ("955.1")."""
        return fmt.rigs(value) if self.whole_rigs else f"{value:,.1f}"

    def action_text(self) -> str:
        """What to do, in words: "Ship 13,999 rigs to 7 sites (Texas 8,000, ...); sell 25,001 now; store none."."""
        if self.schedule is not None:  # SPEC section 8: what to ship when, what to hold, what to sell (waves.py)
            from optimizer.risk import waves

            return waves.action_text(self.schedule, self.whole_rigs)
        parts = []
        if self.rigs_relocated >= 0.5:
            where = ", ".join(f"{j} {self.count(r)}" for j, r in self.destinations[:3])
            more = len(self.destinations) - 3
            where += f" and {more} more place{'s' if more > 1 else ''}" if more > 0 else ""
            parts.append(f"ship {self.count(self.rigs_relocated)} rigs to {self.sites_used} "
                         f"site{'s' if self.sites_used != 1 else ''} ({where})")
        else:
            parts.append("ship none")
        parts.append(f"sell {self.count(self.rigs_sold)} now" if self.rigs_sold >= 0.5 else "sell none now")
        parts.append(f"store {self.count(self.rigs_idle)} and sell them at the end" if self.rigs_idle >= 0.5
                     else "store none")
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."

    def value_text(self) -> str:
        """The whole plan's expected value against selling, credited to the whole plan (moves, sales and storage)."""
        sign = "+" if self.gain_usd >= 0 else "-"
        share = f", {self.gain_usd / self.sell_all_usd:+.1%}" if self.sell_all_usd > 0 else ""
        return (f"The whole plan (what it ships, sells and stores) is expected to be worth {fmt.usd(self.expected_value_usd)}, "
                f"against {fmt.usd(self.sell_all_usd)} for selling all {fmt.rigs(self.rigs_total)} rigs today "
                f"({sign}{fmt.usd(abs(self.gain_usd))}{share}).")

    def odds_text(self) -> str | None:
        """The sampled odds in words, with n and the sampling error, or None when not sampled."""
        r = self.risk
        if not r:
            return None
        alpha = r["risk_alpha"]
        return (f"In {r['n_samples']:,} sampled futures of bans and hashprice it ends below selling in "
                f"{r['prob_below_sell_all']:.0%} of them; the worst {alpha:.0%} average {fmt.usd(r['cvar_usd'])}. "
                f"Their mean, {fmt.usd(r['expected_npv_usd'])} (standard error {fmt.usd(r['expected_npv_se_usd'])}), "
                "is not the expected value above: it carries sampling error, and in a sampled future rigs switch off "
                "in months when power costs more than they earn, which the planning path cannot do.")

    def realised_text(self) -> str | None:
        r = self.realised
        if not r:
            return None
        d = r["realised_vs_sell_all_usd"]
        return (f"On what actually came it would have realised {fmt.usd(r['realised_npv_usd'])}: "
                f"{'+' if d >= 0 else '-'}{fmt.usd(abs(d))} against selling everything at the start.")

    def figures(self) -> dict[str, Any]:
        """The card's figures under their stable names (the report and the CLI print the same)."""
        r, b = self.risk or {}, self.realised or {}
        return {
            "rigs_total": self.rigs_total, "rigs_relocated": self.rigs_relocated, "rigs_sold": self.rigs_sold,
            "rigs_idle": self.rigs_idle, "whole_rigs": self.whole_rigs, "sites_used": self.sites_used,
            "expected_value_usd": self.expected_value_usd, "sell_all_usd": self.sell_all_usd,
            "gain_vs_sell_all_usd": self.gain_usd, "risk_charge_usd": self.risk_charge_usd,
            "prob_below_sell_all": r.get("prob_below_sell_all"), "cvar_usd": r.get("cvar_usd"),
            "risk_alpha": r.get("risk_alpha"), "sampled_mean_usd": r.get("expected_npv_usd"),
            "sampled_mean_se_usd": r.get("expected_npv_se_usd"), "n_samples": r.get("n_samples"),
            "realised_npv_usd": b.get("realised_npv_usd"), "realised_vs_sell_all_usd": b.get("realised_vs_sell_all_usd"),
        }


def decide(summary: dict[str, Any], allocation: pd.DataFrame, risk_summary: dict[str, Any] | None = None,
           backtest_summary: dict[str, Any] | None = None, schedule: pd.DataFrame | None = None) -> Decision:
    """The decision of a solved plan.

    ``summary``/``allocation``: a Result's (``expected_value_usd`` filled by the analysis);
    ``risk_summary``: ``optimizer.risk.summarize`` of this plan over the scenario's samples;
    ``backtest_summary``: ``optimizer.risk.backtest``'s summary on the scenario's history.
    """
    moved = allocation[allocation["action"] == "relocate"] if len(allocation) else allocation
    dest = (moved.groupby("jurisdiction")["rigs"].sum().sort_values(ascending=False, kind="stable")
            if len(moved) else pd.Series(dtype=float))
    rigs = allocation["rigs"].to_numpy(dtype=float) if len(allocation) else []
    whole = all(abs(v - round(v)) <= WHOLE_TOLERANCE * max(1.0, abs(v)) for v in rigs)
    return Decision(
        rigs_total=float(summary.get("rigs_total") or 0.0), rigs_relocated=float(summary["rigs_relocated"]),
        rigs_sold=float(summary["rigs_sold"]), rigs_idle=float(summary["rigs_idle"]), whole_rigs=whole,
        destinations=tuple((str(j), float(r)) for j, r in dest.items()), sites_used=int(summary["sites_used"]),
        expected_value_usd=float(summary["expected_value_usd"]), sell_all_usd=float(summary["sell_all_usd"]),
        risk_charge_usd=float(summary.get("risk_charge_usd") or 0.0), risk=risk_summary, realised=backtest_summary,
        schedule=schedule)
