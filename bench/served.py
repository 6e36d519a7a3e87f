"""The served app as a browser drives it: N clients of Streamlit's websocket protocol on one server.

    .venv/bin/python -m bench.served [--clients 1,5,10,20] [--moves 8] [--think 3] [--baseline DIR]

Each client opens ``/_stcore/stream`` as the browser does (subprotocol ``streamlit``), asks for the
first run (a ``rerun_script`` BackMsg with no widget states), then moves the power-price what-if
slider: a ``rerun_script`` with that slider's widget state changed (its id read from the first
run's deltas) and the other sliders' and tick boxes' values as the server last sent them, and the
hashes of the large messages it already holds (the browser's message cache). Latency = from
sending that BackMsg to the ``script_finished`` ForwardMsg of the rerun it started. Between moves a
client thinks ``--think`` seconds (random, mean as given, so 20 clients do not move in lockstep).
Throughput = finished reruns / wall time of the moving phase; server memory = RSS of the server
process and its children, sampled every 0.2 s.

Each client moves through its own sequence of settings (``setting_for``), and the plan value the rerun's deltas
carry is kept, so a caller (tests/test_load_ws.py) can check it against the engine.

``--baseline DIR`` serves another checkout (``git archive <commit> | tar -x -C DIR``) side by side
and measures both in the same sitting, alternately, so a shared machine's load falls on both.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.streamlit_server import MemorySampler, free_port, wait_healthy  # noqa: E402

SLIDER_KEY = "ctl_policy_power_price_multiplier"  # the widget's user key; Streamlit ends the widget id with it
PLAN_VALUE_LABEL = "Plan value"
STEP_S = 120.0  # any one rerun: a client gives up after this


def serve(root: Path, log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` in ``root`` on a free port, headless, as tests/streamlit_server.py starts it."""
    port = free_port()
    out = log_path.open("w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--server.runOnSave", "false"],
        cwd=root, stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, 90, lambda rc: f"streamlit in {root} exited with {rc}")
    except RuntimeError:
        proc.terminate()
        raise
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# ---------------------------------------------------------------- one client of the protocol


@dataclass
class Run:
    """What one script run sent back: seconds from the BackMsg to script_finished, and what it drew."""
    latency_s: float
    status: int
    deltas: int
    bytes: int
    plan_value: str | None
    slider_value: float | None
    exception: str | None = None


@dataclass
class Client:
    """One browser tab's worth of Streamlit protocol: a websocket, the widget states, the message cache."""
    url: str
    ws: object = None
    widgets: dict = field(default_factory=dict)  # widget id -> WidgetState as the server last set it
    slider_id: str | None = None
    cache: set = field(default_factory=set)  # hashes of cacheable ForwardMsgs received (the browser keeps these)
    sent_hashes: set = field(default_factory=set)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                ping_interval=None, compression=None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def _rerun_msg(self, changes: dict[str, float] | None) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = ""
        cs.page_script_hash = ""
        cs.context_info.timezone = "UTC"
        cs.context_info.timezone_offset = 0
        cs.context_info.locale = "en-US"
        cs.context_info.url = self.url + "/"
        cs.context_info.is_embedded = False
        cs.context_info.color_scheme = "light"
        cs.cached_message_hashes.extend(sorted(self.cache))
        if changes is not None:
            for wid, state in self.widgets.items():
                ws = cs.widget_states.widgets.add()
                ws.CopyFrom(state)
            for wid, value in changes.items():
                state = WidgetState(id=wid)
                state.double_array_value.data.append(value)
                self.widgets[wid] = state
                for ws in cs.widget_states.widgets:
                    if ws.id == wid:
                        ws.CopyFrom(state)
                        break
                else:
                    cs.widget_states.widgets.add().CopyFrom(state)
        cs.widget_states.SetInParent()
        return msg.SerializeToString()

    def _widget(self, element) -> None:
        """Remember a slider's or tick box's value as the server draws it (what the browser would send back)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        kind = element.WhichOneof("type")
        if kind == "slider":
            s = element.slider
            if s.set_value or s.id not in self.widgets:  # else the browser keeps the value it has
                state = WidgetState(id=s.id)
                state.double_array_value.data.extend(list(s.value) if s.set_value else list(s.default))
                self.widgets[s.id] = state
            if s.id.endswith(SLIDER_KEY):
                self.slider_id = s.id
        elif kind == "checkbox":
            c = element.checkbox
            if c.set_value or c.id not in self.widgets:
                self.widgets[c.id] = WidgetState(id=c.id, bool_value=c.value if c.set_value else c.default)

    async def run(self, changes: dict[str, float] | None) -> Run:
        """One rerun: send it, read ForwardMsgs until the script_finished of a full run."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        payload = self._rerun_msg(changes)
        t0 = time.perf_counter()
        await self.ws.send(payload)
        deltas = nbytes = 0
        plan_value = exception = None
        slider_value = None
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), STEP_S)
            nbytes += len(raw)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if fm.metadata.cacheable and fm.hash:
                self.cache.add(fm.hash)
            if kind == "delta":
                deltas += 1
                d = fm.delta
                if d.WhichOneof("type") == "new_element":
                    el = d.new_element
                    self._widget(el)
                    et = el.WhichOneof("type")
                    if et == "metric" and el.metric.label.startswith(PLAN_VALUE_LABEL):
                        plan_value = el.metric.body.strip()
                    elif et == "slider" and el.slider.id == self.slider_id:
                        slider_value = self.widgets[self.slider_id].double_array_value.data[0]
                    elif et == "exception":
                        exception = f"{el.exception.type}: {el.exception.message}"
            elif kind == "script_finished":
                status = fm.script_finished
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    return Run(time.perf_counter() - t0, status, deltas, nbytes, plan_value, slider_value, exception)


