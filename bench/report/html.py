"""A self-contained HTML copy of the report: one file, its figures embedded, for sharing."""

import base64
import re
from pathlib import Path

import markdown

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""
IMAGE = re.compile(r'<img alt="([^"]*)" src="([^"]+\.png)"')


class MissingFigureError(FileNotFoundError):
    """The Markdown links a figure that is not on disk."""


def embed_images(html: str, base: Path) -> str:
    """Replace each PNG link (relative to `base`) by the image itself, as a data URI."""

    def inline(match: re.Match) -> str:
        path = base / match.group(2)
        if not path.is_file():
            raise MissingFigureError(f"the report links {path}, which does not exist")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img alt="{match.group(1)}" src="data:image/png;base64,{data}"'

    return IMAGE.sub(inline, html)


def to_html(text: str, base: Path, title: str = "digitrec benchmark report") -> str:
    """The Markdown report `text` as one HTML page; figures are read from under `base`."""
    body = markdown.markdown(text, extensions=["tables", "sane_lists", "toc"])
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{embed_images(body, base)}\n</body>\n</html>\n"
    )
