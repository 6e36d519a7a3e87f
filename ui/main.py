"""The page: scenario source and what-ifs in the sidebar; metrics, map, tables and tools in the main area.

One rerun = base scenario (built-in or uploaded) -> the user's table edits (validated by
the engine) -> the what-if overrides -> a cached solve -> views. Anything the user typed
lives in widget state or in ``st.session_state``; an error never throws it away: a bad edit
or upload is reported where it was made while the last good plan stays on screen.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs.tables import TABLES

from . import budget, compute, controls, decision_card, editors, headline, mapview, monthly_view, tabs, trust, views, words
from . import session as S
from . import upload_scan
from . import workspace as team_workspace
from .session import SOURCE, UPLOAD, UPLOAD_PREFIX, UPLOADS
from .tabs import edit_data

ICON = Path(__file__).resolve().parent / "assets" / "rigshift-icon.png"
REQUIRED_FILES = [spec.file for spec in TABLES.values() if spec.required]
KNOWN_FILES = {spec.file for spec in TABLES.values()} | {"scenario.toml"}
TAB_LABELS = tabs.LABELS  # the same tabs for every scenario, so switching scenario keeps the open one
# Widget values that must outlive their tab: a closed tab's widgets are not drawn, and Streamlit
# forgets the value of a widget that a run does not draw unless it is written back to Session State.
TAB_WIDGETS = tabs.WIDGETS


def _keep_widget_values(tab: str) -> None:
    """Keep the values of a closed tab's widgets (the grids' cell edits are kept by editors.render).

    Written back to Session State on every run the tab is closed (else Streamlit drops them) and on
    the run that opens it again: a value written by the script is sent to the browser with the
    widget, which would otherwise draw its default (its own copy went with the closed tab) and send
    that back on the next rerun. The duplicate-value warning this pattern triggers is switched off in
    .streamlit/config.toml (global.disableWidgetStateDuplicationWarning)."""
    ss = st.session_state
    for key in TAB_WIDGETS.get(tab, ()):
        if key in ss:
            ss[key] = ss[key]


def base_scenario(source: str) -> optimizer.Scenario:
    """The scenario behind a source label, as loaded (no edits, no what-ifs)."""
    if source in st.session_state[UPLOADS]:
        return compute.scenario_from_files(st.session_state[UPLOADS][source], source.removeprefix(UPLOAD_PREFIX))
    return compute.load_builtin(source)


# ---------------------------------------------------------------- callbacks (run before the script)


def _on_source_change() -> None:
    old = st.session_state.get(S.ACTIVE_SOURCE)
    S.remember_controls()
    if old:
        kept = S.keep_edits(old)
        if kept:
            st.session_state[S.UPLOAD_NOTICE] = f"Your table edits to '{old}' are kept as scenario '{kept}'."


def _read_upload(files: list[Any]) -> tuple[dict[str, bytes], str, list[str]]:
    """Uploaded files -> (scenario files, label, notes). A zip, or loose CSVs plus scenario.toml."""
    notes: list[str] = []
    zips = [f for f in files if f.name.lower().endswith(".zip")]
    if zips:
        newest = zips[-1]  # the uploader lists files in upload order: a second zip replaces the first
        if len(files) > 1:
            notes.append(f"loaded the newest zip, {newest.name}; the other {len(files) - 1} uploaded file(s) were "
                         "left aside (remove them from the uploader if you no longer need them)")
        upload_scan.precheck_zip(newest.getvalue(), newest.name)  # streamed: refused before it is unpacked
        return optimizer.read_zip(newest.getvalue(), newest.name), views.scenario_stem(Path(newest.name).stem), notes
    data: dict[str, bytes] = {}
    for f in files:
        name = Path(f.name).name
        if name in KNOWN_FILES:
            data[name] = f.getvalue()
        else:
            notes.append(f"ignored {name} (a scenario has rigs.csv, origins.csv, fleet.csv, sites.csv, "
                         "lanes.csv and scenario.toml)")
    if not data:
        raise optimizer.ScenarioError(optimizer.Problem("upload", None, None, "holds no scenario files",
                                                        "expected rigs.csv, origins.csv, fleet.csv, sites.csv"))
    missing = [name for name in REQUIRED_FILES if name not in data]
    current = st.session_state.get(S.ACTIVE_SOURCE)
    if missing and current:
        # The tables as edited on screen, when the user has edited them (README: "combines with what you see").
        edited = st.session_state[S.LAST_GOOD_TABLES].get(current)
        donor_scn = edited or base_scenario(current)
        donor = donor_scn.files()
        if "scenario.toml" not in data:  # the sites ticked "exclude" on screen carry over too
            donor["scenario.toml"] = trust.toml_with_exclusions(
                donor_scn, editors.excluded_on_screen(base_scenario(current)), data.get("sites.csv"))
        for name in missing:
            data[name] = donor[name]
        if "lanes.csv" not in data and "lanes.csv" in donor:
            data["lanes.csv"], dropped = _borrow_lanes(donor["lanes.csv"], data)
            if dropped:
                notes.append(f"{dropped} freight quote(s) for origins or sites not in your tables were left out")
        if "scenario.toml" not in data:
            data["scenario.toml"] = donor["scenario.toml"]
            notes.append("your what-if settings carry over")
        notes.insert(0, f"{', '.join(missing)} taken from the current scenario '{current}'")
        label = f"{current.removeprefix(UPLOAD_PREFIX)} + {', '.join(sorted(n for n in data if n not in donor or data[n] != donor[n]))}"
    else:
        label = "uploaded scenario"
    return data, label, notes


def _borrow_lanes(lanes_csv: bytes, data: dict[str, bytes]) -> tuple[bytes, int]:
    """The donor's freight quotes that still name an origin and a site of the new tables."""
    try:
        lanes = pd.read_csv(io.BytesIO(lanes_csv), dtype=str, keep_default_na=False)
        origins = set(pd.read_csv(io.BytesIO(data["origins.csv"]), dtype=str, keep_default_na=False)["origin"].str.strip())
        sites = set(pd.read_csv(io.BytesIO(data["sites.csv"]), dtype=str, keep_default_na=False)["site"].str.strip())
    except Exception:  # noqa: BLE001 - unreadable tables: the engine reports them; keep the quotes as they are
        return lanes_csv, 0
    keep = lanes["origin"].str.strip().isin(origins) & lanes["site"].str.strip().isin(sites)
    if keep.all():
        return lanes_csv, 0
    return lanes[keep].to_csv(index=False, lineterminator="\n").encode(), int((~keep).sum())


