"""A small SVG writer: rectangles, text, lines and curves with arrowheads, tooltips.

Pure Python and deterministic (coordinates are rounded, elements kept in drawing order), so the
same model always gives the same file; no Graphviz binary or system package is needed.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

_NARROW = set("il.,:;|!'()[]{}/\\ fjtrI")
_WIDE = set("mwMW@%")


def text_width(text: str, size: float = 11) -> float:
    """Approximate rendered width of `text` in a sans-serif font of `size` px."""
    units = 0.0
    for ch in text:
        # Widths of DejaVu Sans / Helvetica, rounded up a little so text stays inside its box.
        if ch in _NARROW:
            units += 0.36
        elif ch in _WIDE:
            units += 0.95
        elif ch.isupper():
            units += 0.72
        elif ch.isdigit():
            units += 0.64
        else:
            units += 0.61
    return units * size


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


class Svg:
    """Collects elements; :meth:`render` returns the document."""

    def __init__(self) -> None:
        self.elements: list[str] = []

    @staticmethod
    def _title(title: str | None) -> str:
        return f"<title>{escape(title)}</title>" if title else ""

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "none", stroke: str = "#000",
             rx: float = 0, dash: str | None = None, title: str | None = None) -> None:
        attrs = f'x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{_n(rx)}" fill="{fill}" stroke="{stroke}"'
        if dash:
            attrs += f' stroke-dasharray="{dash}"'
        title_xml = self._title(title)
        self.elements.append(f"<rect {attrs}>{title_xml}</rect>" if title_xml else f"<rect {attrs}/>")

    def text(self, x: float, y: float, text: str, size: float = 11, weight: str | None = None,
             fill: str = "#212121", anchor: str | None = None) -> None:
        attrs = f'x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" fill="{fill}"'
        if weight:
            attrs += f' font-weight="{weight}"'
        if anchor:
            attrs += f' text-anchor="{anchor}"'
        self.elements.append(f"<text {attrs}>{escape(text)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#000", arrow: bool = False,
             title: str | None = None) -> None:
        marker = ' marker-end="url(#arrow)"' if arrow else ""
        self.elements.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"{marker}>'
            f"{self._title(title)}</line>")

    def curve(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#000", opacity: float = 0.6,
              title: str | None = None) -> None:
        """A cubic curve leaving and arriving horizontally, with an arrowhead at the end."""
        bend = max(40.0, abs(x2 - x1) / 2)
        c1 = x1 + bend if x2 >= x1 else x1 - bend
        c2 = x2 - bend if x2 >= x1 else x2 + bend
        d = f"M{_n(x1)},{_n(y1)} C{_n(c1)},{_n(y1)} {_n(c2)},{_n(y2)} {_n(x2)},{_n(y2)}"
        self.elements.append(
            f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.4" stroke-opacity="{_n(opacity)}" '
            f'marker-end="url(#arrow)">{self._title(title)}</path>')

    def render(self, width: float, height: float) -> str:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family={quoteattr("Helvetica, Arial, sans-serif")}>\n'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker></defs>\n'
            f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>\n'
        )
        return head + "\n".join(self.elements) + "\n</svg>\n"
