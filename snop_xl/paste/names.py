"""Name matching: what a pasted label names, case- and spacing-insensitively.

- `Names`: the families and items of the book's Items sheet; a label that differs from one only by case or spacing
  names it, and an unknown one gets the closest names suggested;
- measures: units / revenue and their synonyms (qty, volume, sales, net sales ...), alone or inside a label
  ("Garden units", "Revenue: Garden");
- header synonyms (FAMILY_HEADERS, ITEM_HEADERS, ...) that say what a column holds, as ERPs and finance name them;
- total and subtotal headings (Total, Grand total, Garden total, Q1 2027, H1, FY27) and how much each sums.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from snop_xl.io.parse import is_blank
from snop_xl.paste.cells import norm_text

#: the two measures a paste gives per family (or item) and month
UNITS, REVENUE = "units", "revenue"
MEASURES = (UNITS, REVENUE)

_UNIT_WORDS = {"units", "unit", "qty", "quantity", "quantities", "volume", "volumes", "vol", "pcs", "pieces", "ea",
               "eaches"}
_REVENUE_WORDS = {"revenue", "revenues", "rev", "sales", "turnover", "amount", "value", "net sales", "gross sales",
                  "sales value", "income"}
#: header synonyms (as `norm_words` gives them): what a column holds, by the names ERPs and finance use
FAMILY_HEADERS = {"family", "families", "product family", "product group", "category", "group", "segment",
                  "product line", "family name"}
ITEM_HEADERS = {"item", "items", "sku", "item code", "product", "product code", "article", "material", "part"}
MEASURE_HEADERS = {"measure", "measures", "metric", "kpi", "type", "account", "line", "data", "key figure"}
VALUE_HEADERS = {"value", "amount", "budget", "number", "figure"}
IGNORED_HEADERS = {"description", "desc", "comment", "comments", "note", "notes", "remark", "remarks", "source",
                   "uom", "unit of measure", "currency", "owner"}
_TOTAL_WORDS = {"total", "totals", "subtotal", "sub-total", "grand", "sum", "fy", "year", "ytd", "full year"}


def header_words(value: Any) -> str:
    """A header as single-spaced plain words, how header synonyms are matched: "Lead Time (days)" -> "lead time
    days", "Regular Cost/h" -> "regular cost h", "Sold-To Party" -> "sold to party"."""
    return " ".join(norm_words(value).replace("-", " ").split())


def norm_words(value: Any) -> str:
    """A label as plain words for matching headers and measures: `norm_text` with punctuation (but $ € £ ¥ and -)
    and underscores turned to spaces ("Product_Family:" -> "product family")."""
    return re.sub(r"[^\w\s$€£¥-]+", " ", norm_text(value)).replace("_", " ").strip()


@dataclass
class Names:
    """Families and items of the book's Items sheet, looked up case- and space-insensitively."""

    families: dict[str, str]  # normalised -> as in Items
    items: dict[str, tuple[str, str]]  # normalised -> (item, family)
    family_order: list[str]

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> Names:
        families: dict[str, str] = {}
        codes: dict[str, tuple[str, str]] = {}
        column = lambda key: items[key].tolist() if key in items else []  # noqa: E731 (lists: quick to walk)
        for item, family in zip(column("item"), column("family")):
            if is_blank(item) or is_blank(family):
                continue
            families.setdefault(norm_text(family), str(family).strip())
            codes.setdefault(norm_text(item), (str(item).strip(), str(family).strip()))
        return cls(families, codes, list(dict.fromkeys(families.values())))

    def resolve(self, text: Any) -> tuple[str, str | None] | None:
        """(family, item or None) a label names, or None."""
        key = norm_text(text)
        if key in self.families:
            return self.families[key], None
        if key in self.items:
            item, family = self.items[key]
            return family, item
        return None

    def item_of(self, text: Any) -> tuple[str, str] | None:
        """(item, family) a cell names: as `resolve`, and an ERP's material number with leading zeros
        (000000000000100234) or a number cell (100234.0) naming item 100234."""
        if isinstance(text, float) and text.is_integer():
            text = int(text)
        key = norm_text(text)
        found = self.items.get(key)
        if found is None and key.isdigit():
            found = self._unpadded().get(key.lstrip("0"))
        return found

    def _unpadded(self) -> dict[str, tuple[str, str]]:
        if not hasattr(self, "_digits"):
            self._digits = {k.lstrip("0"): v for k, v in self.items.items() if k.isdigit()}
        return self._digits

    def suggest_item(self, text: Any) -> str:
        """What an unknown item should have been: an item of Items, the closest codes named."""
        by_norm = {k: v[0] for k, v in self.items.items()}
        close = difflib.get_close_matches(norm_text(text), list(by_norm), n=3, cutoff=0.6)
        hint = f" (closest: {', '.join(repr(by_norm[c]) for c in close)})" if close else ""
        return f"an item from the Items sheet{hint}"

    def suggest(self, text: Any) -> str:
        known = list(self.families.values()) + [i for i, _ in self.items.values()]
        by_norm = {norm_text(k): k for k in known}
        close = difflib.get_close_matches(norm_text(text), list(by_norm), n=3, cutoff=0.6)
        hint = f" (closest: {', '.join(repr(by_norm[c]) for c in close)})" if close else ""
        return f"a family or item from the Items sheet{hint}"