def _on_upload() -> None:
    ss = st.session_state
    files = ss.get(UPLOAD) or []
    if not isinstance(files, list):
        files = [files]
    ss[S.UPLOAD_PROBLEMS], ss[S.UPLOAD_NOTICE] = [], ""
    if not files:
        return
    try:
        data, label, notes = _read_upload(files)
        budget.check_files(data, label)  # before parsing: one upload cannot starve the server
        scn = compute.scenario_from_files(data, label)
    except optimizer.ScenarioError as exc:
        ss[S.UPLOAD_PROBLEMS] = [str(p) for p in exc.problems]
        return
    key = UPLOAD_PREFIX + label
    n = 2
    while key in ss[UPLOADS] and compute.files_digest(ss[UPLOADS][key]) != compute.files_digest(data):
        key, n = f"{UPLOAD_PREFIX}{label} ({n})", n + 1
    S.remember_controls()
    old = ss.get(S.ACTIVE_SOURCE)
    kept = S.keep_edits(old) if old else None
    ss[UPLOADS][key] = data
    if "your what-if settings carry over" in notes:
        ss[S.MEMORY][key] = controls.control_state()
    ss.setdefault(S.PENDING_SOURCE, None)
    ss[S.PENDING_SOURCE] = key
    ss[S.UPLOAD_NOTICE] = (f"Loaded '{scn.name}': {len(scn.fleet)} fleet rows, {len(scn.sites)} sites."
                           + (" " + "; ".join(notes) + "." if notes else "")
                           + (f" Your table edits are kept as scenario '{kept}'." if kept else ""))


def _app_defaults(base: optimizer.Scenario) -> None:
    """The controls at the scenario's settings, except whole rigs wherever the whole-rig plan solves quickly
    (issue 24: the engine's default stays fractional; the card labels a fractional plan)."""
    controls.apply_defaults(base.settings)
    if not base.settings.policy.integer_rigs and compute.whole_rigs_interactive(compute.fingerprint(base), base):
        st.session_state[controls.widget_key("policy.integer_rigs")] = True


def _reset_whatifs() -> None:
    source = st.session_state.get(S.ACTIVE_SOURCE)
    if source:
        _app_defaults(base_scenario(source))


