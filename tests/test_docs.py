"""The README and docs/ hold to the code: a short README, links that lead somewhere, and commands
that run as written (nox sessions of the noxfile, modules that exist, options they accept)."""

import argparse
import ast
import functools
import importlib
import importlib.util
import re
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200  # a newcomer's first day; the rest lives in docs/

# Modules whose options are ours to check; `python -m pytest` and the like only need to exist.
OWN_PACKAGES = ("bench", "digitrec_core", "tests")
# bench.suite hands every option it does not know to each run, python -m bench.run.
PASSED_ON = {"bench.suite": ("bench.run",)}
# bench.checks.micro hands every option it does not know to pytest: only its own are checkable.
OPEN_ENDED = {"bench.checks.micro"}
# What `nox -s SESSION -- OPTIONS` hands its options to (sessions that hand them to pytest, or
# take none, are left out).
SESSION_COMMANDS = {
    "bench": "bench.suite",
    "overhead": "bench.suite",  # it runs nox -s bench with them
    "report": "bench.report",
    "compare": "bench.compare",
    "parity": "bench.parity",  # accepts the parity runs' options too
}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
NOX_SESSION = re.compile(r"\bnox -s\s+[\"']?([A-Za-z_][\w-]*)")
PYTHON_MODULE = re.compile(r"\bpython3? -m ([A-Za-z_][\w.]*)")
NOX_PASSTHROUGH = re.compile(r"\bnox -s\s+[\"']?([A-Za-z_][\w-]*)[^\s`]*\s+--\s")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
END_OF_COMMAND = re.compile(r"`|&&|\|\||;|\s#|\s\|")


def prose(text: str) -> str:
    """The text without its fenced code blocks (their brackets are code, not links)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown page, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def link_problems(page: Path, text: str) -> list[str]:
    """Relative links of `text` (written in `page`) whose file or heading does not exist."""
    problems = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            problems.append(f"{page.name}: link to {target!r}, but {path_part} does not exist")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text()):
            problems.append(f"{page.name}: link to {target!r}, but {path.name} has no such heading")
    return problems


@functools.cache
def nox_sessions() -> frozenset[str]:
    """The names of noxfile.py's @nox.session functions."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())

    def is_session(decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        return isinstance(target, ast.Attribute) and target.attr == "session"

    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any(map(is_session, node.decorator_list))
    )


class _ParserBuilt(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser


def _stop_at_parsing(parser, *args, **kwargs):
    raise _ParserBuilt(parser)


@functools.cache
def own_options(module: str) -> frozenset[str]:
    """The option strings the parser of `python -m module` accepts, read from the parser its
    main() builds (stopped before it parses anything, so nothing runs)."""
    spec = importlib.util.find_spec(module)
    entry = f"{module}.__main__" if spec.submodule_search_locations is not None else module
    with mock.patch.object(argparse.ArgumentParser, "parse_known_args", _stop_at_parsing):
        try:
            # A package's __main__ may run main() as it is imported: stopped all the same.
            importlib.import_module(entry).main([])
        except _ParserBuilt as built:
            return frozenset(built.parser._option_string_actions)
    raise AssertionError(f"python -m {module}: main() parsed no command line")


def accepted_options(module: str) -> frozenset[str]:
    """Options `python -m module` accepts, including those it hands on to another command."""
    found = own_options(module)
    for other in PASSED_ON.get(module, ()):
        found |= own_options(other)
    return found


def commands(text: str, pattern: re.Pattern) -> list[tuple[str, list[str]]]:
    """(name, options) of every command `pattern` finds: the options written after it on its
    line, up to the end of the command (a closing backtick, &&, ;, a pipe or a # comment)."""
    found = []
    for line in text.splitlines():
        for match in pattern.finditer(line):
            rest = END_OF_COMMAND.split(line[match.end() :], maxsplit=1)[0]
            found.append((match.group(1), OPTION.findall(rest)))
    return found


def module_problems(name: str, text: str) -> list[str]:
    """`python -m MODULE --option` lines of `text` that name no module or an unknown option."""
    problems = []
    for module, options in commands(text, PYTHON_MODULE):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            problems.append(f"{name}: python -m {module}: no such module")
            continue
        if module.split(".")[0] not in OWN_PACKAGES or not options:
            continue
        accepted = accepted_options(module)
        for option in options:
            if option not in accepted and module not in OPEN_ENDED:
                problems.append(f"{name}: python -m {module} does not accept {option}")
    return problems


def session_problems(name: str, text: str) -> list[str]:
    """`nox -s NAME` of `text` that names no session, or hands an option its command refuses."""
    problems = [
        f"{name}: nox -s {session}: noxfile.py has no such session"
        for session, _ in commands(text, NOX_SESSION)
        if session not in nox_sessions()
    ]
    for session, options in commands(text, NOX_PASSTHROUGH):
        module = SESSION_COMMANDS.get(session)
        if module is None:
            continue
        accepted = accepted_options(module)
        problems += [
            f"{name}: nox -s {session} -- {option}: python -m {module} does not accept it"
            for option in options
            if option not in accepted
        ]
    return problems


def length_problems(text: str) -> list[str]:
    """A README longer than a newcomer's first day allows."""
    lines = len(text.splitlines())
    if lines <= README_MAX_LINES:
        return []
    return [
        f"README.md has {lines} lines; keep it within {README_MAX_LINES} and move the rest "
        "to a page of docs/"
    ]


def test_readme_stays_short():
    assert length_problems(README.read_text()) == []


def test_there_are_docs_pages_to_check():
    assert len(PAGES) > 1 and all(page.exists() for page in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_to_a_file_and_heading(page):
    assert link_problems(page, page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_nox_session_written_exists_and_takes_its_options(page):
    assert session_problems(page.name, page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_module_written_exists_and_takes_its_options(page):
    assert module_problems(page.name, page.read_text()) == []


def test_the_checks_find_what_is_wrong(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A heading\n")
    text = (
        "Run `python -m bench.run --backend jax --no-such-option` or `python -m bench.nosuch`,\n"
        "`nox -s no_such_session`, `nox -s bench -- --backends jax --no-such-option`.\n"
        "[ok](there.md#a-heading), [gone](missing.md), [no heading](there.md#elsewhere),\n"
        "[web](https://keras.io/), and `nox -s report` with `python -m bench.report --out x`.\n"
    )
    assert module_problems("page.md", text) == [
        "page.md: python -m bench.run does not accept --no-such-option",
        "page.md: python -m bench.nosuch: no such module",
    ]
    assert session_problems("page.md", text) == [
        "page.md: nox -s no_such_session: noxfile.py has no such session",
        "page.md: nox -s bench -- --no-such-option: python -m bench.suite does not accept it",
    ]
    assert link_problems(page, text) == [
        "page.md: link to 'missing.md', but missing.md does not exist",
        "page.md: link to 'there.md#elsewhere', but there.md has no such heading",
    ]
    assert length_problems("line\n" * README_MAX_LINES) == []
    assert length_problems("line\n" * (README_MAX_LINES + 1)) != []


def test_a_suite_command_accepts_the_options_it_hands_to_each_run():
    assert {"--budget", "--epochs", "--workload"} <= accepted_options("bench.suite")
    assert "--budget" not in accepted_options("bench.run")


def test_slugs_follow_github():
    assert slug("Machines: fingerprint and host speed") == "machines-fingerprint-and-host-speed"
    assert slug("`python -m bench.parity`") == "python--m-benchparity"
