"""Accuracy parity across backends: does each backend give the same accuracy?

- `runs`: one backend's parity runs (python -m bench.parity.runs), written to a work folder;
- `training`: same initial weights, same batch order, one loss path, for those runs;
- `stepping`: one training step from a given state (the `Stepper` protocol, and Keras');
- `trajectory`: the free-running lockstep epoch, step by step, and the trainer's saved states;
- `teacher`: the teacher-forced steps from those states, and the files they travel in;
- `localize`: the first layer that differs when every layer gets the same input;
- `step_compare`: the step verdict and the free-running diagnostic, from numbers alone;
- `checks`: the statistical TOST and predict-everywhere verdicts from numbers;
- `verdict`: the command that loads every backend's runs, refuses those that do not belong
  together, and decides (python -m bench.parity);
- `power`: how many seeds the statistical check needs, from a verdict's measured spread
  (python -m bench.parity.power);
- `tolerances`: a workload's tolerances proposed from a verdict's measurements;
- `options`: the options and folders the commands share.
"""