@st.fragment
def _pin_name_box() -> None:
    st.text_input("Name for the pinned plan", key=S.PIN_NAME, placeholder="name this plan (optional)",
                  label_visibility="collapsed")


def _pin(scn: optimizer.Scenario, res: optimizer.Result, fp: str, source: str) -> None:
    pins = st.session_state[S.PINS]
    name = (st.session_state.get(S.PIN_NAME) or "").strip()
    s = scn.settings
    label = name or (f"#{len(pins) + 1} {source.removeprefix(UPLOAD_PREFIX)}: BTC ${s.market.btc_price_usd:,.0f}, "
                     f"caution {s.policy.risk_aversion:g}, value {views.fmt.usd(res.summary['objective_usd'])}")
    pins.append(views.make_pin(label, source, scn, res, fp))
    st.session_state[S.PIN_NAME] = ""


# ---------------------------------------------------------------- the page


def _warnings_box(warnings: list[dict], note: str | None) -> None:
    """Plausibility warnings (unit slips, unified names, converted coordinates) next to the plan."""
    lines = [trust.md_escape(words.plain(t)) for t in budget.group_warnings(w.get("text", "") for w in warnings)] + (
        [trust.md_escape(note)] if note else [])
    if lines:
        st.warning("**Check these inputs** (the plan uses them as given):\n\n" + "\n".join(f"- {x}" for x in lines),
                   icon=":material/warning:")


def _problems_box(title: str, lines: list[str]) -> None:
    st.error("**" + title + "**\n\n" + "\n".join(f"- {trust.md_escape(words.plain(line))}" for line in lines),
             icon=":material/error:")


def _sidebar_source(options: list[str]) -> tuple[str | None, Any, Any]:
    """The scenario picker and the uploader; returns (source, a box for notices, a box for the library)."""
    ss = st.session_state
    with st.sidebar:
        # keyboard users: the first tab stop jumps past the scenario and library panels to the what-ifs
        st.html('<a class="rs-skip" href="#what-if">Skip to the what-if controls</a>')
        st.title("Rigshift")
        st.caption("Where should a mining fleet go when its jurisdiction turns against it?")
        if ss.get(SOURCE) not in options and options:
            ss[SOURCE] = options[0]
        source = st.selectbox("Scenario", options, key=SOURCE, on_change=_on_source_change,
                              help="Built-in scenarios from datasets/, and the ones you uploaded in this session.")
        with st.expander("Bring your own scenario", expanded=bool(ss[S.UPLOAD_PROBLEMS]) or not options):
            st.file_uploader("A scenario folder as a .zip, or its CSVs and scenario.toml", type=["zip", "csv", "toml"],
                             accept_multiple_files=True, key=UPLOAD, on_change=_on_upload,
                             help="Missing tables are taken from the scenario you are looking at, so you can "
                                  "upload just a new sites.csv.")
            if ss[S.UPLOAD_PROBLEMS]:
                _problems_box("The upload was not loaded; the scenario you had is still active.", ss[S.UPLOAD_PROBLEMS])
        if ss[S.UPLOAD_NOTICE]:
            st.success(trust.md_escape(ss[S.UPLOAD_NOTICE]), icon=":material/check_circle:")
        return source, st.container(), st.container()  # the workspace panel is drawn in the second once solved


def _load_base(source: str) -> optimizer.Scenario | None:
    """The scenario behind ``source``, or None with the reason shown in place."""
    try:
        return base_scenario(source)
    except optimizer.ScenarioError as exc:
        _problems_box(f"Scenario '{source}' cannot be loaded.", [str(p) for p in exc.problems])
    except Exception as exc:  # noqa: BLE001 - keep the page (and the scenario picker) alive
        _problems_box(f"Scenario '{source}' cannot be loaded (engine error, please report it).",
                      [f"{type(exc).__name__}: {exc}"])
    return None


def _activate(source: str, base: optimizer.Scenario) -> None:
    """On a new source: fresh grids, its own settings, then the controls the user left it with."""
    ss = st.session_state
    if ss.get(S.ACTIVE_SOURCE) != source:
        editors.reset()
        _app_defaults(base)
        for key, value in (ss[S.MEMORY].get(source) or {}).items():
            ss[key] = value
        ss[S.ACTIVE_SOURCE] = source