def measure_of(value: Any) -> str | None:
    """units / revenue from a measure label and its synonyms (qty, volume, sales, net sales, amount ...)."""
    words = norm_words(value)
    tokens = set(words.split())
    if tokens & _UNIT_WORDS or words in _UNIT_WORDS:
        return UNITS
    if tokens & _REVENUE_WORDS or words in _REVENUE_WORDS or tokens & {"$", "€", "£", "usd", "eur", "gbp"}:
        return REVENUE
    return None


def split_measure(value: Any) -> tuple[str, str | None]:
    """("garden", "units") from labels like "Garden units", "Garden - Revenue ($)", "Units: Garden"."""
    text = norm_words(value)
    # longest first; phrases of one length in a fixed order (a set's order changes with PYTHONHASHSEED, and
    # "Units Garden sales" must read the same in every run)
    phrases = sorted(_UNIT_WORDS | _REVENUE_WORDS, key=lambda p: (-len(p), p))
    for phrase in phrases:
        for pattern in (rf"^(.*?)[\s\-:|/]*\b{re.escape(phrase)}\b(?:\s*(?:\$|€|£|usd|eur|gbp))?$",
                        rf"^{re.escape(phrase)}\b[\s\-:|/]*(.+)$"):
            if m := re.match(pattern, text):
                rest = m.group(1).strip(" -:|/")
                return rest, measure_of(phrase)
    return text, None


def total_label(name: str) -> tuple[bool, str]:
    """(is a total label, the scope it names: '' for everything)."""
    tokens = name.replace("-", " ").split()
    if not tokens or not (set(tokens) & _TOTAL_WORDS or re.fullmatch(r"fy\s?\d{2,4}", name)):
        return False, ""
    scope = " ".join(t for t in tokens if t not in _TOTAL_WORDS and not re.fullmatch(r"fy\d{2,4}|\d{2,4}", t))
    return True, scope


_QUARTER = re.compile(r"(?:q|qtr|quarter)\s*[1-4]|[1-4]\s*q(?:tr)?|[1-4](?:st|nd|rd|th)\s*(?:quarter|qtr)")
_HALF = re.compile(r"(?:h|hy|half|half year)\s*[12]|[12]\s*h|[12](?:st|nd)\s*half|(?:first|second)\s*half")
_YEARISH = re.compile(r"fy\s?\d{2,4}|fy|\d{2}|\d{4}")


def subtotal_level(text: Any) -> int:
    """How much a total heading sums: 1 a quarter (Q1, Qtr 2 2027, 3Q27), 2 a half (H1, 1st half), 3 a year (FY27,
    2027 Total, Full year), 4 everything (Total, Grand total); 0 when `text` is no total heading."""
    words = norm_words(text).replace("-", " ").replace("/", " ")
    tokens = words.split()
    rest = " ".join(t for t in tokens if t not in _TOTAL_WORDS and not _YEARISH.fullmatch(t))
    if _QUARTER.fullmatch(rest) or re.fullmatch(r"[1-4]q\d{2}(?:\d{2})?", words.replace(" ", "")):
        return 1
    if _HALF.fullmatch(rest):
        return 2
    if not total_label(words)[0]:
        return 0
    return 3 if {"year", "fy", "ytd"} & set(tokens) or any(_YEARISH.fullmatch(t) for t in tokens) else 4
