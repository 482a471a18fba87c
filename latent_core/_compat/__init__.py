"""Work-arounds for broken third-party installs. Nothing here runs on ``import latent_core``."""
