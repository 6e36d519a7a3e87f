"""The app's workspace: the library panel, autosave and restore, links to a plan, the report.

- **Autosave.** Every rerun that changes what the user has (source, uploads, table edits, what-if
  controls, pins) writes it to the library database under the browser's workspace key, kept in
  a cookie of this site (``rigshift_ws``, SameSite=Strict), never in the URL: a copied address
  bar hands nobody the workspace. Reloading the page restores it; so does a new tab of the same
  browser. A legacy ``?ws=`` in a URL is ignored and dropped.
- **Links.** The URL also names the plan: ``scenario=NAME&owner=WHO&v=N`` for a library entry
  (``dataset=NAME`` for a built-in scenario) plus every what-if that differs from the scenario's
  own settings, as ``section.key=value`` (TOML values). A colleague who opens it gets a copy of
  the plan in a workspace of their own: whatever they change or save is theirs (read-only for
  the owner's entry).
- **Library.** Save, open, rename, duplicate and delete named scenarios (tables with edits,
  settings, controls, pins and the plan's result); see ``workspace.repository``.
- **Report.** One click downloads the decision report (HTML, PDF) or the workbook (XLSX).

Who you are: the logged-in e-mail when the app runs with Streamlit's login (``st.login``),
else the name typed in the panel (default ``guest``). Your saves, renames and deletes only
touch your own entries (an admin's, ``RIGSHIFT_ADMINS``: anyone's). Signed in, you see your
own entries and those their owners shared with the team (Share in the panel), read-only; a
plan link opens for whoever may see its entry (a private entry's link only for its owner).
Without a login the library is the one local user's: every entry is listed.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
import tomllib
import uuid
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs.settings import get_value
from optimizer.results import fmt

from . import compute, controls, monthly_view, session, views
from .session import UPLOAD_PREFIX, UPLOADS
from .trust import md_escape

WS_PARAM = "ws"  # legacy: the workspace key used to ride in the URL; now ignored and dropped
WS_COOKIE = "rigshift_ws"
WS_COOKIE_DAYS = 365
_WS_KEY = re.compile(r"^[0-9a-f]{32}$")
USER_KEY = "ws_user"
REFS = "ws_library_refs"  # source label -> {"owner", "name", "version"}
LIBRARY_PREFIX = "library: "
MAX_AUTOSAVE_BYTES = 20 * 1024 * 1024
AUTOSAVE_RETRY_S = 30.0  # after a failed autosave (library locked or down), reruns skip it this long
AUTOSAVE_WAIT_S = 2.0  # a rerun waits this long for its autosave; a slower one finishes in the background
_autosaver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rigshift-autosave")
GUEST = "guest"
LIST_LIMIT = 300  # newest entries offered in the panel (the CLI lists them all)


# ---------------------------------------------------------------- database


_failures: dict[str, tuple[float, str]] = {}  # URL -> (when it failed, why): not retried on every rerun
RETRY_AFTER_S = 60.0


def library() -> Any | None:
    """The configured library (None, with the reason kept for the panel, when it cannot be opened).

    A database that cannot be opened is tried again after RETRY_AFTER_S, not on every rerun
    (an unreachable server would otherwise stall each slider move for its connect timeout)."""
    from workspace.config import resolve_url

    url = resolve_url(_url())
    failed = _failures.get(url)
    if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
        st.session_state["ws_db_error"] = failed[1]
        return None
    try:
        from workspace.repository import Library

        lib = Library(url)
    except Exception as exc:  # noqa: BLE001 - the app keeps working without a library
        why = _why(exc)
        _failures[url] = (time.monotonic(), why)
        st.session_state["ws_db_error"] = why
        return None
    _failures.pop(url, None)
    return lib


def _why(exc: BaseException, named: bool = True) -> str:
    """An exception in one line fit for the page: the library's URL and any password in it masked."""
    from workspace.config import resolve_url
    from workspace.dburl import scrub

    first = str(exc).splitlines()[0] if str(exc) else ""
    try:
        url = resolve_url(_url())
    except Exception:  # noqa: BLE001 - no URL at all: nothing to mask
        url = None
    return scrub(f"{type(exc).__name__}: {first}" if named else first, url)


def _url() -> str | None:
    """st.secrets' [connections.rigshift] url when the app has secrets (env and defaults otherwise)."""
    import os

    from workspace.config import ENV_URL

    if os.environ.get(ENV_URL):
        return None  # resolve_url takes it from the environment
    try:
        section = st.secrets.get("connections", {}).get("rigshift", {})
        url = section.get("url") if hasattr(section, "get") else None
    except Exception:  # noqa: BLE001 - no secrets file at all
        url = None
    return url or None


