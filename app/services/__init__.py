"""The app's service layer: one module per page (``spaces`` is the shared base the others build on) and
``policy``, the rules for anchors and splits. Services call ``latent_core``, own caching, take progress callbacks
and never draw: views draw what services return. See ``docs/architecture.md``.
"""
