"""Compile the benchmark result files into results/report.md with PNG figures beside it.

Reads only result files (through `digitrec_core.results`) and never imports a Keras backend.
"""

from bench.analysis.collect import NoResultsError
from bench.report.build import build_report

__all__ = ["NoResultsError", "build_report"]
