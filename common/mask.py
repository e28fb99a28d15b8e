"""Mask passwords in URLs before they are shown or stored (pages, config.json, logs, errors).

    mask_secrets("--storage postgresql://user:PASSWORD@host/db")
    -> "--storage postgresql://user:***@host/db"

A whole URL goes through SQLAlchemy's own rendering (``hide_password=True``); URLs inside a longer
text (a command line, an error message) are found by a regular expression. Query-string passwords
(``?password=...``) are masked too. Torch-free, and SQLAlchemy is optional (Optuna brings it).
"""
from __future__ import annotations

import re

__all__ = ["mask_secrets", "mask_config", "MASK"]

MASK = "***"

# scheme://user:PASSWORD@host...: the password runs to the last "@" of the URL (an unencoded "@" in
# a password must not leak its tail); a URL ends at whitespace or a quote.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:@/'\"]*):(?P<password>[^\s'\"]*)@(?P<host>[^\s@'\"]*)"
)
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)[^&;\s'\"]*", re.IGNORECASE)


def _mask_whole_url(text: str) -> str:
    if "://" not in text or any(c.isspace() for c in text):
        return text
    try:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses (or no SQLAlchemy): the regex below still masks it
        return text


def mask_secrets(text) -> str:
    """`text` with the password of every URL in it replaced by ``***`` (None -> "")."""
    if text is None:
        return ""
    text = _mask_whole_url(str(text))
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@{m['host']}", text)
    return _QUERY.sub(lambda m: m["head"] + MASK, text)


def mask_config(value):
    """A copy of a JSON-like value (dict, list, str, ...) with every string passed through mask_secrets."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {k: mask_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_config(v) for v in value]
    return value
