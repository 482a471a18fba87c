"""``python -m latent_core.batch <command>``: see :mod:`latent_core.batch.cli`."""

import sys

from latent_core.batch.cli import main

if __name__ == "__main__":
    sys.exit(main())