def current_user() -> str:
    """The signed-in user's e-mail (else the provider's subject id); with a login configured and nobody
    signed in, GUEST; without a login, the name typed in the panel (one local user's library)."""
    try:
        if st.user.is_logged_in and (st.user.get("email") or st.user.get("sub")):
            return str(st.user.get("email") or st.user.get("sub"))
    except Exception:  # noqa: BLE001 - auth not configured
        pass
    if auth_configured():
        return GUEST
    return (st.session_state.get(USER_KEY) or "").strip() or GUEST


def auth_configured() -> bool:
    """True when the app has an identity provider ([auth] in its secrets: Streamlit's st.login, OIDC)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def viewer() -> Any:
    """Who the library's calls act for (workspace.access.Viewer): the signed-in user (an admin when
    configured so); with a login and nobody signed in, a visitor who sees only team-shared entries;
    without a login, the one local user, who sees every entry."""
    from workspace.access import Viewer

    if _logged_in() and current_user() != GUEST:
        return Viewer.of(current_user())
    if auth_configured():
        return Viewer("")  # owns nothing: reads what is shared with the team, writes nothing
    return Viewer.everyone(current_user())


def _logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:  # noqa: BLE001
        return False


# ---------------------------------------------------------------- pins and files as JSON


def _b64(files: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in files.items()}


def _unb64(files: dict[str, str]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in files.items()}


def pins_to_json(pins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in pins:
        out.append({"label": p["label"], "source": p["source"], "fp": p["fp"],
                    "summary": json.loads(json.dumps(p["summary"], default=_json_default)),
                    "allocation": p["allocation"].to_json(orient="split", index=False),
                    "sites": p["sites"].to_json(orient="split", index=False),
                    "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in p["settings"].items()}})
    return out


def pins_from_json(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in items or []:
        try:
            out.append({"label": p["label"], "source": p["source"], "fp": p["fp"], "summary": dict(p["summary"]),
                        "allocation": pd.read_json(io.StringIO(p["allocation"]), orient="split", dtype=False),
                        "sites": pd.read_json(io.StringIO(p["sites"]), orient="split", dtype=False),
                        "settings": {k: tuple(v) if isinstance(v, list) else v for k, v in p["settings"].items()}})
        except (KeyError, ValueError, TypeError):
            continue  # a pin from an older layout: skip it rather than lose the rest
    return out


def _json_default(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def result_record(res: optimizer.Result) -> dict[str, Any]:
    files = res.files()
    return {"summary": json.loads(files["summary.json"]), "files": files}


# ---------------------------------------------------------------- link parameters


def encode_value(value: Any) -> str:
    """A setting as it goes into the URL: TOML syntax (as ``--set``), ``none`` for unset."""
    return "none" if value is None else fmt.toml_value(value)


MAX_LINK_VALUE_CHARS = 2000  # a setting's value in a link; the longest real one (a list of names) is far shorter
MAX_LINK_NESTING = 4  # brackets deep: settings hold at most a list of names


class LinkValueError(ValueError):
    """A link parameter that is no setting value (too long, nested too deep): bad input, said in words."""


def decode_value(text: str) -> Any:
    """A URL parameter's TOML value; the text itself where it is no TOML. Raises LinkValueError for a
    value no setting can hold (longer than MAX_LINK_VALUE_CHARS, nested deeper than MAX_LINK_NESTING)."""
    if len(text) > MAX_LINK_VALUE_CHARS:
        raise LinkValueError(f"a value of {len(text):,} characters (at most {MAX_LINK_VALUE_CHARS:,})")
    depth = deepest = 0
    for ch in text:
        depth += (ch in "[{") - (ch in "]}")
        deepest = max(deepest, depth)
    if deepest > MAX_LINK_NESTING:
        raise LinkValueError(f"a value nested {deepest} brackets deep (settings hold at most a list)")
    if text.strip().lower() == "none":
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def whatif_params(base: optimizer.Settings, overrides: dict[str, Any]) -> dict[str, str]:
    """The what-ifs that differ from the scenario's own settings, as URL parameters."""
    out = {}
    for key, value in overrides.items():
        if key == "policy.exclude_sites":
            continue  # a table edit: it travels in a saved scenario, not in a link
        own = get_value(base, key)
        same = (tuple(value) == tuple(own)) if isinstance(value, (list, tuple)) and isinstance(own, (list, tuple)) else value == own
        if not same:
            out[key] = encode_value(value)
    return out


def _link_overrides(params: dict[str, str]) -> dict[str, Any]:
    """The link's what-ifs; LinkValueError naming the parameter for a value no setting can hold."""
    keys = set(optimizer.ALL_KEYS) - {"policy.exclude_sites"}
    out = {}
    for k, v in params.items():
        if k in keys:
            try:
                out[k] = decode_value(v)
            except LinkValueError as exc:
                raise LinkValueError(f"{k}: {exc}") from None
    return out


