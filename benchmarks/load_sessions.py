"""Classroom load on loopback: real Streamlit websocket sessions against ``python -m app.launch``.

No browser: each "student" is a minimal Streamlit websocket client (the protocol the frontend speaks) that
asks for a script run and decodes the ForwardMsgs, so what is measured is the server's work and nothing
else (FACTS.md section 7: on 2 cores, Playwright pages mostly measure WebGL drawing).

Per session it records the time from opening the websocket to the first delta carrying a ``plotly_chart``
element ("first chart"), to the run's ``script_finished``, and every error element (an ``alert`` with format
ERROR, or an ``exception`` that is not a warning).

Scenarios (every server listens on 127.0.0.1 only and is stopped afterwards, process group and all):
  warm        default scenario (no query string: MiniLM vs MPNet on 2225 BBC articles, bundled embeddings,
              PCA). One session warms the server, one alone is the baseline, then N at once. Server RSS
              (process tree, VmRSS) with the sessions still connected gives the memory per extra session.
  cold        a fresh server and an EMPTY cache folder (LATENT_BUNDLED_DIR="" so nothing bundled is used),
              query ``n=300``: one session alone, then N at once on another fresh server and empty cache.
              The server's stderr says how many times each encoder was loaded and each dataset embedded.
  disconnect  fresh server, empty cache, a run that encodes for a while (``n=1500``): the websocket is closed
              while encoder B is embedding; checks that the encoding stops (no new ``.npy`` in the cache
              folder, the server's CPU time stops growing).

Usage:
  python benchmarks/load_sessions.py [--warm N] [--cold N] [--no-disconnect] [--json out.json]

The functions are reused by ``tests/app/test_load.py`` (functional assertions only, no timings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path(os.environ.get("LATENT_CACHE_DIR") or ROOT / ".cache" / "latent")
SHARED_NUMBA = ROOT / ".cache" / "latent" / "numba"
LOOPBACK = "127.0.0.1"  # never any other address
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOAD_RE = re.compile(r"loading encoder (\S+)")
EMBED_RE = re.compile(r"embedding (\S+) with (\S+)")


# --------------------------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _proc_tree(root_pid: int) -> list[int]:
    """``root_pid`` and its live descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)


class AppServer:
    """``python -m app.launch`` on a free loopback port, in its own process group; a context manager.

    ``cache_dir`` becomes LATENT_CACHE_DIR; ``bundled_dir`` LATENT_BUNDLED_DIR (None: the app's default,
    ``""``: no bundled embeddings). stdout and stderr go to ``log_path`` (the app logs model loads there).
    """

    def __init__(self, cache_dir: Path | str = DEFAULT_CACHE, *, bundled_dir: str | None = None,
                 log_path: Path | None = None, extra_env: dict[str, str] | None = None):
        self.cache_dir = Path(cache_dir)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.ws_url = f"ws://{LOOPBACK}:{self.port}/_stcore/stream"
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="load-server-", suffix=".log")[1])
        env = dict(os.environ)
        env["LATENT_CACHE_DIR"] = str(self.cache_dir)
        env["TOKENIZERS_PARALLELISM"] = "false"
        env.setdefault("NUMBA_CACHE_DIR", str(SHARED_NUMBA))  # numba compiles once per machine, not per test
        if bundled_dir is None:
            env.pop("LATENT_BUNDLED_DIR", None)
        else:
            env["LATENT_BUNDLED_DIR"] = bundled_dir
        env.update(extra_env or {})
        self.env = env
        self.process: subprocess.Popen | None = None
        self.startup_s: float | None = None

    def start(self, timeout: float = 180.0) -> AppServer:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        start = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.launch", f"--server.port={self.port}", f"--server.address={LOOPBACK}",
             "--server.headless=true", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        try:
            while not self._healthy():
                if self.process.poll() is not None:
                    raise RuntimeError(f"the app exited ({self.process.returncode}):\n{self.log()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app was not healthy after {timeout:.0f} s:\n{self.log()[-3000:]}")
                time.sleep(0.3)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - start
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._own_log:  # a temporary log (no log_path given): read it before leaving the ``with``
            self.log_path.unlink(missing_ok=True)

    # --- measurements
    def pids(self) -> list[int]:
        return _proc_tree(self.process.pid) if self.process else []

    def rss_mb(self) -> float:
        """Resident memory of the launcher and the Streamlit server (VmRSS summed over the process tree)."""
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids()) / 1024

    def peak_rss_mb(self) -> float:
        """High-water mark (VmHWM) of the largest process in the tree: the Streamlit server."""
        return max((_status_kb(pid, "VmHWM") for pid in self.pids()), default=0) / 1024

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids())

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def counts(self) -> dict[str, dict[str, int]]:
        """How many times the server logged ``loading encoder <spec>`` and ``embedding <data> with <spec>``."""
        text = self.log()
        return {"loads": dict(Counter(LOAD_RE.findall(text))),
                "embeddings": dict(Counter(f"{data} with {spec}" for data, spec in EMBED_RE.findall(text)))}


