"""latent_core: relative representations and latent space translation between encoders.

Importing the package has no side effects: it loads no model library and patches nothing.
Submodules: ``encoders``, ``data``, ``embed``, ``cache``, ``device``, ``config``, ``errors``.
"""

from __future__ import annotations

__version__ = "0.1.0"
