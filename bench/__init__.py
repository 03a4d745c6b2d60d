"""Benchmark scripts, run as ``python bench/<name>.py`` (never imported as a package).

This file only gives the scripts distinct module names for mypy (``bench.sheets`` rather than a
second top-level ``sheets``); the scripts import ``_common`` and ``_steady`` as top-level modules,
which mypy finds through ``mypy_path = "bench"``.
"""
