"""Batch pipeline (issue 15): move a vector store to a new embedding model on Ray Data + embedded LanceDB.

Modules: :mod:`.store` (LanceDB tables and search), :mod:`.translator_io` / :mod:`.anchors_io` (safe
safetensors + JSON files), :mod:`.session` (Ray start-up), :mod:`.pipeline` (translate / project a table),
:mod:`.cli` (``python -m latent_core.batch <command>``). Ray and LanceDB are imported only where used.
"""