# --------------------------------------------------------------------------------------------- the client


@dataclass
class SessionResult:
    index: int
    query: str
    connect_s: float | None = None  # websocket open
    new_session_s: float | None = None  # the server started the run
    first_chart_s: float | None = None  # first delta with a plotly_chart element
    finished_s: float | None = None  # script_finished (FINISHED_SUCCESSFULLY) of the run
    charts: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: str = "pending"  # finished | timeout | disconnected | closed-by-server | failed: ...
    messages: int = 0
    bytes: int = 0
    elements: dict[str, int] = field(default_factory=dict)
    unresolved_refs: int = 0
    progress: list[tuple[float, str]] = field(default_factory=list)  # (seconds, progress-bar text), first 200
    left_at_s: float | None = None  # when this client closed its websocket mid-run (disconnect check)


def _protos():
    # Imported lazily: the protobuf classes come with Streamlit (no need to import streamlit itself).
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    return Alert, BackMsg, ForwardMsg


def rerun_message(query: str, url: str) -> bytes:
    """The BackMsg the frontend sends after connecting: rerun the script with this ClientState."""
    _, BackMsg, _ = _protos()
    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = query.lstrip("?")
    state.page_script_hash = ""  # the app's default page (st.navigation)
    state.page_name = ""
    state.widget_states.SetInParent()
    state.context_info.timezone = "UTC"
    state.context_info.timezone_offset = 0
    state.context_info.locale = "en-US"
    state.context_info.url = url + ("?" + query.lstrip("?") if query.strip("?") else "")
    return msg.SerializeToString()


def _record_element(result: SessionResult, element, elapsed: float, alert_error: int) -> None:
    kind = element.WhichOneof("type")
    result.elements[kind] = result.elements.get(kind, 0) + 1
    if kind == "plotly_chart":
        result.charts += 1
        if result.first_chart_s is None:
            result.first_chart_s = elapsed
    elif kind == "alert":
        if element.alert.format == alert_error:
            result.errors.append(element.alert.body[:300])
        elif element.alert.format == 2:  # WARNING
            result.warnings.append(element.alert.body[:300])
    elif kind == "exception":
        text = f"{element.exception.type}: {element.exception.message}"[:300]
        (result.warnings if element.exception.is_warning else result.errors).append(text)
    elif kind == "progress" and len(result.progress) < 200:
        result.progress.append((round(elapsed, 3), element.progress.text))


