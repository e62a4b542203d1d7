"""Accuracy parity across backends: does each backend give the same accuracy?

- `runs`: one backend's parity runs (python -m bench.parity.runs), written to a work folder;
- `training`: same initial weights, same batch order, one loss path, for those runs;
- `checks`: the three checks as verdicts from numbers (statistical TOST, lockstep, predict
  everywhere);
- `verdict`: the command that loads every backend's runs, refuses those that do not belong
  together, and decides (python -m bench.parity);
- `power`: how many seeds the statistical check needs, from a verdict's measured spread
  (python -m bench.parity.power);
- `options`: the options and folders the commands share.
"""
