"""The one launcher of the app, used by ``make demo`` and by the browser tests.

``python -m app.launch [streamlit options]`` runs ``streamlit run app/main.py`` from the repository
root, after making sure ``.streamlit/config.toml`` is the committed symlink to ``streamlit_config.toml``
(Streamlit reads only ``.streamlit/config.toml`` in the working directory; on a file system without
symlinks the launcher copies the file instead). It also puts numba's compilation cache under the
project cache folder (``LATENT_CACHE_DIR``) so UMAP compiles once per machine, not once per process.
"""

from __future__ import annotations

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


def app_environment() -> dict[str, str]:
    from latent_core.config import cache_subdir

    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(cache_subdir("numba")))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def command(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), *extra]


def main(argv: list[str] | None = None) -> int:
    ensure_config()
    return subprocess.call(command(list(sys.argv[1:] if argv is None else argv)), cwd=ROOT, env=app_environment())


if __name__ == "__main__":
    raise SystemExit(main())