async def run_session(ws_url: str, query: str = "", *, index: int = 0, timeout: float = 300.0,
                      ready: asyncio.Future | None = None, hold: asyncio.Event | None = None,
                      disconnect_on: str | None = None, disconnect_after: float = 3.0,
                      compression: str | None = "deflate") -> SessionResult:
    """One student: open the websocket, ask for a run, decode ForwardMsgs until the run finishes.

    ``ready`` gets the result when the run has finished (or failed); the websocket then stays open until
    ``hold`` is set (so the server still holds the session while its memory is measured).
    ``disconnect_on``: close the websocket ``disconnect_after`` seconds after the first progress-bar text
    containing this string (or after ``disconnect_after`` seconds if it is ``""``), as a student who leaves.
    ``compression``: "deflate" (permessage-deflate, what browsers negotiate) or None.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    Alert, _, ForwardMsg = _protos()
    result = SessionResult(index=index, query=query)
    http_url = ws_url.replace("ws://", "http://").rsplit("/_stcore/", 1)[0] + "/"
    cache: dict[str, bytes] = {}  # the browser's ForwardMsg cache: hash -> message (for ref_hash messages)
    start = time.perf_counter()
    deadline = start + timeout
    leave_at = start + disconnect_after if disconnect_on == "" else None
    try:
        async with connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=min(timeout, 120),
                           close_timeout=5, compression=compression) as ws:
            result.connect_s = time.perf_counter() - start
            await ws.send(rerun_message(query, http_url))
            while True:
                now = time.perf_counter()
                until = min(deadline, leave_at) if leave_at else deadline
                if now >= until:
                    if leave_at and now >= leave_at:
                        result.status, result.left_at_s = "disconnected", now - start
                    else:
                        result.status = "timeout"
                    break
                try:
                    raw = await asyncio.wait_for(ws.recv(), until - now)
                except asyncio.TimeoutError:
                    continue
                elapsed = time.perf_counter() - start
                result.messages += 1
                result.bytes += len(raw)
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "ref_hash":  # only sent for hashes the client reported; resolved like the browser
                    if msg.ref_hash not in cache:
                        result.unresolved_refs += 1
                        continue
                    msg.ParseFromString(cache[msg.ref_hash])  # ParseFromString replaces the reference
                    kind = msg.WhichOneof("type")
                elif msg.metadata.cacheable and msg.hash:
                    cache[msg.hash] = raw
                if kind == "new_session" and result.new_session_s is None:
                    result.new_session_s = elapsed
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    _record_element(result, element, elapsed, Alert.ERROR)
                    if (disconnect_on and leave_at is None and element.WhichOneof("type") == "progress"
                            and disconnect_on in element.progress.text):
                        leave_at = time.perf_counter() + disconnect_after
                elif kind == "script_finished":
                    if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                        result.finished_s = elapsed
                        result.status = "finished"
                        break
                    if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                        result.errors.append("script_finished: compile error")
                        result.status = "finished"
                        break
                    # FINISHED_EARLY_FOR_RERUN / fragment runs: the app goes on; keep reading
            if ready is not None and not ready.done():
                ready.set_result(result)
            if hold is not None and result.status == "finished":
                await hold.wait()
    except ConnectionClosed:
        result.status = "closed-by-server"
    except (OSError, asyncio.TimeoutError) as exc:
        result.status = f"failed: {type(exc).__name__}: {exc}"[:300]
    if ready is not None and not ready.done():
        ready.set_result(result)
    return result


async def _run_many(ws_url: str, queries: list[str], timeout: float, total_timeout: float,
                    while_open: Callable[[], object] | None, compression: str | None = "deflate",
                    ) -> tuple[list[SessionResult], object]:
    loop = asyncio.get_running_loop()
    hold = asyncio.Event()
    readies = [loop.create_future() for _ in queries]
    tasks = [asyncio.create_task(run_session(ws_url, q, index=i, timeout=timeout, ready=readies[i], hold=hold,
                                             compression=compression))
             for i, q in enumerate(queries)]
    measured = None
    try:
        done, _pending = await asyncio.wait(readies, timeout=total_timeout)
        if while_open is not None:
            measured = while_open()
    finally:
        hold.set()
    results = []
    finished, pending = await asyncio.wait(tasks, timeout=30)
    for i, task in enumerate(tasks):
        if task in finished and task.exception() is None:
            results.append(task.result())
        else:
            task.cancel()
            partial = readies[i].result() if readies[i].done() else SessionResult(index=i, query=queries[i])
            if partial.status == "pending":
                partial.status = "timeout (total)"
            results.append(partial)
    return results, measured


def run_sessions(ws_url: str, n: int, query: str = "", *, timeout: float = 300.0, total_timeout: float = 600.0,
                 while_open: Callable[[], object] | None = None,
                 compression: str | None = "deflate") -> tuple[list[SessionResult], object]:
    """``n`` concurrent sessions (each its own websocket and Streamlit session), all asking for ``query``.

    When every run has finished (or ``total_timeout`` passed), ``while_open()`` is called with the websockets
    still open (e.g. to read the server's memory), then they are closed. Returns (results, while_open's value).
    """
    return asyncio.run(_run_many(ws_url, [query] * n, timeout, total_timeout, while_open, compression))


# --------------------------------------------------------------------------------------------- scenarios


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)  # linear interpolation (numpy's default)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(results: list[SessionResult]) -> dict:
    charts = [r.first_chart_s for r in results if r.first_chart_s is not None]
    finished = [r.finished_s for r in results if r.finished_s is not None]
    return {
        "sessions": len(results),
        "with_chart": len(charts),
        "finished": len(finished),
        "errors": sum(len(r.errors) for r in results),
        "error_texts": sorted({e for r in results for e in r.errors})[:10],
        "statuses": dict(Counter(r.status for r in results)),
        "first_chart_p50": _quantile(charts, 0.5),
        "first_chart_p95": _quantile(charts, 0.95),
        "first_chart_max": max(charts) if charts else None,
        "finished_p50": _quantile(finished, 0.5),
        "finished_max": max(finished) if finished else None,
        "mb_received_per_session": statistics.mean(r.bytes for r in results) / 1e6 if results else None,
    }


def warm_scenario(n: int = 30, *, cache_dir: Path | str = DEFAULT_CACHE, query: str = "",
                  timeout: float = 300.0, total_timeout: float = 600.0, log_path: Path | None = None) -> dict:
    """Warm-up session, one warm session alone (baseline), then ``n`` at once, on one server."""
    with AppServer(cache_dir, log_path=log_path) as server:
        rss_idle = server.rss_mb()
        (warmup,), _ = run_sessions(server.ws_url, 1, query, timeout=timeout, total_timeout=total_timeout)
        (single,), rss_1 = run_sessions(server.ws_url, 1, query, timeout=timeout, total_timeout=total_timeout,
                                        while_open=server.rss_mb)
        cpu_before, client_cpu_before = server.cpu_seconds(), time.process_time()
        wall = time.perf_counter()
        many, rss_n = run_sessions(server.ws_url, n, query, timeout=timeout, total_timeout=total_timeout,
                                   while_open=server.rss_mb)
        wall = time.perf_counter() - wall
        server_cpu = server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        time.sleep(2)
        rss_after_close = server.rss_mb()
        peak = server.peak_rss_mb()
        counts = server.counts()
    summary = summarise(many)
    base = single.first_chart_s
    return {
        "query": query,
        "n": n,
        "server_startup_s": server.startup_s,
        "warmup": asdict(warmup),
        "single": asdict(single),
        "many": [asdict(r) for r in many],
        "summary": summary,
        "single_first_chart_s": base,
        "single_finished_s": single.finished_s,
        "ratio_p95_to_single": (summary["first_chart_p95"] / base) if base and summary["first_chart_p95"] else None,
        "rss_mb": {"idle": rss_idle, "one_session": rss_1, "n_sessions": rss_n, "after_close": rss_after_close,
                   "peak": peak},
        "mb_per_extra_session": (rss_n - rss_1) / (n - 1) if n > 1 and rss_n is not None else None,
        "n_run": {"wall_s": wall, "server_cpu_s": server_cpu, "client_cpu_s": client_cpu},
        "counts": counts,
        "errors": summary["errors"] + len(single.errors) + len(warmup.errors),
    }


def cold_run(n: int, query: str, *, timeout: float = 300.0, total_timeout: float = 600.0,
             log_path: Path | None = None, keep_cache: Path | None = None) -> dict:
    """``n`` sessions at once on a fresh server with an empty cache folder and no bundled embeddings."""
    with tempfile.TemporaryDirectory(prefix="load-cold-") as tmp:
        cache = Path(tmp) / "cache"
        with AppServer(cache, bundled_dir="", log_path=log_path) as server:
            cpu0 = server.cpu_seconds()
            wall = time.perf_counter()
            results, _ = run_sessions(server.ws_url, n, query, timeout=timeout, total_timeout=total_timeout)
            wall = time.perf_counter() - wall
            cpu = server.cpu_seconds() - cpu0
            counts = server.counts()
            peak = server.peak_rss_mb()
            npy = sorted(p.name for p in (cache / "embeddings").glob("*.npy"))
            log_tail = server.log()[-4000:]
        if keep_cache is not None:
            shutil.copytree(cache, keep_cache, dirs_exist_ok=True)
    return {"n": n, "query": query, "server_startup_s": server.startup_s, "results": [asdict(r) for r in results],
            "summary": summarise(results), "counts": counts, "embeddings_written": npy, "wall_s": wall,
            "server_cpu_s": cpu, "peak_rss_mb": peak, "log_tail": log_tail}


def cold_scenario(n: int = 8, query: str = "n=300", *, timeout: float = 300.0, total_timeout: float = 600.0) -> dict:
    """One cold session alone, then ``n`` cold sessions at once (each on its own fresh server, empty cache)."""
    single = cold_run(1, query, timeout=timeout, total_timeout=total_timeout)
    many = cold_run(n, query, timeout=timeout, total_timeout=total_timeout)
    base = single["results"][0]["first_chart_s"]
    worst = many["summary"]["first_chart_max"]
    return {"query": query, "n": n, "single": single, "many": many, "single_first_chart_s": base,
            "many_first_chart_s": [r["first_chart_s"] for r in many["results"]],
            "ratio_max_to_single": worst / base if base and worst else None}


def disconnect_check(query: str = "n=1500", *, leave_on: str = "Encoder B: embedded", leave_after: float = 3.0,
                     observe: float = 25.0, settle: float | None = None, timeout: float = 240.0,
                     log_path: Path | None = None) -> dict:
    """A student leaves while encoder B is embedding: does the server stop the encoding?

    Fresh server, empty cache, no bundled embeddings. The websocket closes ``leave_after`` s after the first
    progress text containing ``leave_on``. Then for ``observe`` s: ``.npy`` files in the cache's embeddings
    folder and the server's CPU time (utime+stime) each second. "stopped" means no new ``.npy`` appeared
    after the close and the server used under 0.25 cores over the last 5 s. With ``settle``, observation ends
    early once at least ``settle`` s have passed and the last 5 s were idle (tests); otherwise it lasts
    ``observe`` s (long enough for the rest of the encoding to have written its file).
    """
    with tempfile.TemporaryDirectory(prefix="load-disconnect-") as tmp:
        cache = Path(tmp) / "cache"
        folder = cache / "embeddings"
        with AppServer(cache, bundled_dir="", log_path=log_path) as server:
            result = asyncio.run(run_session(server.ws_url, query, timeout=timeout, disconnect_on=leave_on,
                                             disconnect_after=leave_after))
            closed_at = time.perf_counter()
            npy_at_close = sorted(p.name for p in folder.glob("*.npy"))
            samples = []  # (seconds since close, server CPU seconds, npy count)
            while True:
                elapsed = time.perf_counter() - closed_at
                samples.append((round(elapsed, 2), round(server.cpu_seconds(), 2), len(list(folder.glob("*.npy")))))
                if elapsed >= observe:
                    break
                if settle is not None and elapsed >= settle:
                    recent = [s for s in samples if s[0] >= elapsed - 5.0]
                    if recent[-1][0] - recent[0][0] >= 4.0 and \
                            (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0]) < 0.1:
                        break
                time.sleep(1.0)
            npy_after = sorted(p.name for p in folder.glob("*.npy"))
            log_text = server.log()
    tail = [s for s in samples if s[0] >= samples[-1][0] - 5.0]
    cores_last_5s = (tail[-1][1] - tail[0][1]) / max(tail[-1][0] - tail[0][0], 1e-6)
    cores_first_2s = next(((s[1] - samples[0][1]) / s[0] for s in samples if s[0] >= 2.0), None)
    # during the run: a rough CPU rate before the close cannot be read back here; the first seconds after the
    # close show the batch in flight finishing
    busy = [s[0] for prev, s in zip(samples, samples[1:]) if (s[1] - prev[1]) / max(s[0] - prev[0], 1e-6) >= 0.25]
    stop_latency = busy[-1] if busy else 0.0  # the encoding batch in flight when the client left
    new_files = [name for name in npy_after if name not in npy_at_close]
    left = result.status == "disconnected"
    stopped = left and not new_files and cores_last_5s < 0.25
    return {"query": query, "left": left, "session": asdict(result), "npy_at_close": npy_at_close,
            "npy_new_after_close": new_files, "cpu_samples": samples, "cores_last_5s": cores_last_5s,
            "cores_first_2s": cores_first_2s, "busy_until_s": stop_latency, "stopped": stopped,
            "log_after": [line for line in log_text.splitlines()
                          if "latent_space_explorer" in line or "Error" in line or "Traceback" in line][-20:]}


# --------------------------------------------------------------------------------------------- report


def _f(value, digits: int = 2, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def report(results: dict) -> str:
    lines = ["# Classroom load on loopback (real Streamlit websocket sessions)", ""]
    warm = results.get("warm")
    if warm:
        s = warm["summary"]
        ratio = warm["ratio_p95_to_single"]
        mem = warm["mb_per_extra_session"]
        lines += [f"## Warm: default scenario, {warm['n']} concurrent sessions", "",
                  "| measure | value | goal |", "|---|---|---|",
                  f"| first chart, warm-up session (loads models) | {_f(warm['warmup']['first_chart_s'])} s | |",
                  f"| first chart, one warm session alone | {_f(warm['single_first_chart_s'])} s | |",
                  f"| script finished, one warm session alone | {_f(warm['single_finished_s'])} s | |",
                  f"| first chart p50 / p95 / max of {warm['n']} | {_f(s['first_chart_p50'])} / "
                  f"{_f(s['first_chart_p95'])} / {_f(s['first_chart_max'])} s | |",
                  f"| script finished p50 / max of {warm['n']} | {_f(s['finished_p50'])} / {_f(s['finished_max'])} s"
                  " | |",
                  f"| p95 / single | {_f(ratio)}x | <= 3x {'ok' if ratio and ratio <= 3 else 'MISSED'} |",
                  f"| sessions with a chart | {s['with_chart']} / {s['sessions']} | all |",
                  f"| error elements | {warm['errors']} | 0 {'ok' if warm['errors'] == 0 else 'MISSED'} |",
                  f"| server RSS idle / 1 session / {warm['n']} sessions / after close / peak | "
                  f"{_f(warm['rss_mb']['idle'], 0)} / {_f(warm['rss_mb']['one_session'], 0)} / "
                  f"{_f(warm['rss_mb']['n_sessions'], 0)} / {_f(warm['rss_mb']['after_close'], 0)} / "
                  f"{_f(warm['rss_mb']['peak'], 0)} MB | |",
                  f"| memory per extra session | {_f(mem, 1)} MB | <= 50 MB "
                  f"{'ok' if mem is not None and mem <= 50 else 'MISSED'} |",
                  f"| {warm['n']} sessions: wall / server CPU / client CPU | {_f(warm['n_run']['wall_s'], 1)} / "
                  f"{_f(warm['n_run']['server_cpu_s'], 1)} / {_f(warm['n_run']['client_cpu_s'], 1)} s | |",
                  f"| received per session | {_f(s['mb_received_per_session'], 2)} MB | |", ""]
    cold = results.get("cold")
    if cold:
        many = cold["many"]
        ratio = cold["ratio_max_to_single"]
        times = ", ".join(_f(t, 1) for t in cold["many_first_chart_s"])
        lines += [f"## Cold: empty cache, no bundled embeddings, query `{cold['query']}`", "",
                  "| measure | value | goal |", "|---|---|---|",
                  f"| first chart, one cold session alone | {_f(cold['single_first_chart_s'])} s | |",
                  f"| first chart of each of {cold['n']} cold sessions | {times} s | |",
                  f"| max / single | {_f(ratio)}x | <= 2x {'ok' if ratio and ratio <= 2 else 'MISSED'} |",
                  f"| errors (single / {cold['n']}) | {cold['single']['summary']['errors']} / "
                  f"{many['summary']['errors']} | 0 |",
                  f"| encoder loads, single | {cold['single']['counts']['loads']} | each 1 |",
                  f"| encoder loads, {cold['n']} at once | {many['counts']['loads']} | each 1 |",
                  f"| embeddings computed, {cold['n']} at once | {many['counts']['embeddings']} | each 1 |",
                  f"| server CPU single / {cold['n']} at once | {_f(cold['single']['server_cpu_s'], 1)} / "
                  f"{_f(many['server_cpu_s'], 1)} s | |", ""]
    gone = results.get("disconnect")
    if gone:
        lines += [f"## Disconnect during encoding (query `{gone['query']}`)", "",
                  "| measure | value |", "|---|---|",
                  f"| websocket closed mid-run | {gone['left']} (at {_f(gone['session'].get('left_at_s'), 1)} s) |",
                  f"| new .npy after the close | {gone['npy_new_after_close'] or 'none'} |",
                  f"| server cores used, first 2 s / last 5 s after close | {_f(gone['cores_first_2s'])} / "
                  f"{_f(gone['cores_last_5s'])} |",
                  f"| server CPU busy until (after close) | {_f(gone['busy_until_s'], 1)} s |",
                  f"| run stopped | **{gone['stopped']}** |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=30, help="concurrent warm sessions (0: skip)")
    parser.add_argument("--cold", type=int, default=8, help="concurrent cold sessions (0: skip)")
    parser.add_argument("--cold-query", default="n=300")
    parser.add_argument("--disconnect-query", default="n=1500")
    parser.add_argument("--no-disconnect", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0, help="per session, seconds")
    parser.add_argument("--total-timeout", type=float, default=600.0, help="per group of sessions, seconds")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args(argv)

    results: dict = {}
    if args.warm:
        print(f"warm: {args.warm} sessions…", file=sys.stderr, flush=True)
        results["warm"] = warm_scenario(args.warm, timeout=args.timeout, total_timeout=args.total_timeout)
    if args.cold:
        print(f"cold: 1 then {args.cold} sessions…", file=sys.stderr, flush=True)
        results["cold"] = cold_scenario(args.cold, args.cold_query, timeout=args.timeout,
                                        total_timeout=args.total_timeout)
    if not args.no_disconnect:
        print("disconnect check…", file=sys.stderr, flush=True)
        results["disconnect"] = disconnect_check(args.disconnect_query)
    text = report(results)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"report": text, **results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