def _whatifs(source: str, base: optimizer.Scenario) -> dict[str, Any]:
    with st.sidebar:
        st.divider()
        plan = monthly_view.switch(base)  # the plan switch: one decision now, or month by month (SPEC section 8)
        st.subheader("What if...", anchor="what-if")
        overrides = plan | controls.render(base.settings, sorted(base.sites["jurisdiction"].unique().tolist()),
                                    market_path=bool(len(base.market)), notes=compute.setting_notes(source))
        st.button("Reset what-ifs to the scenario's values", key="reset_whatifs", on_click=_reset_whatifs,
                  icon=":material/restart_alt:")
    return overrides


def _tab_bar() -> dict[str, Any]:
    """The tab containers by label. Only the open tab runs and draws (issue 13): switching tabs reruns the
    page with that tab open."""
    ss = st.session_state
    boxes = dict(zip(TAB_LABELS, st.tabs(TAB_LABELS, key=S.MAIN_TABS, on_change="rerun")))
    for label, box in boxes.items():
        if not box.open or ss.get(S.OPEN_TAB) != label:  # closed, or opened by this run
            _keep_widget_values(label)
        if box.open:
            ss[S.OPEN_TAB] = label
    return boxes


def _map_placeholder(boxes: dict[str, Any]) -> Any | None:
    """While the session's first plan solves and its decision card is worked out: a box of the map's size where the
    map will be, saying what is coming (first paint). Returned so the run can clear it once the map can be drawn."""
    box = boxes.get(tabs.plan.LABEL)
    if box is None or not box.open:
        return None
    with box:
        holder = st.empty()  # on every run, so the map keeps its place in the tab (else the browser rebuilds it)
        if st.session_state[S.LAST_PLAN] is None:  # later runs keep the last map in place while they work
            with holder.container(height=mapview.MAP_HEIGHT_PX, border=True):
                st.caption("The map of the plan appears here once the plan is solved and its odds are worked out "
                           "(a few seconds).")
    return holder


def _tables(source: str, base: optimizer.Scenario, edited: editors.Edited, side_notice: Any) -> optimizer.Scenario:
    """The tables the plan uses: the user's edits when they validate, else the last ones that did."""
    ss = st.session_state
    tables = base
    if edited.scenario is not None:
        tables = edited.scenario
        ss[S.LAST_GOOD_TABLES][source] = tables
    elif edited.problems:
        tables = ss[S.LAST_GOOD_TABLES].get(source, base)
    else:
        ss[S.LAST_GOOD_TABLES].pop(source, None)
    if edited.problems:
        with side_notice:  # not above the grid: a message there would push the grid under the cursor
            st.warning("Some table edits are refused (see **Edit data**); the plan uses your last valid tables.",
                       icon=":material/warning:")
    return tables


def _solve(scn: optimizer.Scenario, fp: str) -> tuple[optimizer.Result | None, list[str]]:
    """The plan of ``scn`` (remembered as the last plan), or None and what went wrong (title first)."""
    try:
        with st.spinner("Solving..."):
            res = monthly_view.complete(scn, fp, compute.solve(scn, fp))  # the monthly plan's headline figures
        st.session_state[S.LAST_PLAN] = (fp, scn, res)
        return res, []
    except optimizer.InfeasibleError as exc:
        return None, ["No plan satisfies these settings:"] + exc.reasons
    except optimizer.SolverFailure as exc:
        return None, [f"The solver gave up without a plan: {exc}"]
    except optimizer.ScenarioError as exc:
        return None, ["These settings are not valid:"] + [str(p) for p in exc.problems]
    except Exception as exc:  # noqa: BLE001 - an engine bug must not take the session (and its inputs) down
        return None, ["The engine failed unexpectedly (please report this):", f"{type(exc).__name__}: {exc}"]


