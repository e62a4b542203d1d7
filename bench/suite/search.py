"""The tuned profile's settings for one invocation: each backend's cached search, or a new one.

Every backend and device whose cached search no longer applies is searched in one set of
rounds (`bench.suite.tuning` has the rule and the cache).
"""

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.host.drift import typical_rate
from bench.suite import search_cache, tuning
from bench.suite.pythons import installed_versions
from bench.suite.rounds import Cell, Launched

if TYPE_CHECKING:
    from bench.suite.invocation import Suite


def tuned_settings(
    suite: "Suite", places: list[tuple[str, str]], tmp: Path
) -> dict[tuple[str, str], dict[str, Any]]:
    """The search record behind each (backend, device)'s tuned profile: cached or searched."""
    from digitrec_core.config import LOWER_PRECISION_PROFILES

    proposals = suite.args.lower_precision == "proposed" and any(
        profile in LOWER_PRECISION_PROFILES for profile in suite.args.profiles
    )
    if "tuned" not in suite.args.profiles and not proposals:
        return {}
    host = typical_rate(suite.start_rates)
    found, keys, to_search = {}, {}, []
    for backend, device in places:
        versions = installed_versions(suite.pythons[(backend, device)], backend)
        key = search_cache.search_key(
            backend, device, suite.passthrough, versions, suite.machine["fingerprint"]["isa"]
        )
        keys[(backend, device)] = key
        path = search_cache.cache_path(suite.results_dir, key, suite.passthrough)
        cached = search_cache.read_cache(path, key, host, suite.args.retune, suite.log)
        if cached is None:
            to_search.append((backend, device))
        else:
            found[(backend, device)] = cached
            suite.searches[f"{backend}/{device}"] = search_summary(cached, reused=True)
    if to_search:
        searched, rates = search(suite, to_search, tmp)
        # The host's speed while it searched: the median of every probe until the search ended.
        host_then = typical_rate([*suite.start_rates, *rates])
        for place, record in searched.items():
            path = search_cache.cache_path(suite.results_dir, keys[place], suite.passthrough)
            found[place] = search_cache.write_cache(path, record, keys[place], host_then)
            suite.searches[f"{place[0]}/{place[1]}"] = search_summary(found[place], False)
    return found


def search(
    suite: "Suite", targets: list[tuple[str, str]], tmp: Path
) -> tuple[dict[tuple, dict[str, Any]], list[float]]:
    """Search the settings of every target in one set of rounds; its records and probe rates."""
    design = tuning.SEARCH_DESIGN
    candidates = tuning.candidates_of(targets, suite.machine["fingerprint"]["isa"])
    by_cell = {candidate.cell: candidate for candidate in candidates}
    where = ", ".join(f"{backend}/{device}" for backend, device in targets)
    suite.log(
        f"tuning search: {len(candidates)} candidates of {where}, {design.min_rounds} to "
        f"{design.max_rounds} rounds on {tuning.SEARCH_TRAIN_SAMPLES:,} images each"
    )

    def launch(cell: Cell, index: int, position: int) -> Launched:
        out = tmp / f"trial-{uuid.uuid4().hex[:8]}.json"
        options = tuning.trial_options(by_cell[cell], suite.args.seed + index, out)
        name = f"search-r{index + 1:02d}-{cell.backend}-{cell.device}-c{by_cell[cell].index}.log"
        launched = suite.launcher.launch(cell, index, options, name)
        if not launched.outcome.ok:
            return launched
        steady, why = tuning.trial_steady(launched.result)
        summary = f"steady epoch {steady:.3f} s" if steady else f"not counted: {why}"
        return Launched(launched.outcome, launched.result, summary)

    rounds = suite.in_rounds(
        list(by_cell),
        design,
        launch,
        tuning.open_candidates(candidates, design.confidence),
        "search-",
        "tuned",
        needed=tuning.needed_cells(candidates, design.confidence),
    )
    judged = tuning.judge(candidates, rounds, design.confidence)
    records = {}
    for place, record in judged.items():
        if all("error" in entry for entry in record["candidates"]):
            suite.log(f"{place[0]}/{place[1]}: every tuning candidate failed; no tuned runs")
            continue
        records[place] = tuning.search_record(record, rounds)
        suite.log(f"{place[0]}/{place[1]}: {search_summary(records[place], False)['text']}")
    rates = [r.probe_gflops for r in rounds.rounds if r.probe_gflops]
    return records, rates


def search_summary(record: dict[str, Any], reused: bool) -> dict[str, Any]:
    """What one backend's search decided, for the schedule record and the console."""
    outcome = record.get("outcome")
    chosen = record.get("chosen") or {}
    if outcome == tuning.CHOSE:
        text = (
            f"the search chose {tuning.settings_text(chosen)}, "
            f"{record.get('speedup_vs_default', 0):.2f}× faster than the defaults in its rounds"
        )
    elif outcome == tuning.NONE_FASTER:
        text = "the search showed no candidate faster than the defaults: tuned = default settings"
    elif outcome == tuning.UNDECIDED:
        text = (
            "the search could not tell whether any candidate beats the defaults "
            f"({len(record.get('undecided') or [])} undecided), so it keeps them: tuned = "
            "default settings"
        )
    else:
        text = f"the search ended without a verdict ({outcome})"
    proposed = record.get("proposed") or []
    if proposed:
        text += f"; it proposes {' and '.join(proposed)} (faster on its subset), to be judged on "
        text += "full data by the accuracy it keeps"
    return {
        "reused": reused,
        "searched_utc": record.get("searched_utc"),
        "outcome": outcome,
        "chosen": chosen,
        "proposed": proposed,
        "text": text + (" (cached search)" if reused else ""),
    }
