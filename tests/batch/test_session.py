"""Ray start-up (``latent_core.batch.session``): the workers it starts get the malloc arena cap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from latent_core.batch.session import MALLOC_ARENAS, worker_env


def test_worker_env_caps_malloc_arenas_unless_the_user_set_it(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert worker_env() == {"env_vars": {"MALLOC_ARENA_MAX": MALLOC_ARENAS}} and MALLOC_ARENAS == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "16")
    assert worker_env() == {"env_vars": {"MALLOC_ARENA_MAX": "16"}}


@pytest.mark.slow
def test_workers_started_by_ray_session_see_the_cap():
    """In a fresh process (this one may hold the suite's Ray): a task and an actor of a ray_session report
    MALLOC_ARENA_MAX = 2, while the driver's own environment has no such variable."""
    code = (
        "import os\n"
        "os.environ.pop('MALLOC_ARENA_MAX', None)\n"
        "from latent_core.batch.session import ray_session\n"
        "with ray_session(num_cpus=1) as ray:\n"
        "    task = ray.remote(lambda: os.environ.get('MALLOC_ARENA_MAX'))\n"
        "    @ray.remote\n"
        "    class A:\n"
        "        def get(self):\n"
        "            return os.environ.get('MALLOC_ARENA_MAX')\n"
        "    seen = ray.get(task.remote()), ray.get(A.remote().get.remote())\n"
        "    print('seen', *seen, os.environ.get('MALLOC_ARENA_MAX'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "seen 2 2 None" in done.stdout
