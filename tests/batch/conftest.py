"""Shared fixtures for the batch pipeline tests (issue 15).

``ray_local``: ONE local Ray instance for the whole session (start-up costs ~15-20 s on 2 cores), shut down at
the end. Tests that use it are marked ``slow``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray runtime with 2 CPUs, no dashboard; yields the ``ray`` module."""
    import ray  # a requirement: a missing Ray fails these tests, it does not skip them
    import ray.data

    from latent_core.batch.session import worker_env

    started = not ray.is_initialized()
    if started:
        ray.init(
            runtime_env=worker_env(),  # as latent_core.batch.session starts Ray
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            ignore_reinit_error=True,
        )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield ray
    if started:
        ray.shutdown()
