"""The one launcher of the app, used by ``make demo`` and by the browser tests.

``python -m app.launch [streamlit options]`` runs ``streamlit run app/main.py`` from the repository
root, after making sure ``.streamlit/config.toml`` is the committed symlink to ``streamlit_config.toml``
(Streamlit reads only ``.streamlit/config.toml`` in the working directory; on a file system without
symlinks the launcher copies the file instead). It also puts numba's compilation cache under the
project cache folder (``LATENT_CACHE_DIR``) so UMAP compiles once per machine, not once per process.

Streamlit runs in this process (as ``python -m streamlit run`` would), and a background thread imports what the
first page needs (torch, plotly, the app's modules: about 2 s on 2 cores) as soon as the server is up, while the
browser is still loading the page: the first visitor's script then finds them imported (``preload``).

``--lance-db DIR`` (both modes) sets ``LATENT_LANCE_DB``: the folder of batch outputs the Upload page offers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "streamlit_config.toml"
LINK = ROOT / ".streamlit" / "config.toml"


def ensure_config() -> Path:
    """Make ``.streamlit/config.toml`` resolve to ``streamlit_config.toml``; returns the link path."""
    LINK.parent.mkdir(exist_ok=True)
    if LINK.is_symlink() and LINK.resolve() == CONFIG.resolve():
        return LINK
    if LINK.exists() or LINK.is_symlink():
        LINK.unlink()
    try:
        LINK.symlink_to(os.path.relpath(CONFIG, LINK.parent))
    except OSError:
        shutil.copyfile(CONFIG, LINK)
    return LINK


def numba_cache_dir() -> str | None:
    """numba's compilation cache folder: ``<cache_root>/numba``; never raises.

    An unwritable cache root falls back to a per-process temporary folder (``latent_core.config.cache_subdir``
    warns once). If no folder can be made at all, prints a warning and returns ``None``: ``NUMBA_CACHE_DIR``
    then stays unset and numba uses its own default (UMAP compiles again in every process).
    """
    from latent_core.config import cache_subdir

    try:
        folder = cache_subdir("numba")
        if os.access(folder, os.W_OK | os.X_OK):
            return str(folder)
        problem = "it is not writable"
    except OSError as exc:  # cache_subdir does not raise; kept so a launcher never dies on a cache folder
        problem = exc.strerror or str(exc)
    print(f"Warning: no writable folder for numba's compilation cache ({problem}); NUMBA_CACHE_DIR is left unset, "
          f"so UMAP compiles again in every process. Set LATENT_CACHE_DIR to a writable folder.", file=sys.stderr)
    return None


def compute_threads() -> int:
    """Threads of torch's and BLAS's pools in the app's process (``OMP_NUM_THREADS``, unless set): every core but
    one, at least one, as for the maps' layouts (``latent_core.maps``). The browser, and on a server the other
    visitors' sessions, need a core: with both cores of a 2-core machine in the pools, the default page's views
    took 0.5 s instead of 0.2 s while the browser drew the page (the pools' threads wait for each other).
    Encoding, a long batch job, takes every core (``app.services.spaces.embeddings``)."""
    from latent_core.config import available_cpus

    return max(1, available_cpus() - 1)


def app_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(compute_threads()))
    if "NUMBA_CACHE_DIR" not in env:
        folder = numba_cache_dir()
        if folder is not None:
            env["NUMBA_CACHE_DIR"] = folder
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


MAIN = ROOT / "app" / "main.py"
# What the default page imports, in the order the script imports it (the pages in app/views are scripts: not these;
# streamlit.emojis is what set_page_config imports to check the page icon)
PRELOAD = ("plotly.graph_objects", "streamlit.emojis", "latent_core.encoders", "app.backpressure", "app.safety",
           "app.state", "app.components.sidebar", "app.services.spaces", "app.components.projection",
           "app.components.feedback", "app.components.progress", "app.services.alignment", "app.uploads")


def command(extra: list[str]) -> list[str]:
    """The equivalent command line of ``python -m app.launch extra`` (it runs in the launcher's own process)."""
    return [sys.executable, "-m", "streamlit", "run", str(MAIN), *extra]


def _first_figure() -> None:
    """Build and serialise one tiny map panel: plotly imports its trace validators and encoders on first use
    (0.2 s)."""
    import numpy as np
    import plotly.io
    import plotly.tools

    from app.components.projection import scatter_panel
    from latent_core.data import Dataset

    data = Dataset(name="preload", ids=["a", "b", "c"], items=["a", "b", "c"], labels=[0, 1, 0],
                   label_names=["x", "y"], modality="text")
    figure = scatter_panel(np.eye(3, 2), data, "preload", anchors=np.array([0]), selected=np.zeros(3, dtype=bool))
    plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True), validate=False)


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import ``modules``, then build one tiny figure; returns what failed (logged: the page reports its own
    errors).

    Computing the default scenario's views and maps here as well was tried: it made the first chart no sooner
    (the extra second of work holds the GIL while the server answers the browser's first requests).
    """
    failed = []
    steps = [*((m, lambda m=m: importlib.import_module(m)) for m in modules), ("figure", _first_figure)]
    log, start = logging.getLogger("latent_space_explorer"), time.perf_counter()
    for name, step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - a warm-up must never stop the server
            log.warning("preloading %s failed", name, exc_info=True)
            failed.append(name)
    log.info("preloaded the default page's modules in %.1f s%s", time.perf_counter() - start,
             f" (failed: {', '.join(failed)})" if failed else "")
    return failed


def _preload_when_serving(timeout_s: float = 60.0) -> None:
    """``preload`` once Streamlit's runtime exists (its caches then bind to it, without warnings)."""
    from streamlit import runtime

    deadline = time.monotonic() + timeout_s
    while not runtime.exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    preload()


def serve(extra: list[str], env: dict[str, str]) -> int:
    """Run ``streamlit run app/main.py extra`` in this process, with ``env`` and the preload thread."""
    os.environ.update(env)
    os.chdir(ROOT)
    threading.Thread(target=_preload_when_serving, name="preload", daemon=True).start()
    from streamlit.web import cli

    try:
        cli.main(args=command(extra)[3:], prog_name="streamlit")
    except SystemExit as done:  # click ends every command this way
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


HOSTED_OPTIONS = {  # Streamlit settings of the hosted mode (a visitor's link can never change these)
    "client.showErrorDetails": "none",  # no tracebacks or exception text in the browser; they go to the log
    "client.toolbarMode": "viewer",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
    "server.enableXsrfProtection": "true",
    "server.disconnectedSessionTTL": "30",  # a closed tab's session is dropped soon (its run stops at once)
}


def hosted_options(address: str, port: int, extra: list[str]) -> list[str]:
    """The Streamlit options of ``--hosted``: binds ``address:port``, hides error details, caps uploads."""
    from app.safety import HOSTED_LIMITS

    options = {**HOSTED_OPTIONS, "server.address": address, "server.port": str(port),
               "server.maxUploadSize": str(HOSTED_LIMITS.max_upload_mb)}
    return [*(f"--{name}={value}" for name, value in options.items()), *extra]


def take_lance_db(args: list[str], env: dict[str, str]) -> list[str]:
    """``args`` without ``--lance-db DIR``; sets ``env["LATENT_LANCE_DB"]`` to DIR's absolute path (the folder of
    LanceDB tables visitors may sample on the Upload page: they pick table names from its listing, never a path).

    Raises:
        SystemExit: DIR is not a folder.
    """
    parser = argparse.ArgumentParser(prog="python -m app.launch", add_help=False, allow_abbrev=False)
    parser.add_argument("--lance-db", metavar="DIR",
                        help="a folder of LanceDB tables (python -m latent_core.batch outputs) to offer for sampling")
    options, rest = parser.parse_known_args(args)
    if options.lance_db is not None:
        folder = Path(options.lance_db).expanduser().resolve()
        if not folder.is_dir():
            parser.error(f"--lance-db {options.lance_db}: not a folder")
        env["LATENT_LANCE_DB"] = str(folder)
    return rest


def main(argv: list[str] | None = None) -> int:
    """``python -m app.launch [--lance-db DIR] [streamlit options]`` (local), or ``--hosted [--address A]
    [--port P]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    ensure_config()
    env = app_environment()
    args = take_lance_db(args, env)
    if "--hosted" in args:
        parser = argparse.ArgumentParser(prog="python -m app.launch --hosted")
        parser.add_argument("--hosted", action="store_true")
        parser.add_argument("--address", default=os.environ.get("LATENT_ADDRESS", "127.0.0.1"),
                            help="address to bind (0.0.0.0 to serve every interface; default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=int(os.environ.get("LATENT_PORT", "8501")))
        options, extra = parser.parse_known_args(args)
        env["LATENT_HOSTED"] = "1"
        return serve(hosted_options(options.address, options.port, extra), env)
    return serve(args, env)


if __name__ == "__main__":
    raise SystemExit(main())
