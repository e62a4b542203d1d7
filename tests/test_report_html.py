"""The HTML copy of the report: untrusted strings stay text, links stay safe, the appendix folds,
and a real browser (headless Chromium) shows the page with every figure decoded."""

import base64
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from bench.report import build_report
from bench.report.html import EMBEDDED_PNG, MissingFigureError, to_html
from tests.report_fixtures import FRAMEWORKS, MACHINE, make_group, write_run

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
except ImportError:  # the browser tests skip without it, and fail in CI
    webdriver = None

HOSTILE_CPU = '<script>alert("cpu")</script>'
HOSTILE_VERSION = '<script>alert("v")</script>'
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHROME_ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800")
ACTIVE_TAGS = {"script", "iframe", "object", "embed"}
VOID_TAGS = {"br", "hr", "img", "input", "link", "meta"}
UNDECODED_IMAGES = """
return Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.alt || img.src.slice(0, 60));
"""
FIRST_TABLE_BOX = """
window.scrollTo(0, 0);
const box = document.querySelector("table").getBoundingClientRect();
return {top: box.top, bottom: box.bottom, viewport: window.innerHeight};
"""


class Page(HTMLParser):
    """A page's start tags (attributes decoded) and text, each with the tags it sits in."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[tuple[str, dict, tuple[str, ...]]] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), tuple(self.open)))
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data):
        self.texts.append((data, tuple(self.open)))

    def text(self) -> str:
        return "".join(data for data, _ in self.texts)

    def inside(self, text: str) -> tuple[str, ...]:
        """The tags around the first piece of text equal to `text`."""
        return next(tags for data, tags in self.texts if data.strip() == text)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs, _ in self.tags if name == tag]


def active_content(page: str) -> list[str]:
    """Whatever in `page` could run: script-like elements, on* handlers, javascript: URLs."""
    found = []
    for tag, attrs, _ in Page(page).tags:
        if tag in ACTIVE_TAGS:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...>")
            if re.sub(r"[\x00-\x20]", "", value or "").lower().startswith("javascript:"):
                found.append(f"<{tag} {name}={value!r}>")
    return found


def write_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.imsave(path, np.eye(8))
    return path


## The Markdown is untrusted


def test_raw_html_in_the_markdown_stays_text(tmp_path):
    markdown = (
        "<script>alert(1)</script>\n\n"
        "A figure <img src=x onerror=alert(1)> and <b onclick='alert(2)'>bold</b>\n\n"
        '<div onmouseover="alert(3)">a block</div>\n\n'
        "| CPU |\n|---|\n| <script>alert(4)</script> |\n"
    )
    page = to_html(markdown, tmp_path)
    assert active_content(page) == []
    text = Page(page).text()
    for fragment in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "alert(4)"):
        assert fragment in text


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](java&#115;cript:alert(1))",
        "[x](java&#9;script:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
        "[x][bad]\n\n[bad]: javascript:alert(1)",
        "<someone@example.com>",
    ],
)
def test_a_link_to_another_scheme_goes_nowhere(tmp_path, markdown):
    page = to_html(markdown, tmp_path)
    assert [link.get("href") for link in Page(page).all("a")] == ["#"]
    assert active_content(page) == []


def test_relative_anchor_and_web_links_are_kept(tmp_path):
    links = ["#verdict", "runs/box/run.json", "https://keras.io/", "http://example.com/a?b=c"]
    markdown = " ".join(f"[{i}]({link})" for i, link in enumerate(links))
    page = to_html(markdown + " <https://nox.thea.codes>", tmp_path)
    assert [link["href"] for link in Page(page).all("a")] == [*links, "https://nox.thea.codes"]


def test_figures_are_embedded_and_a_missing_one_is_an_error(tmp_path):
    png = write_png(tmp_path / "figures" / "steady.png")
    page = to_html("![Steady epochs](figures/steady.png)", tmp_path)
    (img,) = Page(page).all("img")
    assert img["alt"] == "Steady epochs" and img["src"].startswith(EMBEDDED_PNG)
    assert base64.b64decode(img["src"].removeprefix(EMBEDDED_PNG)) == png.read_bytes()
    with pytest.raises(MissingFigureError, match=r"gone\.png"):
        to_html("![Gone](figures/gone.png)", tmp_path)


@pytest.mark.parametrize(
    "src",
    [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "https://tracker.example/pixel.png",
        "../outside.png",
    ],
)
def test_an_image_from_elsewhere_loses_its_source(tmp_path, src):
    base = tmp_path / "results"
    write_png(tmp_path / "outside.png")
    (img,) = Page(to_html(f"![x]({src})", base)).all("img")
    assert "src" not in img


def test_an_embedded_png_is_kept(tmp_path):
    data = EMBEDDED_PNG + base64.b64encode(write_png(tmp_path / "a.png").read_bytes()).decode()
    (img,) = Page(to_html(f"![x]({data})", tmp_path)).all("img")
    assert img["src"] == data


## The appendix folds


def test_each_appendix_subsection_folds_into_closed_details(tmp_path):
    markdown = """# Report

## Verdict

### Machine `one`

verdict text

## Appendix: details

appendix intro

### Runs `two`

two text

#### deeper

deeper text

### Three

three text

