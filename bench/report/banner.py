"""The warnings a reader must see before the summary, one short line each, in a banner."""

from collections.abc import Sequence

from bench.report.summary import Place


def by_machine(places: Sequence[Place], flagged) -> str:
    """ "mlp on M1–M3, M7 (CPU); convnet on M2 (CPU)": the places where `flagged(place)` holds."""
    found: dict[tuple[str, str], list[str]] = {}
    for place in places:
        if flagged(place):
            key = (place.workload, place.verdict.device.upper())
            found.setdefault(key, []).append(place.verdict.alias or place.verdict.machine)
    return "; ".join(
        f"{workload} on {ranges(aliases)} ({device})"
        for (workload, device), aliases in found.items()
    )


def ranges(aliases: list[str]) -> str:
    """ "M1–M4, M7": runs of consecutive aliases written as a range."""
    numbered = sorted(int(a[1:]) for a in aliases if a[:1] == "M" and a[1:].isdigit())
    others = sorted(a for a in aliases if not (a[:1] == "M" and a[1:].isdigit()))
    spans: list[list[int]] = []
    for number in numbered:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    written = [f"M{a}" if a == b else f"M{a}–M{b}" for a, b in spans]
    return ", ".join(written + others)


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
            f"Accuracy parity FAILs for {parity_failed}: read its parity line before choosing."
        )
    differs = by_machine(places, lambda p: p.native_differs)
    if differs:
        found.append(
            f"Keras and the framework's own code differ beyond rounding after one step on "
            f"{differs}: a finding about Keras (or the native code); see its Keras overhead table."
        )
    moved = by_machine(places, lambda p: bool(p.verdict.unsteady_hosts))
    if moved:
        found.append(
            f"The host's speed moved during the runs of {moved}: margins paired by round keep "
            "their meaning, unpaired ones are suspect (see Roofline and host speed)."
        )
    unranked = by_machine(
        places,
        lambda p: any(t.problem == "hosts of different speed" for t in p.verdict.tasks.values()),
    )
    if unranked:
        found.append(
            f"Not ranked, the groups ran on hosts of different speed: {unranked}; run every "
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
            f"Leaving out the rounds flagged disturbed would change a decided margin of {flipped}: "
            "rerun `nox -s bench` on a quieter machine."
        )
    slower = by_machine(places, lambda p: bool(p.verdict.flagged))
    if slower:
        found.append(
            f"A tuned profile is slower than its default for the documented job in {slower}, "
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
