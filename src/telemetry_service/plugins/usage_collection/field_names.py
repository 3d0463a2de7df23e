"""`to_api_field_names` (spec 7.4): API naming for `/api/stats` and monitoring.

Each key goes through lodash's `snakeCase` (ported below, ASCII and Latin-1 exact), then
``^(1|5|15)_m`` becomes ``$1m`` (``os.load.15m``), then the first ``_in_bytes`` becomes
``_bytes`` and the first ``_in_millis`` becomes ``_ms``. Dicts and lists are walked recursively,
including objects inside arrays; other values are returned unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["snake_case", "to_api_field_name", "to_api_field_names"]

# lodash's character classes (lodash.js 4.17, `reAsciiWord` / `reUnicodeWord`).
_LOWER = r"a-z\xdf-\xf6\xf8-\xff"
_UPPER = r"A-Z\xc0-\xd6\xd8-\xde"
_MATH_OP = r"\xac\xb1\xd7\xf7"
_NON_CHAR = r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\xbf"
_PUNCTUATION = r"\u2000-\u206f"
_SPACE = (
    r" \t\x0b\f\xa0\ufeff\n\r\u2028\u2029\u1680\u180e\u2000\u2001\u2002\u2003\u2004"
    r"\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_BREAK_RANGE = _MATH_OP + _NON_CHAR + _PUNCTUATION + _SPACE
_APOS = "['\u2019]"
_BREAK = f"[{_BREAK_RANGE}]"
_LOWER_C = f"[{_LOWER}]"
_UPPER_C = f"[{_UPPER}]"
_ASTRAL_RANGE = r"\ud800-\udfff\U00010000-\U0010ffff"  # JavaScript sees these as surrogates
_MISC = rf"[^{_ASTRAL_RANGE}{_BREAK_RANGE}0-9+\u2700-\u27bf{_LOWER}{_UPPER}]"
_MISC_LOWER = f"(?:{_LOWER_C}|{_MISC})"
_MISC_UPPER = f"(?:{_UPPER_C}|{_MISC})"
_CONTR_LOWER = f"(?:{_APOS}(?:d|ll|m|re|s|t|ve))?"
_CONTR_UPPER = f"(?:{_APOS}(?:D|LL|M|RE|S|T|VE))?"
_ORD_LOWER = r"\d*(?:1st|2nd|3rd|(?![123])\dth)(?=\b|[A-Z_])"
_ORD_UPPER = r"\d*(?:1ST|2ND|3RD|(?![123])\dTH)(?=\b|[a-z_])"
_ASTRAL = r"[\U00010000-\U0010ffff]"
_REGIONAL = r"[\U0001f1e6-\U0001f1ff]{2}"
_MODIFIER = r"(?:[\u0300-\u036f\ufe20-\ufe2f\u20d0-\u20ff]|[\U0001f3fb-\U0001f3ff])"
_OPT_VAR = r"[\ufe0e\ufe0f]?"
_NON_ASTRAL = rf"[^{_ASTRAL_RANGE}]"
_OPT_JOIN = rf"(?:\u200d(?:{_NON_ASTRAL}|{_REGIONAL}|{_ASTRAL}){_OPT_VAR}{_MODIFIER}?)*"
_EMOJI = rf"(?:[\u2700-\u27bf]|{_REGIONAL}|{_ASTRAL}){_OPT_VAR}{_MODIFIER}?{_OPT_JOIN}"

_UNICODE_WORD = re.compile(
    "|".join(
        [
            f"{_UPPER_C}?{_LOWER_C}+{_CONTR_LOWER}(?={_BREAK}|{_UPPER_C}|$)",
            f"{_MISC_UPPER}+{_CONTR_UPPER}(?={_BREAK}|{_UPPER_C}{_MISC_LOWER}|$)",
            f"{_UPPER_C}?{_MISC_LOWER}+{_CONTR_LOWER}",
            f"{_UPPER_C}+{_CONTR_UPPER}",
            _ORD_UPPER,
            _ORD_LOWER,
            r"\d+",
            _EMOJI,
        ]
    ),
    re.ASCII,
)
_ASCII_WORD = re.compile(r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
_HAS_UNICODE_WORD = re.compile(
    r"[a-z][A-Z]|[A-Z]{2}[a-z]|[0-9][a-zA-Z]|[a-zA-Z][0-9]|[^a-zA-Z0-9 ]"
)
_APOSTROPHES = re.compile("['\u2019]")
_LOAD_AVERAGE = re.compile(r"^(1|5|15)_m")
_LATIN = re.compile("[\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u017f]")
_COMBO_MARK = re.compile("[\u0300-\u036f\ufe20-\ufe2f\u20d0-\u20ff]")
# Latin letters that do not decompose under NFKD the way lodash's `deburredLetters` maps them.
_DEBURR_EXTRA = {
    "Æ": "Ae", "æ": "ae", "Ð": "D", "ð": "d", "Ø": "O", "ø": "o", "Þ": "Th", "þ": "th",
    "ß": "ss", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "Ĳ": "IJ", "ĳ": "ij",
    "ĸ": "k", "Ŀ": "L", "ŀ": "l", "Ł": "L", "ł": "l", "ŉ": "'n", "Ŋ": "N", "ŋ": "n",
    "Œ": "Oe", "œ": "oe", "Ŧ": "T", "ŧ": "t", "\u017f": "s",
}  # fmt: skip


def _deburr_letter(match: re.Match[str]) -> str:
    char = match.group()
    if char in _DEBURR_EXTRA:
        return _DEBURR_EXTRA[char]
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))


def _deburr(text: str) -> str:
    """Latin-1 and Latin Extended-A letters to basic Latin, combining marks removed (lodash)."""
    if text.isascii():
        return text
    return _COMBO_MARK.sub("", _LATIN.sub(_deburr_letter, text))


def snake_case(text: str) -> str:
    """lodash `snakeCase`: ``daysOfTheWeek`` -> ``days_of_the_week``, ``15m`` -> ``15_m``."""
    text = _APOSTROPHES.sub("", _deburr(text))
    pattern = _UNICODE_WORD if _HAS_UNICODE_WORD.search(text) else _ASCII_WORD
    return "_".join(word.lower() for word in pattern.findall(text))


def to_api_field_name(name: str) -> str:
    """Rename one key to the API convention (spec 7.4)."""
    name = snake_case(name)
    name = _LOAD_AVERAGE.sub(r"\1m", name, count=1)
    name = name.replace("_in_bytes", "_bytes", 1)
    return name.replace("_in_millis", "_ms", 1)


def to_api_field_names(data: object) -> object:
    """Rename every key of nested dicts (also inside lists) with `to_api_field_name`."""
    if isinstance(data, Mapping):
        return {
            to_api_field_name(key) if isinstance(key, str) else key: to_api_field_names(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [to_api_field_names(item) for item in data]
    return data
