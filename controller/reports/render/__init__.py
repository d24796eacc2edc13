"""Renderers: one module per format, each with ``render(document, lang) -> bytes``."""
