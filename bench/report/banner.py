"""The warnings a reader must see before the summary, one short line each, in a banner."""

from collections.abc import Sequence

from bench.report import headline
from bench.report.summary import Place


def by_machine(places: Sequence[Place], flagged) -> str:
    """ "M1 (mlp), M3 (convnet)": the places where `flagged(place)` holds."""
    return ", ".join(
        f"{headline.where(place.verdict)} {place.workload}" for place in places if flagged(place)
    )


def warnings(
    places: Sequence[Place],
    *,
    failures: int = 0,
    skipped: int = 0,
) -> list[str]:
    """Every warning of the report, grouped by kind so that 20 machines still fit a few lines."""
    found = []
    parity_failed = by_machine(places, lambda p: p.parity is not None and bool(p.parity.failed))
    if parity_failed:
        found.append(
            f"Accuracy parity FAILs on {parity_failed}: read its parity line before choosing."
        )
    moved = by_machine(places, lambda p: bool(p.verdict.unsteady_hosts))
    if moved:
        found.append(
            f"The host's speed moved during the runs on {moved}: margins paired by round keep "
            "their meaning, unpaired ones are suspect (see Roofline and host speed)."
        )
    unranked = by_machine(
        places,
        lambda p: any(t.problem == "hosts of different speed" for t in p.verdict.tasks.values()),
    )
    if unranked:
        found.append(
            f"Not ranked on {unranked}: its groups ran on hosts of different speed; run every "
            "backend in one `nox -s bench`."
        )
    flipped = by_machine(
        places,
        lambda p: any(
            info.changed_without_disturbed is not None and info.changed_without_disturbed.flipped
            for info in p.verdict.rounds
        ),
    )
    if flipped:
        found.append(
            f"On {flipped}, leaving out the rounds flagged disturbed would change a decided "
            "margin: rerun `nox -s bench` on a quieter machine."
        )
    slower = by_machine(places, lambda p: bool(p.verdict.flagged))
    if slower:
        found.append(
            f"A tuned profile is slower than its default for the documented job on {slower}, "
            "so it is never recommended for it (see Tuned profiles)."
        )
    if failures:
        found.append(
            f"{failures} run(s) failed and are missing from their verdicts (see Failed runs)."
        )
    if skipped:
        found.append(f"{skipped} file(s) could not be read and were left out (see Skipped files).")
    return found


def render(lines: Sequence[str]) -> str:
    """The banner as a Markdown quote; empty when there is nothing to warn about."""
    if not lines:
        return ""
    return "\n".join(["> **⚠ Read first**", ">", *(f"> - {line}" for line in lines)])