def _head(ctx: tabs.Context, cap_note: str | None) -> None:
    """Title, pin controls, the scenario and the decision in words, the headline metrics and the input warnings."""
    scn, res, shown = ctx.scn, ctx.res, ctx.shown
    stale = ctx.stale
    baseline = views.baseline_pin()
    # title, then the pin controls; a wrapping row, so neither is squeezed on a narrow screen
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        st.markdown(f"### {trust.md_escape(scn.name)}: relocation plan" + (" (last plan that solved)" if stale and shown else ""),
                    width="stretch")
        with st.container(width=220):
            _pin_name_box()  # a fragment: typing a name reruns only this box (issue 13)
        st.button("Pin this plan", key="pin", type="primary", icon=":material/push_pin:", disabled=res is None,
                  on_click=_pin, args=(scn, res, ctx.fp, ctx.source), width="content",
                  help="Keep this plan to compare against (Compare tab); pin as many as you like.")
    said_scn = ctx.shown_scn if shown is not None else scn
    said_key = (said_scn.tables_digest().hexdigest(), repr(said_scn.settings.market), repr(said_scn.settings.horizon))
    st.markdown(compute.per_session("scenario_sentence", said_key, lambda: headline.scenario_sentence(said_scn), 2))
    if shown is not None:
        decision_card.show(ctx, baseline)  # what to do, the gain, the odds, the hindsight; other figures grouped
        excluded = ctx.excluded_sites
        st.caption(views.solve_caption(shown.summary)
                   + (f" {len(excluded)} site(s) excluded by you." if excluded else "")
                   + (f" {len(st.session_state[S.PINS])} plan(s) pinned; deltas are against '{trust.md_escape(baseline['label'])}'."
                      if baseline else ""))
        _warnings_box(shown.summary.get("warnings") or [], cap_note)


def main() -> None:
    # A local icon: a Material icon name would make the browser fetch it from a font server.
    st.set_page_config(page_title="Rigshift", page_icon=str(ICON), layout="wide")
    headline.style()
    S.init()
    team_workspace.start()  # restore the autosave named in the URL, or open the plan a link names
    ss = st.session_state
    options = compute.builtin_names() + list(ss[UPLOADS])
    if ss.get(S.PENDING_SOURCE) in options:
        ss[SOURCE] = ss.pop(S.PENDING_SOURCE)
    if not options:
        st.error(f"No scenarios found under {compute.datasets_dir()}: upload one.")
    source, side_notice, library_box = _sidebar_source(options)
    if not options:
        return
    base = _load_base(source)
    if base is None:
        return
    _activate(source, base)
    overrides = _whatifs(source, base)

    head = st.container()
    problems_area = st.container()
    boxes = _tab_bar()
    # ---- the user's table edits, read and validated by the engine (the grids are drawn while their tab is open)
    with boxes[edit_data.LABEL]:
        edited = edit_data.read(base, draw=bool(boxes[edit_data.LABEL].open))
    tables = monthly_view.with_state(source, _tables(source, base, edited, side_notice))  # what was done (re-plan)

    # ---- what-ifs on top, then the plan
    settings_problems: list[str] = []
    try:
        scn = tables.with_overrides({**overrides, "policy.exclude_sites": tuple(edited.excluded_sites)})
    except optimizer.ScenarioError as exc:
        settings_problems = [str(p) for p in exc.problems]
        scn = tables
    scn, cap_note = trust.cap_time_limit(scn)  # a shared server: no upload holds a core for hours
    fp = compute.fingerprint(scn)
    holder = _map_placeholder(boxes)
    res, failure = _solve(scn, fp)
    shown_fp, shown_scn, shown = fp, scn, res
    if res is None and ss[S.LAST_PLAN] is not None:
        shown_fp, shown_scn, shown = ss[S.LAST_PLAN]
    ctx = tabs.Context(source=source, base=base, overrides=overrides, excluded_sites=tuple(edited.excluded_sites),
                       scn=scn, fp=fp, res=res, shown_scn=shown_scn, shown_fp=shown_fp, shown=shown)

    team_workspace.panel(library_box, source=source, base=base, overrides=overrides, scn=scn, res=res,
                         has_edits=edited.changed)
    with problems_area:
        if settings_problems:
            _problems_box("Some what-if values are not valid:", settings_problems)
        if failure:
            _problems_box(failure[0], failure[1:] or ["(no details)"])
            if shown is not None:
                st.info("Below: the last plan that solved, so you can compare while you adjust.", icon=":material/history:")
    with head:
        _head(ctx, cap_note)
    if holder is not None:
        holder.empty()  # the Plan tab draws the map in its place
    for tab in tabs.TABS:
        box = boxes[tab.LABEL]
        if box.open and (shown is not None or not tab.NEEDS_PLAN):
            with box:
                tab_ctx = monthly_view.for_tab(tab, ctx)  # tabs of month-0 decisions read the static plan, and say so
                if tab_ctx is not None:
                    tab.render(tab_ctx)
