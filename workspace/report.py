"""The decision report of a plan: HTML that prints well (Jinja2), PDF (WeasyPrint) and an
XLSX workbook of its tables (openpyxl, with number formats that read well).

``build_report(scn, res, ...)`` gathers everything once; ``Report.html``, ``Report.pdf()`` and
``Report.xlsx()`` render it. ``write_report(out_dir, scn, res, ...)`` writes report.html,
report.pdf and plan.xlsx, as ``python -m optimizer report`` does.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

import optimizer
from optimizer.inputs.labels import setting_label
from optimizer.inputs.settings import get_value
from optimizer.results import fmt

from . import mapimage, report_monthly

TEMPLATES = Path(__file__).parent / "templates"
RISK_FIELDS = [  # SPEC section 7: risk.json, or summary.json of a risk-aware plan
    ("expected_npv_usd", "Mean of the sampled futures (not the plan's expected value above)", "usd"),
    ("expected_npv_se_usd", "Its sampling error (one standard error, sd / sqrt(n))", "usd"),
    ("p5_usd", "P5 (1 future in 20 ends below this)", "usd"),
    ("p50_usd", "P50 (median)", "usd"),
    ("p95_usd", "P95", "usd"),
    ("prob_below_sell_all", "Chance of ending below selling everything now", "pct"),
    ("cvar_usd", "CVaR (mean of the worst alpha share of futures)", "usd"),
    ("risk_alpha", "Share of worst futures averaged (CVaR tail)", "pct"),
    ("risk_weight", "Weight of CVaR in the objective", "num"),
    ("n_samples", "Sampled futures", "int"),
]


# ---------------------------------------------------------------- number formats, one spec for HTML and XLSX


@dataclass(frozen=True)
class Kind:
    html: Callable[[Any], str]
    excel: str | None  # openpyxl number format, None for text
    align: str = "num"


def _num(pattern: str) -> Callable[[Any], str]:
    return fmt.formatter(pattern, missing="")


def _usd(v: Any) -> str:
    """Money as a board reads it ($103.54M, $12.3k); the workbook keeps the exact number."""
    return fmt.usd(v, missing="")


KINDS: dict[str, Kind] = {
    "text": Kind(lambda v: "" if fmt.is_missing(v) else str(v), None, "text"),
    "int": Kind(_num("{:,.0f}"), "#,##0"),
    "num": Kind(_num("{:,.2f}"), "#,##0.00"),
    "usd": Kind(_usd, '"$"#,##0;-"$"#,##0'),
    "usd2": Kind(lambda v: fmt.usd_exact(v, digits=2, missing=""), '"$"#,##0.00;-"$"#,##0.00'),
    "mw": Kind(_num("{:,.2f}"), "#,##0.00"),
    "pct": Kind(lambda v: fmt.pct(v, missing=""), "0.0%"),
    "kwh": Kind(_num("{:.4f}"), "0.0000"),
    "bool": Kind(lambda v: "yes" if not fmt.is_missing(v) and bool(v) else "", None, "text"),
}


@dataclass
class Table:
    """A report table: raw values (for the workbook) and per-column kinds (for both formats)."""

    title: str
    frame: pd.DataFrame
    kinds: dict[str, str]
    note: str = ""
    cell_kinds: dict[str, list[str]] = field(default_factory=dict)  # column -> a kind per row, where rows differ

    def html_rows(self) -> list[list[tuple[str, str]]]:
        cols = list(self.frame.columns)
        return [[(KINDS[self.kinds.get(c, "text")].html(v), KINDS[self.kinds.get(c, "text")].align)
                 for c, v in zip(cols, row)] for row in self.frame.itertuples(index=False, name=None)]

    def header(self) -> list[tuple[str, str]]:
        return [(c, KINDS[self.kinds.get(c, "text")].align) for c in self.frame.columns]


# ---------------------------------------------------------------- what the report says


def readme_facts(readme: str | None) -> dict[str, Any]:
    """Title, decision date and the sources of a dataset README (markdown), as far as it states them."""
    out: dict[str, Any] = {"title": None, "date": None, "sources": None, "links": []}
    if not readme:
        return out
    m = re.search(r"^#\s+(.+)$", readme, re.M)
    out["title"] = m.group(1).strip() if m else None
    m = re.search(r"decision date:?\s*\**\s*([^*\n]+?)\s*\**\s*(?:\(|$|\n)", readme, re.I | re.M)
    out["date"] = m.group(1).strip().rstrip(".") if m else None
    section = re.search(r"^(#{2,3})\s+[^\n]*sources[^\n]*\n(.*?)(?=^#{1,3}\s|\Z)", readme, re.I | re.M | re.S)
    if section:
        rows = [line.strip() for line in section.group(2).splitlines() if line.strip().startswith("|")]
        rows = [r for r in rows if not re.fullmatch(r"\|[\s:|-]+\|", r)]
        if len(rows) >= 2:
            split = lambda r: [c.strip() for c in r.strip("|").split("|")]  # noqa: E731
            head = split(rows[0])
            body = [split(r) for r in rows[1:]]
            body = [r + [""] * (len(head) - len(r)) if len(r) < len(head) else r[: len(head)] for r in body]
            out["sources"] = pd.DataFrame(body, columns=head)
        else:
            items = [re.sub(r"^[-*]\s+", "", line.strip()) for line in section.group(2).splitlines()
                     if line.strip().startswith(("-", "*"))]
            if items:
                out["sources"] = pd.DataFrame({"Source": items})
    links = re.findall(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", readme)
    bare = re.findall(r"(?<![(\[])(https?://[^\s)>|]+)", readme)
    seen: set[str] = set()
    for text, url in links + [(u, u) for u in bare]:
        if url not in seen:
            seen.add(url)
            out["links"].append((text, url))
    return out


def scenario_words(scn: optimizer.Scenario, res: optimizer.Result, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario in plain words: date, fleet, capacity, market, horizon."""
    fleet = scn.fleet.merge(scn.rigs[["model", "hashrate_ths", "power_w"]], on="model", how="left")
    rigs = float(fleet["count"].sum())
    ehs = float((fleet["count"] * fleet["hashrate_ths"]).sum()) / 1e6
    mw = float((fleet["count"] * fleet["power_w"]).sum()) / 1e6
    s = scn.settings
    excluded = res.sites["excluded"].astype(bool) if "excluded" in res.sites else pd.Series(False, index=res.sites.index)
    cap_total = float(scn.sites["capacity_mw"].sum())
    cap_open = float(res.sites.loc[~excluded, "capacity_mw"].sum())
    hp = res.summary.get("hashprice_usd_th_day")
    parts = {
        "title": facts.get("title") or scn.name,
        "date": facts.get("date"),
        "fleet": (f"{rigs:,.0f} rigs of {scn.fleet['model'].nunique()} models at {scn.fleet['origin'].nunique()} origins: "
                  f"{ehs:,.2f} EH/s drawing {mw:,.1f} MW nameplate"),
        "capacity": (f"{len(scn.sites)} candidate sites in {scn.sites['jurisdiction'].nunique()} jurisdictions with "
                     f"{cap_total:,.1f} MW of capacity" + (f", {cap_open:,.1f} MW of it open to the plan" if cap_open < cap_total - 1e-9 else "")),
        "market": (f"BTC ${s.market.btc_price_usd:,.0f}, network {s.market.network_hashrate_ehs:,.1f} EH/s, hashprice today "
                   + (f"${hp:.4f} per TH/s per day" if hp is not None else "n/a")
                   + (" (fixed)" if s.market.hashprice_usd_th_day is not None else " (derived from the BTC price and network hashrate)")
                   + f", changing {100 * s.market.hashprice_monthly_change:+.1f}% a month"),
        "horizon": (f"{s.horizon.months} months, discounted at {100 * s.horizon.discount_rate:.1f}% a year; rigs are worth "
                    f"{100 * s.horizon.salvage_fraction:.0f}% of today's resale at the end"),
        "policy": (f"risk aversion {s.policy.risk_aversion:g}; at most {100 * s.policy.max_jurisdiction_share:.0f}% of the fleet's "
                   f"hashrate under one regulator; power prices x{s.policy.power_price_multiplier:g}; "
                   + ("selling allowed" if s.policy.allow_sell else "no selling") + ", "
                   + ("storing allowed" if s.policy.allow_idle else "no storing")
                   + (f"; upfront budget ${s.policy.budget_usd:,.0f}" if s.policy.budget_usd is not None else "")
                   + (f"; excluded jurisdictions: {', '.join(s.policy.exclude_jurisdictions)}" if s.policy.exclude_jurisdictions else "")
                   + (f"; excluded sites: {', '.join(s.policy.exclude_sites)}" if s.policy.exclude_sites else "")),
        "rigs": rigs, "ehs": ehs, "mw": mw, "capacity_mw": cap_total,
    }
    return parts