# ---------------------------------------------------------------- start of a session: restore or open a link


def start() -> None:
    """Once per browser session, before any widget: restore the autosave named by ``?ws=`` or open
    the plan the URL names; mint a workspace id when there is none."""
    ss = st.session_state
    if ss.get("ws_started"):
        return
    ss["ws_started"] = True
    ss.setdefault(REFS, {})
    params = {k: st.query_params.get(k) for k in st.query_params if k != WS_PARAM}  # a pasted ?ws= hands over nothing
    ws = _browser_workspace_key() or ""
    lib = library()
    restored = someone_elses = False
    if ws and lib is not None:
        try:
            rec = lib.restore(ws)
        except Exception as exc:  # noqa: BLE001
            ss["ws_db_error"] = _why(exc)
            rec = None
        if rec is not None:
            owner, saved_at, state = rec
            if (not _logged_in() and not auth_configured()) or owner == current_user():
                _restore(state, saved_at)
                restored = True
            else:
                someone_elses = True  # a signed-in colleague opened a URL with your workspace id: not theirs
    if not ws or someone_elses:
        ws = uuid.uuid4().hex  # 128 random bits: the key is a secret of this browser
    ss["ws_id"] = ws
    if not restored:
        _open_link(params, lib)


def _browser_workspace_key() -> str | None:
    """This browser's workspace key from its cookie, or None (a first visit, cookies off)."""
    try:
        value = st.context.cookies.get(WS_COOKIE)
    except Exception:  # noqa: BLE001 - AppTest and bare runs have no browser
        return None
    return value if isinstance(value, str) and _WS_KEY.match(value) else None


def _keep_key_in_browser() -> None:
    """Set the workspace-key cookie (a one-pixel iframe's script, same origin: Streamlit cannot set
    cookies itself) when the browser does not hold this session's key yet."""
    ws = st.session_state.get("ws_id")
    if not ws or not _WS_KEY.match(ws) or _browser_workspace_key() == ws:
        return
    # Fixed text and a key checked against _WS_KEY: no user text reaches this script.
    st.iframe(f"<script>document.cookie = '{WS_COOKIE}={ws}; path=/; max-age={WS_COOKIE_DAYS * 86400}; "
              "SameSite=Strict' + (location.protocol === 'https:' ? '; Secure' : '');</script>", height=1)


def _restore(state: dict[str, Any], saved_at: Any) -> None:
    ss = st.session_state
    if state.get("user") and not _logged_in() and not auth_configured():
        ss[USER_KEY] = state["user"]
    uploads = {label: _unb64(files) for label, files in (state.get("uploads") or {}).items()}
    ss[UPLOADS].update(uploads)
    ss["memory"].update(state.get("memory") or {})
    ss[REFS].update(state.get("refs") or {})
    source = state.get("source")
    edited = state.get("edited")
    if source and edited:
        stem = source.removeprefix(UPLOAD_PREFIX)
        label = UPLOAD_PREFIX + (stem if stem.endswith("(edited)") else f"{stem} (edited)")
        ss[UPLOADS][label] = _unb64(edited)
        ss["memory"][label] = (state.get("memory") or {}).get(source, {})
        ss[REFS].pop(label, None)
        source = label
    if source and (source in ss[UPLOADS] or source in compute.builtin_names()):
        ss["pending_source"] = source
    ss[views.PINS] = pins_from_json(state.get("pins") or [])
    monthly_view.replans_from_json(state.get("replans"))
    ss["ws_last_digest"] = None
    when = saved_at.strftime("%Y-%m-%d %H:%M UTC") if hasattr(saved_at, "strftime") else str(saved_at)
    ss["upload_notice"] = (f"Restored your workspace as you left it ({when})"
                           + (", table edits included" if edited else "") + ".")


def _open_link(params: dict[str, str], lib: Any | None) -> None:
    """Open the plan a link names: a library entry or a built-in scenario, with its what-ifs."""
    ss = st.session_state
    name, dataset = params.get("scenario"), params.get("dataset")
    label = None
    try:
        overrides = _link_overrides(params)
        if name and lib is not None:
            owner = params.get("owner") or current_user()
            version = int(params["v"]) if (params.get("v") or "").isdigit() else None
            saved = lib.load(owner, name, version, viewer=viewer())
            label = _register(saved)
            base = compute.scenario_from_files(ss[UPLOADS][label], label)
        elif dataset and dataset in compute.builtin_names():
            label = dataset
            base = compute.load_builtin(dataset)
        else:
            if name and lib is None:
                ss["upload_problems"] = ["The link names a saved scenario, but the library cannot be opened: "
                                         + ss.get("ws_db_error", "")]
            return
        settings = base.with_overrides(overrides).settings if overrides else base.settings
    except Exception as exc:  # noqa: BLE001 - a bad or stale link: say so, keep the default scenario
        ss["upload_problems"] = [f"The link could not be opened: {exc}"]
        return
    ss["memory"][label] = controls.defaults(settings)
    ss["pending_source"] = label
    ss["upload_notice"] = f"Opened the linked plan: {label.removeprefix(LIBRARY_PREFIX)}" + (
        f" with {len(overrides)} what-if setting(s) from the link." if overrides else ".")


