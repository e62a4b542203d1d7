"""Compare the current results with a baseline results folder, group by group (no backend).

- `changes`: a metric's change and its verdict from the two sides' samples (REGRESSION,
  IMPROVEMENT, UNCHANGED, INCONCLUSIVE);
- `matching`: read both folders, pair groups of the same machine and host speed, compare them;
- `table`: the comparison as a table, a JSON record and a summary line;
- `__main__`: the command (python -m bench.compare BASELINE_DIR).
"""
