"""The app on a read-only cache folder (a read-only bind mount in a private mount namespace): it still draws,
and says once, without a server path, that results stay in memory (issue 10)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, require
from tests.core.test_cache_faults import _unshare_works

CHILD = textwrap.dedent("""
    import json, sys, warnings
    sys.path.insert(0, {root!r})
    import tests.conftest  # the torchvision work-around, as in pytest
    import tests.app.fakes  # noqa: F401
    from tests.app.helpers import app
    at = app({{"a": "fake:text-a", "b": "fake:text-b", "n": "60", "k": "10"}}, timeout=120).run()
    print(json.dumps({{"exception": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error],
                       "warnings": [w.value for w in at.sidebar.warning], "charts": len(at.get("plotly_chart"))}}))
""")


def test_read_only_cache_keeps_the_app_working_with_one_warning(tmp_path):
    require(_unshare_works(), "`unshare -m` (private mount namespace) is not permitted here")
    cache = tmp_path / "cache"
    (cache / "embeddings").mkdir(parents=True)
    code = CHILD.format(root=str(ROOT))
    folder = shlex.quote(str(cache))
    shell = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec "
             f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}")
    env = {**os.environ, "LATENT_CACHE_DIR": str(cache), "LATENT_BUNDLED_DIR": ""}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["exception"] and not result["errors"], result
    assert result["charts"] >= 5
    cache_notes = [w for w in result["warnings"] if "cannot write its cache" in w]
    assert len(cache_notes) == 1 and str(cache) not in cache_notes[0]
    assert not any(p.name != "embeddings" for p in cache.iterdir()), "nothing was written"