def _register(saved: Any) -> str:
    """Put a library version among the session's scenarios; returns its source label."""
    ss = st.session_state
    i = saved.info
    label = f"{LIBRARY_PREFIX}{i.name}" + ("" if i.owner == current_user() else f" ({i.owner})")
    ss[UPLOADS][label] = dict(saved.files)
    ss[REFS][label] = {"owner": i.owner, "name": i.name, "version": i.version}
    if saved.controls:
        ss["memory"][label] = dict(saved.controls)
    else:
        ss["memory"].pop(label, None)
    have = {(p["label"], p["fp"]) for p in ss.get(views.PINS) or []}
    for p in pins_from_json(saved.pins):
        if (p["label"], p["fp"]) not in have:
            ss.setdefault(views.PINS, []).append(p)
    return label


# ---------------------------------------------------------------- every rerun: URL, autosave, panel


def _readme(source: str, files: dict[str, bytes] | None) -> str | None:
    if files and "README.md" in files:
        try:
            return files["README.md"].decode("utf-8")
        except UnicodeDecodeError:
            return None
    stem = source.removeprefix(UPLOAD_PREFIX).removeprefix(LIBRARY_PREFIX).removesuffix(" (edited)")
    for name in compute.builtin_names():
        if stem == name or stem.startswith(name + " "):
            path = compute.datasets_dir() / name / "README.md"
            return path.read_text(encoding="utf-8") if path.is_file() else None
    return None


def _base_url() -> str:
    try:
        url = st.context.url or ""
    except Exception:  # noqa: BLE001 - AppTest has no browser URL
        url = ""
    base = url.split("?", 1)[0].split("#", 1)[0] or "http://localhost:8501/"
    return base if urlsplit(base).path else base + "/"


def plan_params(source: str, base: optimizer.Scenario, overrides: dict[str, Any]) -> dict[str, str] | None:
    """The URL parameters naming this plan, or None when its scenario has no name a colleague can open."""
    ref = (st.session_state.get(REFS) or {}).get(source)
    if ref:
        params = {"scenario": ref["name"], "owner": ref["owner"], "v": str(ref["version"])}
    elif source in compute.builtin_names():
        params = {"dataset": source}
    else:
        return None
    params.update(whatif_params(base.settings, overrides))
    return params


def _sync_url(plan: dict[str, str] | None) -> None:
    desired = dict(plan or {})  # the plan's name and what-ifs: what a copied address bar may share
    current = {k: st.query_params.get(k) for k in st.query_params}
    if current != desired:
        st.query_params.from_dict(desired)


def _state(source: str, has_edits: bool) -> dict[str, Any]:
    ss = st.session_state
    memory = dict(ss.get("memory") or {})
    memory[source] = controls.control_state()
    good = (ss.get("last_good_tables") or {}).get(source) if has_edits else None
    return {"v": 1, "user": current_user(), "source": source,
            "uploads": {label: _b64(files) for label, files in ss[UPLOADS].items()},
            "memory": json.loads(json.dumps(memory, default=_json_default)),
            "refs": dict(ss.get(REFS) or {}),
            "edited": _b64(good.files()) if good is not None else None,
            "pins": pins_to_json(ss.get(views.PINS) or []),
            "replans": monthly_view.replans_to_json()}  # re-plan from here: what the user marked as done