HEADLINE = [  # (summary fields, first present wins (older summaries used other names), label, kind)
    (("expected_value_usd", "objective_usd"), "Expected value of the plan", "usd"),
    (("sell_all_usd",), "Selling the whole fleet now", "usd"),
    (("value_vs_sell_all_usd",), "Expected gain over selling everything now", "usd"),
    (("risk_charge_usd",), "Caution charge for ban risk (caution x ban chance x resale; a preference, not money)", "usd"),
    (("objective_usd",), "Plan value after the caution charge (what the plan maximises)", "usd"),
    (("rigs_relocated",), "Rigs relocated", "int"),
    (("rigs_sold",), "Rigs sold now", "int"),
    (("rigs_idle",), "Rigs stored (sold at the horizon)", "int"),
    (("hashrate_relocated_ths",), "Hashrate deployed (TH/s)", "int"),
    (("mw_relocated",), "Power deployed (MW, PUE included)", "mw"),
    (("sites_used",), "Sites used", "int"),
    (("avg_power_usd_kwh",), "Average power price (USD/kWh)", "kwh"),
    (("expected_share_hashrate_banned", "ban_probability_weighted"), "Expected share of the relocated hashrate a ban stops", "pct"),
    (("prob_any_ban",), "Chance that a jurisdiction the plan uses bans mining", "pct"),
    (("upfront_usd",), "Upfront spend (freight, duty, site opening)", "usd"),
    (("cash_payback_months", "payback_months"), "Cash payback (months)", "num"),
    (("payback_vs_selling_months",), "Payback counting the resale given up (months)", "num"),
]


