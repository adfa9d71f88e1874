"""Output safety (DESIGN §21): user text written to a spreadsheet never becomes a live formula,
and user text printed to a terminal never carries control sequences.

Two functions, used by every export and every command-line printer, so the rule lives in
one place.
"""

from __future__ import annotations

import re
from typing import Any

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage
# return, shifts it into one): OWASP "CSV injection".
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# ESC-introduced sequences: CSI (ESC [ … final byte), OSC / DCS / SOS / PM / APC strings (ended
# by BEL or ST), and the two-character escapes; then the single-byte C1 CSI and OSC forms.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d.*?(?:\x07|\x9c|$)",
    re.DOTALL,
)
# What is left of the C0 controls but tab and newline, DEL, the C1 controls, and the
# bidirectional overrides that reorder what a reader sees ("Trojan source").
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def spreadsheet_safe(value: Any) -> Any:
    """A text value a spreadsheet would read as a formula gets a leading `'` (OWASP); numbers
    and every other value pass unchanged, so a negative amount stays a number."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def is_formula_text(value: Any) -> bool:
    """Whether a text value would be read as a formula (for XLSX, which keeps such text as a
    plain string cell instead)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def terminal_safe(text: str, *, keep_newlines: bool = True) -> str:
    """`text` without escape sequences and control characters (tab kept, and newlines unless
    `keep_newlines` is false, where each becomes a space)."""
    cleaned = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    return cleaned if keep_newlines else cleaned.replace("\n", " ")
