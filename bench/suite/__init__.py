"""The suite: `python -m bench.suite` runs one backend as `nox -s bench` does.

- `__main__`: the command: host probes, the tuning search, the repeats, failure records
- `repeats`: fresh-process runs of `bench.run`, interleaved across profiles
- `tuning`: the search over the settings that decide speed, and its cache
- `child`: running one child process with a timeout, and what became of it
- `failures`: the record a failed run leaves for the report
"""