def _pick(summary: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[bool, Any]:
    for key in keys:
        if key in summary:
            return True, summary[key]
    return False, None


ASSUMPTIONS = [
    "Today's hashprice is 144 x block subsidy x (1 + fee share) x BTC price / network hashrate (USD per TH/s per day) "
    "unless the scenario fixes it; it changes by the monthly drift every month of the horizon.",
    "A relocated rig earns nothing during its lead time (shipping and installation), then its monthly margin: revenue "
    "minus power (PUE and uptime included), never below zero because a rig that loses money is switched off; hosting is owed regardless.",
    "Each month's margin is weighted by the chance that the site's jurisdiction still allows mining, "
    "from the site's yearly chance of a ban, and discounted at the annual discount rate.",
    "At the end of the horizon every rig is worth the salvage fraction of today's resale value; relocating pays freight "
    "and import duty upfront; a caution charge of caution x chance of a ban within the horizon x resale is subtracted.",
    "The plan maximises the total value of relocating, selling now and storing, subject to site capacity, the share cap per "
    "jurisdiction, the budget and the exclusions (in whole rigs, or with rig counts not rounded).",
    "Shadow prices: what one more MW at a site, or one more TH/s under a jurisdiction's cap, would add to the plan value. "
    "Entry prices hold every other shadow price fixed. Plans in whole rigs have neither; the report then reads them from "
    "the same plan with rig counts not rounded.",
]


@dataclass
class Report:
    """Everything the report shows; render with ``html``, ``pdf()`` and ``xlsx()``."""

    html: str
    tables: dict[str, Table]  # sheet name -> table
    summary: dict[str, Any]
    generated_at: dt.datetime
    map_png: bytes = field(repr=False, default=b"")

    def pdf(self) -> bytes:
        """The HTML typeset by WeasyPrint (A4, print stylesheet)."""
        from weasyprint import HTML  # heavy import, only when a PDF is asked for

        return HTML(string=self.html, base_url=str(TEMPLATES)).write_pdf()

    def xlsx(self) -> bytes:
        """A workbook, one sheet per table, numbers kept as numbers with readable formats."""
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            for sheet, table in self.tables.items():
                frame = table.frame.copy()
                for c in frame.columns:
                    if table.kinds.get(c) == "bool":
                        frame[c] = frame[c].map(lambda v: "yes" if bool(v) else "no")
                frame.to_excel(xw, sheet_name=sheet[:31], index=False)
                ws = xw.sheets[sheet[:31]]
                ws.freeze_panes = "A2"
                for row in ws.iter_rows():  # the report writes no formulas: a cell that reads as one is user text
                    for cell in row:        # ("=HYPERLINK(...)", "@Home"), stored as the text it is, never run
                        if cell.data_type == "f":
                            cell.data_type = "s"
                for j, c in enumerate(frame.columns, start=1):
                    letter = get_column_letter(j)
                    head = ws.cell(row=1, column=j)
                    head.font = Font(bold=True, color="FFFFFF")
                    head.fill = PatternFill("solid", fgColor="1F2430")
                    head.alignment = Alignment(wrap_text=True, vertical="top")
                    per_row = table.cell_kinds.get(c) or [table.kinds.get(c, "text")] * len(frame)
                    for (cell,), kind in zip(ws.iter_rows(min_row=2, min_col=j, max_col=j), per_row):
                        if KINDS[kind].excel:
                            cell.number_format = KINDS[kind].excel
                    shown = [KINDS[table.kinds.get(c, "text")].html(v) for v in table.frame[c].head(200)]
                    ws.column_dimensions[letter].width = min(60, max(10, len(str(c)) * 0.9, *(len(s) + 2 for s in shown)))
        return buf.getvalue()


def _frame(df: pd.DataFrame, spec: list[tuple[str, str, str]]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Select and rename columns: spec = [(column, header, kind)]; columns missing from df are skipped."""
    cols = [(c, h, k) for c, h, k in spec if c in df.columns]
    out = df[[c for c, _, _ in cols]].copy()
    out.columns = [h for _, h, _ in cols]
    return out.reset_index(drop=True), {h: k for _, h, k in cols}


def build_report(scn: optimizer.Scenario, res: optimizer.Result, *, readme: str | None = None,
                 risk: Mapping[str, Any] | None = None, source: str | None = None, author: str | None = None,
                 link: str | None = None, generated_at: dt.datetime | None = None,
                 board: Mapping[str, Any] | None = None, replays: list[Mapping[str, Any]] | None = None) -> Report:
    """Gather the report of the plan ``res`` of scenario ``scn``.

    ``readme``: the dataset's README.md text (title, decision date, sources); ``risk``: a risk
    summary (SPEC section 7 keys) when one has been computed; ``source``/``author``/``link``:
    where the scenario came from, who asked, a link back to the plan in the app; ``board``:
    ``workspace.board.board_sections`` (the decision, why these sites, the backtest); ``replays``:
    ``workspace.report_monthly.replay_section`` of each replay computed (history, sampled futures). A monthly plan
    (SPEC section 8) gets its schedule, its decision in words and its value against selling
    (``workspace.report_monthly.monthly_sections``).
    """
    when = generated_at or dt.datetime.now(dt.timezone.utc)
    s = report_monthly.complete_summary(scn, res)  # a monthly plan's headline figures, the decision card's definitions
    facts = readme_facts(readme)
    words = scenario_words(scn, res, facts)

    head_rows = [(label, value, kind) for keys, label, kind in HEADLINE for found, value in [_pick(s, keys)] if found]
    monthly = report_monthly.monthly_sections(scn, res)
    if monthly is not None:  # the monthly plan sells in any month, not only now
        head_rows = [(report_monthly.HEADLINE_MONTHLY.get(label, label), value, kind) for label, value, kind in head_rows]
    expected_usd = _pick(s, ("expected_value_usd", "objective_usd"))[1]
    gain = s.get("value_vs_sell_all_usd")
    if gain is None and expected_usd is not None and s.get("sell_all_usd") is not None:
        gain = expected_usd - s["sell_all_usd"]
    summary_table = Table("Headline", pd.DataFrame({"metric": [r[0] for r in head_rows], "value": [r[1] for r in head_rows]}),
                          {"metric": "text", "value": "num"}, cell_kinds={"value": [r[2] for r in head_rows]})

    jur, jk = _frame(res.jurisdictions.sort_values(["mw_used", "jurisdiction"], ascending=[False, True]), [
        ("jurisdiction", "jurisdiction", "text"), ("sites", "sites", "int"), ("capacity_mw", "capacity (MW)", "mw"),
        ("mw_used", "MW used", "mw"), ("rigs", "rigs", "int"), ("hashrate_ths", "hashrate (TH/s)", "int"),
        ("share_of_fleet_hashrate", "share of fleet hashrate", "pct"), ("cap_ths", "cap (TH/s)", "int"),
        ("shadow_usd_per_ths", "shadow price (USD per TH/s of cap)", "usd2"), ("excluded", "excluded", "bool")])
    site_spec = [
        ("site", "site", "text"), ("jurisdiction", "jurisdiction", "text"), ("capacity_mw", "capacity (MW)", "mw"),
        ("mw_used", "MW used", "mw"), ("utilization", "utilisation", "pct"), ("rigs", "rigs", "int"),
        ("hashrate_ths", "hashrate (TH/s)", "int"), ("shadow_usd_per_mw", "shadow price (USD per MW)", "usd"),
        ("entry_power_usd_kwh", "would enter below (USD/kWh)", "kwh"), ("excluded", "excluded", "bool")]
    sites_sorted = res.sites.sort_values(["mw_used", "site"], ascending=[False, True])
    all_sites, sk = _frame(sites_sorted, site_spec)
    used_sites, _ = _frame(sites_sorted[sites_sorted["mw_used"] > 1e-6], site_spec[:8])
    alloc, ak = _frame(res.allocation, [
        ("action", "action", "text"), ("origin", "origin", "text"), ("model", "model", "text"), ("site", "site", "text"),
        ("jurisdiction", "jurisdiction", "text"), ("rigs", "rigs", "int"), ("mw", "MW", "mw"),
        ("hashrate_ths", "hashrate (TH/s)", "int"), ("value_usd", "value (USD)", "usd")])
    by_action = res.allocation.groupby("action", sort=False).agg(rigs=("rigs", "sum"), value_usd=("value_usd", "sum")).reset_index()
    actions, actk = _frame(by_action, [("action", "action", "text"), ("rigs", "rigs", "int"), ("value_usd", "value (USD)", "usd")])

    shadow_sites = res.sites[(res.sites["shadow_usd_per_mw"].fillna(0) > 1e-6)].sort_values("shadow_usd_per_mw", ascending=False)
    shadows, shk = _frame(shadow_sites, [("site", "site", "text"), ("jurisdiction", "jurisdiction", "text"),
                                         ("capacity_mw", "capacity (MW)", "mw"),
                                         ("shadow_usd_per_mw", "one more MW here adds (USD)", "usd")])
    jshadow = res.jurisdictions[res.jurisdictions["shadow_usd_per_ths"].fillna(0) > 1e-9]
    jshadows, jshk = _frame(jshadow, [("jurisdiction", "jurisdiction", "text"), ("cap_ths", "cap (TH/s)", "int"),
                                      ("shadow_usd_per_ths", "one more TH/s of cap adds (USD)", "usd2")])
    entry_rows = res.sites[res.sites["entry_power_usd_kwh"].notna()].copy()
    entry_rows["entry_text"] = entry_rows["entry_power_usd_kwh"].map(fmt.entry_power)
    entry_rows = entry_rows.sort_values("entry_power_usd_kwh", ascending=False)
    entries, ek = _frame(entry_rows.merge(scn.sites[["site", "power_usd_kwh"]], on="site", how="left"), [
        ("site", "site", "text"), ("jurisdiction", "jurisdiction", "text"), ("power_usd_kwh", "power today (USD/kWh)", "kwh"),
        ("entry_text", "would enter the plan at", "text")])

    settings = pd.DataFrame({
        "setting": [setting_label(k) for k in optimizer.ALL_KEYS],
        "value": [fmt.setting_text(k, get_value(scn.settings, k)) for k in optimizer.ALL_KEYS],
        "in scenario.toml": [f"{k} = {fmt.toml_value(get_value(scn.settings, k))}" for k in optimizer.ALL_KEYS]})
    sources = facts["sources"] if facts["sources"] is not None else pd.DataFrame(
        {"Source": ["The scenario came without a README, so its sources are not recorded here."]})

    risk_rows = None
    risk_data = dict(risk or {})
    for key, _, _ in RISK_FIELDS:
        if key not in risk_data and s.get(key) is not None:
            risk_data[key] = s[key]
    if any(risk_data.get(k) is not None for k in ("expected_npv_usd", "cvar_usd", "p5_usd")):
        risk_rows = [(label, KINDS[kind].html(risk_data.get(key))) for key, label, kind in RISK_FIELDS
                     if risk_data.get(key) is not None]

    tables = {
        "Summary": summary_table,
        "Jurisdictions": Table("Allocation by jurisdiction", jur, jk),
        "Sites": Table("Sites", all_sites, sk),
        "Allocation": Table("Allocation", alloc, ak),
        "Settings": Table("Settings", settings, {"setting": "text", "value": "text", "in scenario.toml": "text"}),
        "Sources": Table("Sources", sources, {c: "text" for c in sources.columns}),
    }
    board = dict(board or {})
    if board.get("decision"):
        tables["Decision"] = Table("Decision", pd.DataFrame(board["decision"], columns=["figure", "value", "definition"]),
                                   {"figure": "text", "value": "text", "definition": "text"})
    if board.get("backtest") is not None:
        tables["What happened"] = Table("What happened", board["backtest"], {
            "place": "text", "banned from month": "text", "rigs moved there": "int", "expected (USD)": "usd",
            "realised (USD)": "usd"})
    if risk_rows:
        tables["Risk"] = Table("Risk", pd.DataFrame({"measure": [k for k, _, _ in RISK_FIELDS if risk_data.get(k) is not None],
                                                      "value": [risk_data[k] for k, _, _ in RISK_FIELDS if risk_data.get(k) is not None]}),
                               {"measure": "text", "value": "num"},
                               cell_kinds={"value": [kind for k, _, kind in RISK_FIELDS if risk_data.get(k) is not None]})

    extra = report_monthly.tables(monthly, replays)
    tables.update({name: Table(name, frame, kinds) for name, (frame, kinds) in extra.items()})
    if monthly is not None:
        monthly["spans_table"] = Table("", monthly["spans"], {c: ("text" if c == "site" else "int" if "month" in c
                                                                  else "mw") for c in monthly["spans"].columns})

    map_png = mapimage.render_png(scn.origins, scn.sites, res.sites, res.allocation)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("report.html.j2").render(
        words=words, summary=s, generated_at=when.strftime("%Y-%m-%d %H:%M UTC"), source=source, author=author, link=link,
        headline=[(label, KINDS[kind].html(value)) for label, value, kind in head_rows],
        expected=_usd(expected_usd), objective=_usd(s.get("objective_usd")), sell_all=_usd(s.get("sell_all_usd")),
        risk_charge=_usd(s.get("risk_charge_usd")) if s.get("risk_charge_usd") else None,
        rigs={k: KINDS["int"].html(s.get(k)) for k in ("rigs_relocated", "rigs_sold", "rigs_idle")},
        gain=None if gain is None else _usd(abs(gain)), gain_positive=gain is not None and gain >= 0,
        gain_pct=None if gain is None or not s.get("sell_all_usd") else f"{100 * abs(gain) / s['sell_all_usd']:.0f}%",
        map_data=base64.b64encode(map_png).decode(),
        actions=Table("What happens to the fleet", actions, actk),
        jurisdictions_shown=Table("", jur.drop(columns=["cap (TH/s)", "excluded"], errors="ignore"), jk),
        used_sites=Table("Sites used", used_sites, sk),
        allocation=tables["Allocation"], shadows=Table("", shadows, shk), jshadows=Table("", jshadows, jshk),
        entries=Table("", entries, ek), mode=s.get("mode"), risk_rows=risk_rows,
        settings=Table("Settings", settings.drop(columns=["in scenario.toml"]), {"setting": "text", "value": "text"}),
        sources=tables["Sources"], board=board, monthly=monthly,
        schedule_tables={k: tables.get(k) for k in report_monthly.MONTHLY_SHEETS},
        replays=[dict(r, table=tables[report_monthly.replay_sheet(r)]) for r in (replays or [])], decision=tables.get("Decision"), backtest=tables.get("What happened"), links=facts["links"], assumptions=ASSUMPTIONS,
        solve_caption=_solve_caption(s), scenario_name=scn.name, version=_tool_version())
    return Report(html, tables, dict(s), when, map_png)


def _solve_caption(s: Mapping[str, Any]) -> str:
    how = "The best plan" if s.get("status") == "optimal" else "The best plan found (not proven best)"
    whole = " in whole rigs" if s.get("mode") == "mip" else " (rig counts not rounded)"
    secs = s.get("solve_seconds")
    return how + whole + (f", computed in {secs:.1f} s" if isinstance(secs, (int, float)) and np.isfinite(secs) else "")


def _tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("rigshift")
    except Exception:  # noqa: BLE001 - not installed as a package: run from the repository
        return "0.1.0"


def write_report(out_dir: str | Path, scn: optimizer.Scenario, res: optimizer.Result, **kwargs: Any) -> list[Path]:
    """Write report.html, report.pdf and plan.xlsx into ``out_dir`` (created), whole or not at all
    (``optimizer.results.outdir.write_folder``); returns their paths."""
    from optimizer.results.outdir import write_folder

    out = Path(out_dir)
    rep = build_report(scn, res, **kwargs)
    files = {"report.html": rep.html, "report.pdf": rep.pdf(), "plan.xlsx": rep.xlsx()}
    write_folder(out, files)
    return [out / name for name in files]
