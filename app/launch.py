"""The one launcher of the app, used by ``make demo`` and by the browser tests.

``python -m app.launch [streamlit options]`` runs ``streamlit run app/main.py`` from the repository
root, after making sure ``.streamlit/config.toml`` is the committed symlink to ``streamlit_config.toml``
(Streamlit reads only ``.streamlit/config.toml`` in the working directory; on a file system without
symlinks the launcher copies the file instead). It also puts numba's compilation cache under the
project cache folder (``LATENT_CACHE_DIR``) so UMAP compiles once per machine, not once per process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
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


def app_environment() -> dict[str, str]:
    env = dict(os.environ)
    if "NUMBA_CACHE_DIR" not in env:
        folder = numba_cache_dir()
        if folder is not None:
            env["NUMBA_CACHE_DIR"] = folder
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def command(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), *extra]


HOSTED_OPTIONS = {  # Streamlit settings of the hosted mode (a visitor's link can never change these)
    "client.showErrorDetails": "none",  # no tracebacks or exception text in the browser; they go to the log
    "client.toolbarMode": "viewer",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
    "server.enableXsrfProtection": "true",
    "server.disconnectedSessionTTL": "30",  # a closed tab's session is dropped soon (its run stops at once)
}


def hosted_command(address: str, port: int, extra: list[str]) -> list[str]:
    """The Streamlit command line of ``--hosted``: binds ``address:port``, hides error details, caps uploads."""
    from app.safety import HOSTED_LIMITS

    options = {**HOSTED_OPTIONS, "server.address": address, "server.port": str(port),
               "server.maxUploadSize": str(HOSTED_LIMITS.max_upload_mb)}
    return command([*(f"--{name}={value}" for name, value in options.items()), *extra])


def main(argv: list[str] | None = None) -> int:
    """``python -m app.launch [streamlit options]`` (local), or ``--hosted [--address A] [--port P]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    ensure_config()
    env = app_environment()
    if "--hosted" in args:
        parser = argparse.ArgumentParser(prog="python -m app.launch --hosted")
        parser.add_argument("--hosted", action="store_true")
        parser.add_argument("--address", default=os.environ.get("LATENT_ADDRESS", "127.0.0.1"),
                            help="address to bind (0.0.0.0 to serve every interface; default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=int(os.environ.get("LATENT_PORT", "8501")))
        options, extra = parser.parse_known_args(args)
        env["LATENT_HOSTED"] = "1"
        return subprocess.call(hosted_command(options.address, options.port, extra), cwd=ROOT, env=env)
    return subprocess.call(command(args), cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