def autosave(lib: Any, source: str, has_edits: bool) -> None:
    ss = st.session_state
    state = _state(source, has_edits)
    text = json.dumps(state, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest == ss.get("ws_last_digest"):
        return
    pending = ss.get("ws_autosave_pending")
    if pending is not None:  # an autosave still running from an earlier rerun: settle it first, never pile up
        if not pending[0].done():
            return
        ss.pop("ws_autosave_pending", None)
        _settle(ss, pending[0], pending[1], 0)
        if digest == ss.get("ws_last_digest"):
            return
    failed_at = ss.get("ws_autosave_failed_at")
    if failed_at is not None and time.monotonic() - failed_at < AUTOSAVE_RETRY_S:
        return  # the library was busy or down a moment ago: the page does not wait on it at every rerun
    if len(text) > MAX_AUTOSAVE_BYTES:
        ss["ws_autosave_problem"] = (f"Your workspace is {len(text) / 1e6:.0f} MB, more than the {MAX_AUTOSAVE_BYTES / 1e6:.0f} MB "
                                     "kept automatically: save it to the library (or export a zip) before you reload.")
        return
    # On a worker thread, waited for AUTOSAVE_WAIT_S at most: a hung database never holds the page.
    _settle(ss, _autosaver.submit(lib.autosave, ss["ws_id"], current_user(), state), digest, AUTOSAVE_WAIT_S)


def _settle(ss: Any, fut: Future, digest: str, wait_s: float) -> None:
    """Record an autosave's outcome: saved (its digest), failed (a message, retried later), or still
    running (kept pending; the next rerun looks again and starts no second one meanwhile)."""
    try:
        fut.result(timeout=wait_s)
    except FutureTimeout:
        ss["ws_autosave_pending"] = (fut, digest)
        ss["ws_autosave_problem"] = ("The library is slow to answer, so your latest changes are not saved yet. Your "
                                     "work is kept in this page: export a zip before you reload.")
        return
    except Exception as exc:  # noqa: BLE001 - never lose the page over an autosave
        ss["ws_autosave_problem"] = (f"Autosave failed ({_why(exc)}). Your work is kept in this page; it is tried "
                                     f"again in {AUTOSAVE_RETRY_S:.0f} s: export a zip before you reload.")
        ss["ws_autosave_failed_at"] = time.monotonic()
        return
    ss.pop("ws_autosave_failed_at", None)
    ss["ws_last_digest"] = digest
    ss.pop("ws_autosave_problem", None)


PANEL = "Library, link and report"


def panel(box: Any, *, source: str, base: optimizer.Scenario, overrides: dict[str, Any], scn: optimizer.Scenario,
          res: optimizer.Result | None, has_edits: bool) -> None:
    """Sync the URL, autosave, and draw the workspace panel into ``box`` (a sidebar container)."""
    ss = st.session_state
    lib = library()
    plan = plan_params(source, base, overrides) if not has_edits else None
    _sync_url(plan)
    with box:
        _keep_key_in_browser()
    if lib is not None:
        autosave(lib, source, has_edits)
    attention = bool(ss.get("ws_notice") or ss.get("ws_problem") or ss.get("ws_autosave_problem") or lib is None)
    with box, st.expander(PANEL, expanded=attention, icon=":material/folder_shared:"):
        if lib is None:
            st.warning("The library database cannot be opened, so nothing is saved automatically: "
                       + md_escape(ss.get("ws_db_error", "")) + ". Export a zip before you reload.", icon=":material/warning:")
        else:
            _library_panel(lib, source, scn, res)
            if ss.get("ws_autosave_problem"):
                st.warning(md_escape(ss["ws_autosave_problem"]), icon=":material/warning:")
            else:
                st.caption("Your work is saved as you go: reload this page and you are back here.")
        st.markdown("**Link to this plan**")
        if plan is not None:
            link = _base_url() + "?" + urlencode(plan)
            st.code(link, language=None, wrap_lines=True)
            private = ((auth_configured() or _logged_in()) and "scenario" in plan
                       and (ss.get("ws_visibility") or {}).get((plan.get("owner"), plan["scenario"])) == "private")
            st.caption("Only you (and the library's admins) can open it: the entry is private. Share it with the "
                       "team (in the panel above) and every signed-in colleague can open a read-only copy."
                       if private else "Anyone who opens it sees this scenario with these what-if settings.")
        else:
            st.caption("Table edits and uploads are not in a link yet: save the scenario to the library "
                       "and the link names it.")
        _report_buttons(source, scn, res, plan)


def _library_panel(lib: Any, source: str, scn: optimizer.Scenario, res: optimizer.Result | None) -> None:
    ss = st.session_state
    signed_out = auth_configured() and not _logged_in()  # with a login, nobody acts under a typed name
    if _logged_in():
        st.caption(f"Signed in as {md_escape(current_user())}.")
        if auth_configured():
            st.button("Sign out", key="ws_logout", on_click=st.logout, icon=":material/logout:")
    elif signed_out:
        st.caption("Sign in to save, rename or delete; scenarios shared with the team can be opened read-only.")
        st.button("Sign in", key="ws_login", on_click=st.login, type="primary", icon=":material/login:")
    else:
        ss.setdefault(USER_KEY, GUEST)
        st.text_input("Your name", key=USER_KEY, help="Saves are kept under this name. With the app's login "
                                                      "switched on, your e-mail is used instead.")
    default_name = source.removeprefix(LIBRARY_PREFIX).removeprefix(UPLOAD_PREFIX)
    ref = (ss.get(REFS) or {}).get(source)
    if ref and ref["owner"] == current_user():
        default_name = ref["name"]
    if ss.get("ws_save_for") != source:
        ss["ws_save_name"] = default_name
        ss["ws_save_for"] = source
    st.text_input("Save as", key="ws_save_name", help="Saving under an existing name adds a new version; "
                                                      "nothing is overwritten.")
    st.button("Save to library", key="ws_save", icon=":material/save:", type="primary", width="stretch",
              on_click=_save, args=(lib, source, scn, res), disabled=signed_out)
    if ss.get("ws_notice"):
        st.success(md_escape(ss["ws_notice"]), icon=":material/check_circle:")
    if ss.get("ws_problem"):
        st.error(md_escape(ss["ws_problem"]), icon=":material/error:")
    try:
        entries = lib.list(None, limit=LIST_LIMIT, viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        st.error(md_escape(f"The library cannot be listed: {_why(exc)}"))
        return
    if not entries:
        st.caption("Nothing saved yet.")
        return
    ss["ws_visibility"] = {(e.owner, e.name): e.visibility for e in entries}  # for the link's caption
    entries, scope = _scoped(entries)
    keys = [f"{e.owner}\u241f{e.name}" for e in entries]
    by_key = dict(zip(keys, entries))
    if ss.get("ws_pick") not in keys:
        ss["ws_pick"] = keys[0]

    def label(k: str) -> str:
        e = by_key[k]
        return f"{e.name} ({e.owner}, v{e.version}, {e.saved_at:%d %b %H:%M}, {fmt.usd(e.objective_usd)})"

    st.selectbox(f"Saved scenarios ({scope})", keys, key="ws_pick", format_func=label)
    chosen = by_key[ss["ws_pick"]]
    own = chosen.owner == current_user() and not signed_out
    mine = own or (not signed_out and _logged_in() and viewer().may_write(chosen.owner))  # admins
    if own:
        _share_toggle(lib, chosen)
    try:  # newest first: the version Open loads (issue 24: any version can be opened)
        versions = sorted((v.version for v in lib.versions(chosen.owner, chosen.name, viewer=viewer())), reverse=True)
    except Exception:  # noqa: BLE001 - the newest only
        versions = [chosen.version]
    if ss.get("ws_version") not in versions:
        ss["ws_version"] = versions[0]
    st.selectbox("Version", versions, key="ws_version",
                 format_func=lambda v: f"version {v}" + (" (latest)" if v == versions[0] else ""))
    c1, c2 = st.columns(2)
    c1.button("Open", key="ws_open", icon=":material/folder_open:", width="stretch", on_click=_open,
              args=(lib, chosen.owner, chosen.name, ss["ws_version"]))
    with c2.popover("Delete", icon=":material/delete:", width="stretch", disabled=not mine,
                    help="Delete this entry and all its versions." if mine else "Only its owner (or an admin) can delete it."):
        st.warning(f"Delete '{md_escape(chosen.name)}' and all {len(versions)} of its versions? This cannot be undone.")
        st.button("Yes, delete it", key="ws_delete", type="primary", disabled=not mine,
                  on_click=_delete, args=(lib, chosen.owner, chosen.name))
    st.text_input("New name", key="ws_new_name", placeholder="for rename or duplicate")
    c3, c4 = st.columns(2)
    c3.button("Rename", key="ws_rename", width="stretch", disabled=not mine,
              on_click=_rename, args=(lib, chosen.owner, chosen.name))
    c4.button("Duplicate", key="ws_duplicate", width="stretch", disabled=signed_out,
              on_click=_duplicate, args=(lib, chosen.owner, chosen.name),
              help="Copy it into your own library under the new name.")


MINE, TEAM_SHARED, OTHERS = "mine", "shared with the team", "everyone else's: you are an admin"


def _scoped(entries: list[Any]) -> tuple[list[Any], str]:
    """Signed in: the entries of one group, picked in the panel (``ws_scope``): yours, those others shared
    with the team, and (for an admin) everyone else's; without a login, all of them (one local user's)."""
    if not (_logged_in() and current_user() != GUEST):
        return entries, "everything in this library" if not auth_configured() else TEAM_SHARED
    me = current_user()
    groups = {MINE: [e for e in entries if e.owner == me],
              TEAM_SHARED: [e for e in entries if e.owner != me and e.visibility == "team"],
              OTHERS: [e for e in entries if e.owner != me and e.visibility != "team"]}
    shown = [g for g, es in groups.items() if es]
    ss = st.session_state
    if ss.get("ws_scope") not in shown:
        ss["ws_scope"] = shown[0]
    st.radio("Show", shown, key="ws_scope", horizontal=True,
             format_func=lambda g: f"{g[0].upper()}{g[1:]} ({len(groups[g])})")
    return groups[ss["ws_scope"]], ss["ws_scope"]


def _share_toggle(lib: Any, chosen: Any) -> None:
    """The owner's explicit act: share the entry with the team (read-only for them) or make it private."""
    shared = chosen.visibility == "team"
    st.toggle("Shared with the team (read-only)", value=shared, key=f"ws_share\u241f{chosen.owner}\u241f{chosen.name}",
              on_change=_set_shared, args=(lib, chosen.owner, chosen.name, not shared),
              help="Everyone signed in can then see and open it, and follow links to it; only you change it.")


def _set_shared(lib: Any, owner: str, name: str, team: bool) -> None:
    try:
        lib.share(owner, name, "team" if team else "private", viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        _say(problem=f"Not changed: {_why(exc, named=False)}")
        return
    _say(notice=f"'{name}' is now " + ("shared with the team, read-only." if team else "private: only you see it."))


def _say(notice: str = "", problem: str = "") -> None:
    st.session_state["ws_notice"], st.session_state["ws_problem"] = notice, problem


def _save(lib: Any, source: str, scn: optimizer.Scenario, res: optimizer.Result | None) -> None:
    ss = st.session_state
    name = (ss.get("ws_save_name") or "").strip()
    files = dict(scn.files())
    readme = _readme(source, ss[UPLOADS].get(source))
    if readme:
        files["README.md"] = readme.encode("utf-8")
    try:
        info = lib.save(current_user(), name, files, scenario_name=scn.name, saved_by=current_user(),
                        controls=json.loads(json.dumps(controls.control_state(), default=_json_default)),
                        pins=pins_to_json(ss.get(views.PINS) or []),
                        result=result_record(res) if res is not None else None, viewer=viewer())
    except Exception as exc:  # noqa: BLE001 - a LibraryError or a database error, shown in place
        _say(problem=f"Not saved: {_why(exc, named=False)}. Your work is still here: try again in a moment, "
                     "or export a zip.")
        return
    session.remember_controls()
    label = _register(lib.load(info.owner, info.name, info.version, viewer=viewer()))
    ss["pending_source"] = label
    ss["ws_save_for"] = label
    _say(notice=f"Saved '{info.name}' as version {info.version}.")


def _open(lib: Any, owner: str, name: str, version: int | None = None) -> None:
    ss = st.session_state
    try:
        saved = lib.load(owner, name, version, viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        _say(problem=f"Not opened: {_why(exc, named=False)}")
        return
    old = ss.get("active_source")
    session.remember_controls()
    kept = session.keep_edits(old) if old else None
    label = _register(saved)
    if ss.get("active_source") == label:  # another version of the scenario on screen: take its controls too
        ss.pop("active_source")
    ss["pending_source"] = label
    _say(notice=f"Opened '{name}' version {saved.info.version} (saved by {saved.info.saved_by})."
         + (f" Your table edits are kept as scenario '{kept}'." if kept else ""))


def _delete(lib: Any, owner: str, name: str) -> None:
    try:
        n = lib.delete(owner, name, viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        _say(problem=f"Not deleted: {_why(exc, named=False)}")
        return
    _say(notice=f"Deleted '{name}' ({n} version{'s' if n != 1 else ''}). Scenarios already open stay open.")


def _rename(lib: Any, owner: str, name: str) -> None:
    ss = st.session_state
    new = (ss.get("ws_new_name") or "").strip()
    try:
        info = lib.rename(owner, name, new, viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        _say(problem=f"Not renamed: {_why(exc, named=False)}")
        return
    for ref in (ss.get(REFS) or {}).values():
        if ref["owner"] == info.owner and ref["name"] == name:
            ref["name"] = info.name
    ss["ws_pick"] = f"{info.owner}\u241f{info.name}"
    _say(notice=f"Renamed '{name}' to '{info.name}'.")


def _duplicate(lib: Any, owner: str, name: str) -> None:
    ss = st.session_state
    new = (ss.get("ws_new_name") or "").strip()
    try:
        info = lib.duplicate(owner, name, new, new_owner=current_user(), viewer=viewer())
    except Exception as exc:  # noqa: BLE001
        _say(problem=f"Not duplicated: {_why(exc, named=False)}")
        return
    ss["ws_pick"] = f"{info.owner}\u241f{info.name}"
    _say(notice=f"Copied '{name}' to your '{info.name}'.")


# ---------------------------------------------------------------- the report


RISK_KEYS = ("risk_n", "risk_seed", "risk_alpha", "risk_rho", "risk_vol")


def _risk_inputs() -> dict[str, Any] | None:
    """The Risk tab's settings in this session (None until the tab has been opened)."""
    ss = st.session_state
    return {k: ss[k] for k in RISK_KEYS} if all(k in ss for k in RISK_KEYS) else None


def risk_summary(scn: optimizer.Scenario, res: optimizer.Result,
                 inputs: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The Risk tab's figures for this plan (expected value, P5/P50/P95, CVaR, chance below selling)
    when the tab has computed them in this session, for the report's risk section; else None.
    ``inputs``: the tab's settings as taken by ``_risk_inputs`` (default: read them now)."""
    if monthly_view.is_monthly(res):
        return None  # the sampled figures value decisions taken at month 0: not the monthly plan's (its replay is)
    ss = inputs if inputs is not None else _risk_inputs()
    if ss is None:  # the tab not drawn yet in this session: the scenario's own sampler, the decision card's figures
        r = scn.settings.risk
        ss = {"risk_n": r.samples, "risk_seed": r.seed, "risk_alpha": r.alpha, "risk_rho": r.ban_correlation,
              "risk_vol": r.hashprice_volatility}
    try:
        from .tabs import risk as risk_tab

        scn_r = scn.with_overrides({"risk.alpha": float(ss["risk_alpha"]), "risk.ban_correlation": float(ss["risk_rho"]),
                                    "risk.hashprice_volatility": float(ss["risk_vol"])})
        out = risk_tab._outcomes(scn_r.fingerprint(), int(ss["risk_n"]), int(ss["risk_seed"]), scn_r, res)
        return dict(out.summary)
    except Exception:  # noqa: BLE001 - the report goes out without its risk section rather than not at all
        return None



def _board(source: str, scn: optimizer.Scenario, res: optimizer.Result) -> Callable[[], dict[str, Any] | None]:
    """The report's board sections (workspace.board) for this plan, made when the report is (the "why" re-solves
    the fractional twin); the decision card's figures are taken now, from this session's caches."""
    if monthly_view.is_monthly(res):
        return lambda: None  # the board sections value decisions taken at month 0: not the monthly plan's
    try:
        from . import decision_card
        from .tabs import what_happened

        fp = scn.fingerprint()
        decision = decision_card.decision(source, scn, res, fp)
        folder = what_happened.history_dir(source)
        bt = what_happened._backtest(fp, str(folder), scn, res) if folder is not None else None
    except Exception:  # noqa: BLE001 - the report goes out without these sections rather than not at all
        return lambda: None

    def make() -> dict[str, Any] | None:
        try:
            from workspace.board import board_sections

            return board_sections(scn, res, decision, bt)
        except Exception:  # noqa: BLE001 - as above
            return None
    return make


def _report_buttons(source: str, scn: optimizer.Scenario, res: optimizer.Result | None, plan: dict[str, str] | None) -> None:
    st.markdown("**Decision report**")
    if res is None:
        st.caption("No plan for the current settings, so no report.")
        return
    ss = st.session_state
    files = ss[UPLOADS].get(source)
    link = _base_url() + "?" + urlencode(plan) if plan is not None else None
    author = current_user()
    risk_view = _risk_inputs()  # the Risk tab's settings now; its figures are looked up on click
    board = _board(source, scn, res)  # the decision card's figures, why these sites, the backtest (cached)
    from .report_replays import replay_lookup

    replays = replay_lookup(scn)  # the replays computed in this session, looked up on click
    lock = threading.Lock()
    made: dict[str, Any] = {}

    def report() -> Any:
        with lock:  # the three downloads share one build
            if "r" not in made:
                from workspace.report import build_report

                made["r"] = build_report(scn, res, readme=_readme(source, files), source=source, author=author,
                                         link=link, risk=risk_summary(scn, res, risk_view), board=board(),
                                         replays=replays())
            return made["r"]

    def safe(make: Callable[[], bytes | str]) -> Callable[[], bytes | str]:
        def run() -> bytes | str:
            try:
                return make()
            except OSError as exc:  # WeasyPrint without Pango: say so in the file rather than fail silently
                return f"The PDF could not be made here ({exc}); install Pango (make report-libs) or use the HTML report."
        return run

    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in scn.name).strip("-") or "plan"
    st.download_button("Report (HTML)", lambda: report().html, file_name=f"{stem}-report.html", mime="text/html",
                       key="ws_report_html", on_click="ignore", icon=":material/description:", width="stretch",
                       help="The decision report as a web page that prints well.")
    st.download_button("Report (PDF)", safe(lambda: report().pdf()), file_name=f"{stem}-report.pdf", mime="application/pdf",
                       key="ws_report_pdf", on_click="ignore", icon=":material/picture_as_pdf:", width="stretch")
    st.download_button("Tables (XLSX)", lambda: report().xlsx(), file_name=f"{stem}-plan.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="ws_report_xlsx", on_click="ignore", icon=":material/table:", width="stretch")
    st.caption("Scenario in plain words, the answer against selling everything, the map, allocation, shadow and "
               "entry prices, assumptions, sources and settings.")
