"""Copy a results folder's machines under new machine ids: a fleet to time the report on.

    python -m benchmarks.fleet SOURCE_RESULTS OUT_RESULTS --machines 20

Each new machine is a copy of one source machine (in turn), its id `<source>-copy<k>` written
into every record, so the report sees `--machines` distinct machines of realistic content.
"""

import argparse
import json
import sys
from pathlib import Path

FOLDERS = ("runs", "probes", "parity", "schedules", "selfcheck", "tuning", "failures")


def renamed(value, old: str, new: str):
    """`value` with every string equal to, or holding, machine id `old` rewritten to `new`."""
    if isinstance(value, dict):
        return {key: renamed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed(item, old, new) for item in value]
    if isinstance(value, str) and old in value:
        return value.replace(old, new)
    return value


def make_fleet(source: Path, out: Path, machines: int) -> list[str]:
    """Write `machines` copies of `source`'s machines into `out`; return the new ids."""
    found = sorted(path.name for path in (source / "runs").iterdir() if path.is_dir())
    if not found:
        raise SystemExit(f"error: no machine folders under {source / 'runs'}")
    ids = []
    for index in range(machines):
        old = found[index % len(found)]
        new = f"{old}-copy{index}"
        ids.append(new)
        for folder in FOLDERS:
            for path in sorted((source / folder / old).glob("*.json")):
                target = out / folder / new / path.name.replace(old, new)
                target.parent.mkdir(parents=True, exist_ok=True)
                record = json.loads(path.read_text(encoding="utf-8"))
                target.write_text(json.dumps(renamed(record, old, new)), encoding="utf-8")
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__)
    parser.add_argument("source", type=Path, help="a results folder (with runs/)")
    parser.add_argument("out", type=Path, help="the folder to write the fleet into")
    parser.add_argument("--machines", type=int, default=20, help="machines to make (20)")
    args = parser.parse_args(argv)
    ids = make_fleet(args.source, args.out, args.machines)
    print(f"{len(ids)} machines written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