def setting_for(k: int, i: int) -> float:
    """Client k's power-price multiplier at its i-th move: on the slider's grid (step 0.05) from 0.90 to 2.45,
    where every setting gives china-2021 a different plan value (above about 2.5 the plan sells everything);
    a new value at each of a client's moves (up to 32), different clients' sequences interleaved.
    Below 0.9 the whole-rig MIP the app solves for china-2021 gets hard (0.6: about 7 s, 0.35: the
    60 s time limit, on this machine): a solver limit, not what the served-app rows measure."""
    return round(0.90 + 0.05 * ((11 * k + 5 * i) % 32), 2)


async def client_session(url: str, k: int, moves: int, think_s: float, rng: random.Random, record: list,
                         first_runs: list) -> None:
    """Load the page, then ``moves`` moves of the slider to this client's value and back (each a rerun)."""
    c = Client(url)
    await c.connect()
    try:
        first = await c.run(None)
        first_runs.append(first)
        if c.slider_id is None:
            raise AssertionError(f"client {k}: no slider with key {SLIDER_KEY} in the first run's deltas")
        await asyncio.sleep(rng.uniform(0, think_s))  # arrive at random times, as people do
        for i in range(moves):
            value = setting_for(k, i)
            run = await c.run({c.slider_id: value})
            record.append((k, value, run))
            if i + 1 < moves:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)
    finally:
        await c.close()


async def drive(url: str, clients: int, moves: int, think_s: float, seed: int = 0) -> dict:
    """``clients`` sessions at once; returns latencies, throughput and what each rerun showed."""
    rng = random.Random(seed)
    record: list = []
    first_runs: list = []
    t0 = time.perf_counter()
    await asyncio.gather(*(client_session(url, k, moves, think_s, random.Random(rng.random()), record, first_runs)
                           for k in range(clients)))
    wall = time.perf_counter() - t0
    lat = sorted(r.latency_s for _, _, r in record)
    return {"clients": clients, "moves": len(record), "wall_s": wall,
            "p50_s": percentile(lat, 50), "p95_s": percentile(lat, 95), "max_s": lat[-1] if lat else None,
            "reruns_per_s": (len(record) + len(first_runs)) / wall if wall else None,
            "first_p50_s": percentile(sorted(r.latency_s for r in first_runs), 50),
            "kb_per_move": statistics.mean(r.bytes for _, _, r in record) / 1024 if record else None,
            "record": [(k, v, r.plan_value, r.slider_value, r.exception) for k, v, r in record]}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    i = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def measure(url: str, pid: int, clients: int, moves: int, think_s: float) -> dict:
    sampler = MemorySampler(pid)
    sampler.start()
    try:
        out = asyncio.run(drive(url, clients, moves, think_s))
    finally:
        sampler.stop_event.set()
        sampler.join(timeout=5)
    out["rss_start_mb"] = sampler.samples[0] if sampler.samples else None
    out["rss_peak_mb"] = max(sampler.samples) if sampler.samples else None
    return out


