"""A self-contained HTML copy of the report: one file, its figures embedded, for sharing.

The Markdown carries strings from result files written on other machines (CPU model, framework
versions, ...), so it is read as untrusted text: raw HTML in it stays text, a link goes only to
a relative path, an anchor or http(s), and an image is only an embedded PNG or a relative path.
"""

import base64
import html
import re
from pathlib import Path
from xml.etree import ElementTree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2em; }
details { margin: 0.6em 0; }
summary { cursor: pointer; font-weight: bold; font-size: 1.1em; }
blockquote { background: #fff6dc; border-left: 4px solid #e0a000; margin: 1em 0;
             padding: 0.2em 1em; }
blockquote ul { margin: 0.3em 0; padding-left: 1.2em; }
"""
EMBEDDED_PNG = "data:image/png;base64,"
LINK_SCHEMES = {"http", "https"}
SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
# Browsers drop tabs and newlines anywhere in a URL and blanks around it: "java\tscript:" runs.
BLANKS = re.compile(r"[\x00-\x20\x7f]")
# After the toc extension (5), which gives the headings their ids; before unescape (0).
PRIORITY = 4


class MissingFigureError(FileNotFoundError):
    """The Markdown links a figure that is not on disk."""


def url_scheme(url: str) -> str | None:
    """The scheme a browser reads in the attribute value `url`, lower case; None if relative."""
    decoded = html.unescape(url.replace(AMP_SUBSTITUTE, "&"))  # the serializer keeps entities
    match = SCHEME.match(BLANKS.sub("", decoded).lower())
    return match.group(1) if match else None


def png_data_uri(src: str, base: Path) -> str | None:
    """The PNG at relative path `src` under `base` as a data URI; None if it lies outside `base`."""
    path = base / src
    if not path.resolve().is_relative_to(base.resolve()):
        return None
    if not path.is_file():
        raise MissingFigureError(f"the report links {path}, which does not exist")
    return EMBEDDED_PNG + base64.b64encode(path.read_bytes()).decode("ascii")


def safe_image_src(src: str, base: Path) -> str | None:
    """What an image's `src` becomes: a relative PNG embedded, an embedded PNG kept, else None.

    Remote images are refused too: a self-contained page should not call anywhere.
    """
    scheme = url_scheme(src)
    if scheme is None:
        return png_data_uri(src, base) if src.lower().endswith(".png") else src
    if scheme == "data" and BLANKS.sub("", html.unescape(src)).lower().startswith(EMBEDDED_PNG):
        return src
    return None


class SafeLinks(Treeprocessor):
    """Embed the figures and neutralise every link or image that leaves the allowed schemes."""

    def __init__(self, md: markdown.Markdown, base: Path):
        super().__init__(md)
        self.base = base

    def run(self, root: ElementTree.Element) -> None:
        for link in root.iter("a"):
            if url_scheme(link.get("href", "")) not in {None, *LINK_SCHEMES}:
                link.set("href", "#")
        for image in root.iter("img"):
            src = safe_image_src(image.get("src", ""), self.base)
            if src is None:
                image.attrib.pop("src", None)
            else:
                image.set("src", src)


def heading_text(element: ElementTree.Element) -> str:
    """The text of a heading, inline markup (code, emphasis) included."""
    return "".join(element.itertext()).strip()


def folded(heading: ElementTree.Element) -> ElementTree.Element:
    """A closed <details> whose <summary> holds `heading`'s content; it takes the heading's id."""
    details = ElementTree.Element("details")
    if "id" in heading.attrib:
        details.set("id", heading.get("id"))
    details.text = details.tail = "\n"
    summary = ElementTree.SubElement(details, "summary")
    summary.text, summary.tail = heading.text, "\n"
    summary.extend(heading)
    return details


class FoldAppendix(Treeprocessor):
    """Fold each ### section under a "## Appendix..." heading into its own <details>."""

    def run(self, root: ElementTree.Element) -> None:
        blocks, in_appendix, section = [], False, None
        for block in root:
            if block.tag in {"h1", "h2"}:
                in_appendix = block.tag == "h2" and heading_text(block).startswith("Appendix")
                section = None
            elif in_appendix and block.tag == "h3":
                section = folded(block)
                blocks.append(section)
                continue
            if section is None:
                blocks.append(block)
            else:
                section.append(block)
        root[:] = blocks


class UntrustedReport(Extension):
    """Read the report's Markdown as untrusted: no raw HTML, safe links, embedded figures."""

    def __init__(self, base: Path):
        super().__init__()
        self.base = base

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(SafeLinks(md, self.base), "digitrec_safe_links", PRIORITY)
        md.treeprocessors.register(FoldAppendix(md), "digitrec_fold_appendix", PRIORITY - 1)


def to_html(text: str, base: Path, title: str = "digitrec benchmark report") -> str:
    """The Markdown report `text` as one HTML page; figures are read from under `base`."""
    body = markdown.markdown(
        text, extensions=["tables", "sane_lists", "toc", UntrustedReport(Path(base))]
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )
