"""A module nothing imports, for tests/unit/test_lazy_imports.py to load lazily."""

MARKER = object()
