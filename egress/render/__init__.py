"""Renderers: build the text of generated files (no file I/O; egress.adapters.files writes them)."""
