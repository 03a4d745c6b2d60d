"""Database passwords kept out of every message: errors, command output and logs; and
customers' email addresses out of logs."""

from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

HIDDEN = "***"

# The password of any URL written ``scheme://user:password@host``, even one too broken to
# parse: it runs to the last ``@`` of the URL's host part (the URL ends at a space, quote or
# slash), as SQLAlchemy reads it.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)(?P<secret>[^\s/'\"]*)@"
)
# What a URL given without its scheme would carry: ``user:password@host/...``.
_BARE_USERINFO = re.compile(r"^(?P<head>[^\s:/@]*:)(?P<secret>[^\s/]*)@")
# A known password shorter than this is only hidden inside URLs: replaced everywhere, it would
# blot out ordinary words of the message.
_SHORTEST_SECRET = 4


def password_of(url: str) -> str | None:
    """The password a database URL carries, or None (none, or not a URL SQLAlchemy reads)."""
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def shown_url(url: str) -> str:
    """A database URL fit to print: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # a URL SQLAlchemy cannot read (a bad port: ValueError)
        return _BARE_USERINFO.sub(_hide, redact(url.strip()))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the password of every URL in it, and each of ``secrets`` wherever it
    appears (as written or percent-encoded, as a driver's message may quote it), hidden."""
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, HIDDEN)
    return _USERINFO.sub(_hide, text)


# Something@host.tld: an address wherever it appears in a line (a database error quoting the
# parameters of a failed insert, say). A host without a dotted name of letters (localhost,
# 127.0.0.1, as in a database URL) is not taken for one.
_EMAIL = re.compile(
    r"(?P<name>[A-Za-z0-9._%+\-]+)@(?P<domain>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})\b"
)


def hide_emails(text: str) -> str:
    """``text`` with every email address in it masked (``a***@example.com``)."""
    return _EMAIL.sub(lambda m: f"{m['name'][:1]}{HIDDEN}@{m['domain']}", text)


def masked_email(address: str | None) -> str | None:
    """An email address fit to show where it could be logged: ``a***@example.com``."""
    if not address:
        return address
    name, _, domain = address.rpartition("@")
    return f"{name[:1]}{HIDDEN}@{domain}"


def _hide(match: re.Match[str]) -> str:
    return f"{match['head']}{HIDDEN}@" if match["secret"] else match[0]
