"""Remove credentials from URLs and configs before they are written anywhere.

Everything zhcurate writes about a config (the manifest, the data card, ``validate``'s output,
error messages, cache keys) goes through :func:`redact_config` or :func:`redact_url`:

* the userinfo of a URL (``http://user:PASSWORD@host``, ``s3://KEY:SECRET@bucket``) becomes
  ``***`` (user names are credentials too: an S3 access key id);
* the value of a secret-bearing query parameter (:data:`SECRET_PARAMS`, case-insensitive:
  ``?api_key=...``, presigned ``X-Amz-Signature=...``) becomes ``REDACTED``;
* in a mapping, the string value of a key named like a secret (``password: ...``,
  ``api_key: ...``, ``Authorization: ...``) becomes ``REDACTED``.

Redaction is best-effort text processing, not a guarantee: keep secrets out of configs
(``backend.api_key_env`` names an environment variable instead).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

#: Query parameters (and mapping keys) whose value is a secret; compared lower-cased.
SECRET_PARAMS = frozenset(
    k.lower()
    for k in (
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "secret",
        "password",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
    )
)
#: Mapping keys redacted in addition to :data:`SECRET_PARAMS`.
SECRET_KEYS = SECRET_PARAMS | {"authorization", "passwd", "secret_key", "client_secret"}

REDACTED = "REDACTED"
USERINFO = "***"

#: A URL inside any text: ``scheme://`` up to whitespace or a quote/bracket.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def _userinfo_end(rest: str) -> int:
    """Index of the ``@`` ending the userinfo of ``rest`` (the URL after ``://``), or -1.

    The userinfo ends at the last ``@`` before the query/fragment. A ``/`` before that ``@``
    (an unencoded secret such as an AWS key ``abc/def``) still counts as userinfo when a
    ``:`` not followed by a port number comes before the first ``/``; ``host/@user`` paths
    are left alone."""
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, cut)
    if at < 0:
        return -1
    head = rest[:at]
    slash = head.find("/")
    if slash < 0:
        return at
    colon = head.find(":", 0, slash)
    if colon >= 0 and not head[colon + 1 : slash].isdigit():
        return at
    return -1


def _redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        key, sep, _value = part.partition("=")
        if sep and unquote(key).strip().lower() in SECRET_PARAMS:
            part = f"{key}={REDACTED}"
        parts.append(part)
    return "&".join(parts)


def _redact_one(url: str) -> str:
    scheme, _, rest = url.partition("://")
    at = _userinfo_end(rest)
    if at >= 0:
        rest = f"{USERINFO}{rest[at:]}"
    if "?" in rest:
        base, _, query = rest.partition("?")
        query, hash_, fragment = query.partition("#")
        rest = f"{base}?{_redact_query(query)}{hash_}{fragment}"
    return f"{scheme}://{rest}"


def redact_url(url: str) -> str:
    """``url`` (or any text containing URLs) with userinfo and secret query values removed."""
    if "://" not in url:
        return url
    return _URL.sub(lambda m: _redact_one(m.group()), url)


def redact_config(obj: Any) -> Any:
    """A copy of ``obj`` (mappings, lists, strings, scalars) with every URL string redacted
    and the values of secret-named mapping keys replaced; other values are unchanged."""
    if isinstance(obj, str):
        return redact_url(obj)
    if isinstance(obj, dict):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and k.lower() in SECRET_KEYS and isinstance(v, str) and v
                else redact_config(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_config(v) for v in obj)
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that redacts URLs in every record's message (installed by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_url(message), None
        return True
