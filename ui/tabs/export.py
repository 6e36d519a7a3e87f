"""The Export tab: the plan's files as the CLI writes them, and the whole scenario as a zip."""
from __future__ import annotations

import streamlit as st

from .. import compute
from ..views import scenario_zip_name
from .context import Context

LABEL = "Export"
WIDGETS: tuple[str, ...] = ()
NEEDS_PLAN = False  # the scenario zip is offered even when no plan has solved
MONTHLY = "summed"  # shows the monthly plan too, its decisions summed over months (ui.monthly_view.for_tab)


def render(ctx: Context) -> None:
    scn, res, stale = ctx.scn, ctx.res, ctx.stale
    st.markdown("The plan's files, byte for byte as the command-line tool writes them:")
    files = compute.plan_files(scn, res) if res is not None else {}
    cols = st.columns(4)
    for col, (name, mime) in zip(cols, [("allocation.csv", "text/csv"), ("sites.csv", "text/csv"),
                                        ("jurisdictions.csv", "text/csv"), ("summary.json", "application/json")]):
        col.download_button(name, files.get(name, ""), file_name=name, mime=mime, key=f"dl_{name}",
                            disabled=res is None or stale, on_click="ignore", icon=":material/download:")
    if stale:
        st.caption("The current settings have no plan; the plan files are disabled until they do.")
    st.markdown("The whole scenario as it stands here - your table edits and every what-if value - as a zip that "
                "the app (upload it) and the command-line tool load back to this same plan:")
    zip_name = scenario_zip_name(scn.name)
    st.download_button("scenario.zip", compute.scenario_zip(scn), file_name=zip_name, mime="application/zip",
                       key="dl_scenario_zip", on_click="ignore", icon=":material/folder_zip:")
    with st.expander("For the command-line tool"):
        st.code(f"unzip {zip_name} -d my-scenario && rigshift solve my-scenario --out out/", language="bash")
