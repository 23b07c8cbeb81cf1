"""Stage ``pii``: mask personal identifiers common in Chinese text with typed placeholders.

Kinds, in the order they are masked (earlier kinds protect their digits from later ones):

1. ``<EMAIL>``: local@domain.tld (ASCII), or local@ an IP literal (``name@1.2.3.4``,
   ``name@[1.2.3.4]``, ``name@[IPv6:2001:db8::1]``): the whole address, local part included.
2. ``<QQ>``: a 5-11 digit number right after a QQ prefix (QQ, qq号, QQ群, 扣扣, 企鹅号 + optional
   ：/: and spaces). Only the number is masked: "QQ：<QQ>". Without a prefix a QQ number is
   just a number and stays.
3. ``<WECHAT>``: a WeChat id (6-20 of letters, digits, _ or -, starting with a letter) right
   after 微信/微信号/VX/WX/V信/weixin/wechat. A WeChat "id" that is a phone number is a phone.
4. ``<ID_CARD>``: 18-character resident ID (GB 11643-1999): a valid province code, a real
   date of birth (1900-2099), and the ISO 7064 MOD 11-2 check character. A wrong checksum is
   not masked.
5. ``<BANK_CARD>``: 16-19 digits, plain or in groups of 4 joined by one kind of space/dash,
   first digit 3-6 (JCB/Amex, Visa, Mastercard, UnionPay 62, Discover) and Luhn-valid, and not
   shaped like a resident ID (an ID with a wrong checksum stays as it is).
6. ``<PHONE>``: mainland mobile 1[3-9]X XXXX XXXX, optional +86/0086/86 prefix, plain or 3-4-4
   with one kind of space/dash. Never part of a longer digit run.
7. ``<IP>``: IPv4, each octet 0-255 without leading zeros, not part of a longer dotted run
   (2023.10.01.12, 1.2.3.4.5), not after "v", "version", "ver" or "版本" (v1.2.3.4), and not
   four single digits: on the DEV web data every such match was a section number (6.2.3.1),
   a list or a dental formula (3.1.4.2), and 8.8.8.8-style addresses are public servers.
   IPv6 (full or ``::``-compressed, valid for :mod:`ipaddress`) that contains a decimal digit
   and has 3+ groups, a 4-digit group or a leading ``::`` (so ``CDC::Add``, ``1::2`` and
   times are not addresses). With ``ips: public`` (default, as datatrove's PII formatter) only
   addresses that :attr:`ipaddress.IPv4Address.is_global` are masked: private (10/8,
   172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1), link-local (169.254/16, fe80::/10),
   shared (100.64/10) and documentation (192.0.2/24, 2001:db8::/32) addresses identify nobody
   and are common in technical text (路由器登录192.168.1.1). ``ips: all`` masks every address,
   ``ips: none`` none.

Stats: the number of masks of each kind (all keys always present).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Literal

from pipeline.record import Doc
from pipeline.stage import MapStage

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
#: First two digits of a resident ID: province-level division codes (GB/T 2260), 71/81/82
#: Taiwan/Hong Kong/Macao residence permits, 83 (Taiwan permit, since 2018).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83".split()
)
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"


def id_card_shaped(s: str) -> bool:
    """18 characters with a province code and a real date of birth (checksum not checked)."""
    if len(s) != 18 or s[:2] not in _PROVINCES or not s[:17].isdigit():
        return False
    try:
        date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return True


def id_card_valid(s: str) -> bool:
    """GB 11643 resident ID: province code, real date of birth, MOD 11-2 check character."""
    if not id_card_shaped(s):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check over a digit string."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _bank_card(m: re.Match[str]) -> bool:
    """Luhn-valid 16-19 digits starting 3-6; an ID-shaped number (bad checksum) is not a card."""
    digits = m.group(0).replace(" ", "").replace("-", "")
    if not (16 <= len(digits) <= 19 and digits[0] in "3456") or id_card_shaped(digits):
        return False
    return luhn_valid(digits)


_VERSION_BEFORE = re.compile(r"(?:v|ver|version|版本号?)\s*[:：]?\s*$", re.IGNORECASE)


def _ip(m: re.Match[str]) -> bool:
    """Not a version, and not four single digits (section 6.2.3.1, dental formula 3.1.4.2)."""
    if len(m.group(0)) == 7:
        return False
    return _VERSION_BEFORE.search(m.string, max(0, m.start() - 12), m.start()) is None


def _ipv6(m: re.Match[str]) -> bool:
    """A valid IPv6 address with a digit and 3+ groups, a 4-digit group or a leading "::"."""
    text = m.group(0)
    groups = [g for g in text.split(":") if g]
    if not any(c.isdigit() for c in text):
        return False
    if len(groups) < 3 and not any(len(g) == 4 for g in groups) and not text.startswith("::"):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_public_ip(address: str) -> bool:
    """True for a globally routable IPv4/IPv6 address (:attr:`ipaddress.IPv4Address.is_global`)."""
    return ipaddress.ip_address(address).is_global


def _wechat(m: re.Match[str]) -> bool:
    """An explicit separator (：, 号) or an id that is not a plain word ("用微信 WeChat 支付")."""
    return bool(re.search(r"[:：号]", m.group("sep"))) or not m.group(2).isalpha()


@dataclass(frozen=True)
class _Rule:
    kind: str
    regex: re.Pattern[str]
    #: match -> mask it? (None: always)
    valid: Callable[[re.Match[str]], bool] | None = None
    #: group to replace (0 = whole match); the rest of the match is kept.
    group: int = 0
    #: key of :func:`_gates` that must be true for the rule to run (default: ``kind``).
    gate: str = ""
    #: the match is an IP address, masked according to the stage's ``ips`` option.
    address: bool = False


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
RULES: tuple[_Rule, ...] = (
    _Rule(
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:"
            r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
            + _NOT_ALNUM_AFTER
            + rf"|\[(?:{_IPV4}|IPv6:[0-9A-Fa-f:.]{{2,45}})\]|{_IPV4}(?!\.?\d))"
        ),
    ),
    _Rule(
        "qq",
        re.compile(
            r"(?:(?<![A-Za-z])(?:QQ|qq|Qq)|扣扣|企鹅)(?:号码|号|群号?)?\s*[:：]?\s*([1-9]\d{4,10})(?!\d)"
        ),
        group=1,
    ),
    _Rule(
        "wechat",
        re.compile(
            r"(?:微信号?|(?<![A-Za-z])(?:VX|vx|Vx|WX|wx|Wx|weixin|WeChat|wechat)|[Vv]信)"
            r"(?P<sep>(?:号|ID|id)?\s*[:：]?\s*)([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
        ),
        valid=_wechat,
        group=2,
    ),
    _Rule(
        "id_card",
        re.compile(
            _NOT_ALNUM_BEFORE + r"[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
            r"\d{3}[\dXx]" + _NOT_ALNUM_AFTER
        ),
        valid=lambda m: id_card_valid(m.group(0)),
    ),
    _Rule(
        "bank_card",
        re.compile(
            _NOT_ALNUM_BEFORE
            + r"(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1?\d{1,3})?)"
            + _NOT_ALNUM_AFTER
        ),
        valid=_bank_card,
    ),
    _Rule(
        "phone",
        re.compile(
            r"(?<![\d+])(?:(?:\+|00)?86[ -]?|[(（]\+?86[)）]\s?)?1[3-9]\d([ -]?)\d{4}\1\d{4}(?!\d)"
        ),
    ),
    _Rule(
        "ip",
        re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])"),
        valid=_ipv6,
        gate="ipv6",
        address=True,
    ),
    _Rule("ip", re.compile(rf"(?<![\d.]){_IPV4}(?!\.?\d)"), valid=_ip, address=True),
)
PLACEHOLDERS = {r.kind: f"<{r.kind.upper()}>" for r in RULES}

#: Cheap tests that let a document skip a rule's regex pass (a pass costs ~0.1-0.6 s over the
#: 72k DEV records; most documents have no candidate at all). Digit kinds need 4 digits in a
#: row (every phone, ID and card format has one) or a digit-dot-digit (IPv4).
_DIGIT_GATE = re.compile(r"\d{4}|\d\.\d")
#: Two colons with at most 4 hex digits between them: every IPv6 address has one.
_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:")
IpScope = Literal["public", "all", "none"]


def _gates(text: str) -> dict[str, bool]:
    digits = _DIGIT_GATE.search(text) is not None
    # explicit `or` chains of substring tests: C-speed, no generator per document
    qq = "QQ" in text or "qq" in text or "Qq" in text or "扣扣" in text or "企鹅" in text
    wechat = (
        "信" in text
        or "VX" in text
        or "vx" in text
        or "Vx" in text
        or "WX" in text
        or "wx" in text
        or "Wx" in text
        or "weixin" in text
        or "WeChat" in text
        or "wechat" in text
    )
    return {
        "email": "@" in text,
        "qq": qq,
        "wechat": wechat,
        "id_card": digits,
        "bank_card": digits,
        "phone": digits,
        "ip": digits,
        "ipv6": ":" in text and _IPV6_GATE.search(text) is not None,
    }


def mask(text: str, ips: IpScope = "public") -> tuple[str, dict[str, int]]:
    """``text`` with every identifier replaced by its placeholder, and counts per kind.

    ``ips``: which IP addresses to mask (public / all / none, see the module doc).
    """
    counts = dict.fromkeys(PLACEHOLDERS, 0)
    gates = _gates(text)
    for rule in RULES:
        if not gates[rule.gate or rule.kind] or (rule.address and ips == "none"):
            continue

        def sub(m: re.Match[str], rule: _Rule = rule) -> str:
            if rule.valid is not None and not rule.valid(m):
                return m.group(0)
            if rule.address and ips == "public" and not is_public_ip(m.group(0)):
                return m.group(0)
            counts[rule.kind] += 1
            if rule.group == 0:
                return PLACEHOLDERS[rule.kind]
            whole, start = m.group(0), m.start(rule.group) - m.start()
            return whole[:start] + PLACEHOLDERS[rule.kind] + whole[m.end(rule.group) - m.start() :]

        text = rule.regex.sub(sub, text)
    return text, counts


@dataclass(frozen=True)
class Pii(MapStage):
    """Mask phone, ID card, bank card, email, IP, QQ and WeChat ids (rules in module doc).

    Stats: ``phone``, ``id_card``, ``bank_card``, ``email``, ``ip``, ``qq``, ``wechat``: number
    of masks of each kind in the document.
    """

    name: ClassVar[str] = "pii"
    #: 2: public IPs only by default, IPv6, emails at IP literals masked whole.
    version: ClassVar[str] = "2"

    #: Which IP addresses are masked: "public" (globally routable only; private, loopback,
    #: link-local and documentation ranges identify nobody, as in datatrove), "all", "none".
    ips: IpScope = "public"

    def __post_init__(self) -> None:
        if self.ips not in ("public", "all", "none"):
            raise ValueError(f"ips must be public, all or none, not {self.ips!r}")

    def process_doc(self, doc: Doc) -> None:
        doc.text, counts = mask(doc.text, self.ips)
        doc.stats.update(counts)