# The app's own work for a new plan besides the solve and the drawing: the decision card's backtest and the map
# spec, as ui/tabs/what_happened.py and ui/mapview.py make them. Run as code in a checkout's own process, so a
# baseline checkout measures its own code.
APP_WORK = """
import json, sys, time
import optimizer
from optimizer.risk import backtest, plan_from_result
from ui import mapview
base = optimizer.load_scenario("datasets/china-2021").with_overrides({"policy.integer_rigs": True})
view = mapview.view_state(base)
plans = [(s, optimizer.solve(s)) for s in (base.with_overrides({"policy.power_price_multiplier": v})
                                           for v in (0.9, 1.15, 1.4, 1.65, 1.9, 2.15))]
times = []
for rep in range(3):
    for scn, res in plans:
        t = time.perf_counter()
        history = backtest.load_history("datasets/china-2021/history", scn)
        backtest.backtest(scn, history, plan_from_result(scn, optimizer.compute_economics(scn), res))
        mapview._build(scn, res, view).to_json()
        times.append(time.perf_counter() - t)
times = sorted(times[len(plans):])
print(json.dumps({"median_s": times[len(times) // 2], "min_s": times[0]}))
"""


def app_work(root: Path) -> dict:
    """Seconds of backtest + map spec per new plan, measured by ``root``'s own code in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", APP_WORK], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"})
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-300:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def render(header: str, results: dict[str, list[dict]], think_s: float, moves: int) -> str:
    names = list(results)
    lines = [f"Machine: {header}", "",
             f"Served app, china-2021, websocket clients moving the power-price slider, {moves} moves each, "
             f"think time {think_s:g} s (random 0.5x-1.5x):", "",
             "| checkout | clients | moves | what-if p50 s | p95 s | max s | reruns/s | first run p50 s | KB per move | server RSS peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        for r in results[name]:
            lines.append(f"| {name} | {r['clients']} | {r['moves']} | {r['p50_s']:.3f} | {r['p95_s']:.3f} | {r['max_s']:.3f} | "
                         f"{r['reruns_per_s']:.2f} | {r['first_p50_s']:.2f} | {r['kb_per_move']:.0f} | {r['rss_peak_mb']:.0f} |")
    if len(names) == 2:
        a, b = names
        lines += ["", f"| clients | p50 {a}/{b} | p95 {a}/{b} |", "|---|---|---|"]
        for ra, rb in zip(results[a], results[b]):
            lines.append(f"| {ra['clients']} | {ra['p50_s'] / rb['p50_s']:.2f} | {ra['p95_s'] / rb['p95_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from bench.__main__ import RESULTS, machine

    ap = argparse.ArgumentParser(prog="python -m bench.served", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1,5,10,20")
    ap.add_argument("--moves", type=int, default=8, help="slider moves per client")
    ap.add_argument("--think", type=float, default=3.0, help="mean seconds between one client's moves")
    ap.add_argument("--baseline", type=Path, help="another checkout, served side by side")
    ap.add_argument("--app-work", action="store_true",
                    help="only the app's own work per new plan (backtest + map spec), each checkout in its own process")
    args = ap.parse_args()
    if args.app_work:
        roots = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
        for _ in range(2):  # alternately, so a shared machine's load falls on both
            for name, root in roots.items():
                print(name, json.dumps(app_work(root)), flush=True)
        return
    counts = [int(c) for c in args.clients.split(",") if c]
    roots = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    header = machine()
    print(f"Machine: {header}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    servers = {name: serve(root, RESULTS / f"served-{name}.log") for name, root in roots.items()}
    results: dict[str, list[dict]] = {name: [] for name in roots}
    try:
        for name, (proc, url) in servers.items():  # warm: imports, the built-in scenario's caches
            asyncio.run(drive(url, 1, 1, 0.0))
        for n in counts:
            for name, (proc, url) in servers.items():
                r = measure(url, proc.pid, n, args.moves, args.think)
                results[name].append(r)
                print(f"{name}: {n} clients: p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s, "
                      f"{r['reruns_per_s']:.2f} reruns/s, RSS peak {r['rss_peak_mb']:.0f} MB", flush=True)
    finally:
        for proc, _ in servers.values():
            stop(proc)
    md = render(header, results, args.think, args.moves)
    print("\n" + md)
    (RESULTS / "served.md").write_text(md)
    (RESULTS / "served.json").write_text(json.dumps(
        {"machine": header, "results": {k: [{kk: vv for kk, vv in r.items() if kk != "record"} for r in v]
                                        for k, v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