[back](#runs-two)
"""
    page = Page(to_html(markdown, tmp_path))
    assert [details.get("id") for details in page.all("details")] == ["runs-two", "three"]
    assert not any("open" in details for details in page.all("details"))
    assert [h3["id"] for h3 in page.all("h3")] == ["machine-one"]
    assert page.inside("Runs")[-2:] == ("details", "summary")
    assert page.inside("two")[-3:] == ("details", "summary", "code")
    assert page.inside("Three")[-2:] == ("details", "summary")
    for text in ("two text", "deeper", "deeper text"):
        assert page.inside(text).count("details") == 1, text
    for text in ("verdict text", "appendix intro", "Appendix: details"):
        assert "details" not in page.inside(text), text


## Reports built from result files


def build_suite(results: Path, machine: dict, version_suffix: str = "") -> Path:
    """Three backends' repeat groups of one invocation as bench.suite writes them; the report's
    HTML copy built from them, figures drawn."""
    for offset, backend in enumerate(FRAMEWORKS):
        steady = [(1.0 + offset / 10) * factor for factor in (1.0, 1.02, 0.99)]
        group = make_group(
            backend,
            profile="default",
            steady_seconds=steady,
            created_utc=START + timedelta(minutes=offset),
            machine=machine,
        )
        for result in group:
            result["versions"]["framework_version"] += version_suffix
            write_run(results, result)
    return build_report(results, warn=lambda _: None, test_set=None).with_suffix(".html")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    return build_suite(tmp_path_factory.mktemp("results"), MACHINE)


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory) -> Path:
    machine = {**MACHINE, "cpu_model": HOSTILE_CPU}
    return build_suite(tmp_path_factory.mktemp("hostile"), machine, HOSTILE_VERSION)


def test_hostile_strings_in_result_files_stay_text(hostile_html):
    report = hostile_html.with_suffix(".md").read_text(encoding="utf-8")
    # In the Markdown too no tag can open: "<" is written as an entity (else this test tests
    # nothing: the strings must reach the report).
    assert "<script" not in report
    assert HOSTILE_CPU.replace("<", "&lt;") in report
    assert HOSTILE_VERSION.replace("<", "&lt;") in report
    page = hostile_html.read_text(encoding="utf-8")
    assert active_content(page) == []
    text = Page(page).text()
    assert HOSTILE_CPU in text and f"{FRAMEWORKS['jax']}{HOSTILE_VERSION}" in text


## In a real browser


def missing(what: str, install: str) -> None:
    """Skip without `what`, but fail in CI ($CI set): there the browser check must run."""
    message = f"{what} is not installed ({install})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run should have installed it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, that leaves an alert open for the tests to see."""
    if webdriver is None:
        missing("selenium", "pip install selenium, or pip install -e '.[test]'")
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        missing("chromium or chromedriver", "apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    options.unhandled_prompt_behavior = "ignore"
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    # Headless Chromium's window of 1280x800 leaves a smaller page: make the page itself the
    # 1280x800 a reader's window shows.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    yield driver
    driver.quit()


def open_page(browser, path: Path):
    browser.get(path.as_uri())
    return browser


def alert_text(browser) -> str | None:
    """The text of the alert the page opened (accepted, so the next page starts clean)."""
    try:
        alert = browser.switch_to.alert
    except NoAlertPresentException:
        return None
    text = alert.text
    alert.accept()
    return text


def test_the_report_renders(browser, report_html):
    page = open_page(browser, report_html)
    assert page.execute_script("return document.readyState") == "complete"
    assert page.execute_script("return document.body.innerText.trim().length") > 0
    assert page.execute_script("return document.getElementsByTagName('h1').length") >= 1


def test_every_figure_decodes(browser, report_html):
    page = open_page(browser, report_html)
    figures = report_html.with_suffix(".md").read_text(encoding="utf-8").count("![")
    assert figures > 0
    assert page.execute_script("return document.images.length") == figures
    assert page.execute_script(UNDECODED_IMAGES) == []


def test_the_figure_check_sees_a_corrupt_image(browser, tmp_path):
    write_png(tmp_path / "good.png")
    page = to_html("# Figures\n\n![good](good.png)", tmp_path)
    (tmp_path / "good.html").write_text(page, encoding="utf-8")
    corrupt = page.replace(EMBEDDED_PNG, EMBEDDED_PNG + "AAAA")  # 3 zero bytes before the PNG
    (tmp_path / "corrupt.html").write_text(corrupt, encoding="utf-8")
    assert open_page(browser, tmp_path / "good.html").execute_script(UNDECODED_IMAGES) == []
    corrupt_page = open_page(browser, tmp_path / "corrupt.html")
    assert corrupt_page.execute_script(UNDECODED_IMAGES) == ["good"]


def test_the_first_table_is_in_view_without_scrolling(browser, report_html):
    box = open_page(browser, report_html).execute_script(FIRST_TABLE_BOX)
    assert box["viewport"] == 800
    assert box["top"] >= 0 and box["bottom"] <= box["viewport"], box


def test_a_hostile_report_opens_no_alert(browser, hostile_html):
    page = open_page(browser, hostile_html)
    assert alert_text(page) is None
    assert page.execute_script("return document.scripts.length") == 0
    assert HOSTILE_CPU in page.execute_script("return document.body.innerText")


def test_the_alert_check_sees_an_alert(browser, tmp_path):
    path = tmp_path / "alert.html"
    path.write_text('<!DOCTYPE html><title>t</title><script>alert("x")</script>', "utf-8")
    assert alert_text(open_page(browser, path)) == "x"
