"""Which URLs a remote image fetch may reach: never the worker's own neighbourhood.

An `image_url` is fetched by the gateway, so without this a client could make it read loopback,
private-network or cloud-metadata addresses (SSRF). The runtime asks `refusal()` before every hop,
the first URL and each redirect target alike.

The host is read the way the runtime's `fetch` reads it (the WHATWG URL standard), not the way
`urllib.parse` does: `http://127.0.0.1\\@example.com/` is 127.0.0.1 to `fetch` but example.com to
urlsplit, and `fetch` takes IPv4 in decimal, hex and octal spellings (`2130706433`, `0x7f.1`,
`0177.0.0.1`) that `ipaddress` rejects. Host names are judged by name only (a Worker cannot resolve
DNS before fetching), so a public name that resolves to a private address is not caught here.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import unquote_to_bytes

_DEFAULT_PORTS = {"http": 80, "https": 443}

# IANA special-purpose blocks that are not globally reachable, plus multicast: spelled out rather than
# left to `is_global`, whose answer differs between the Python versions the core runs on.
_BLOCKED_V4 = tuple(ipaddress.IPv4Network(net) for net in (
    "0.0.0.0/8",        # "this network", unspecified
    "10.0.0.0/8",       # RFC 1918
    "100.64.0.0/10",    # CGNAT (Alibaba's metadata service is 100.100.100.200)
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local, AWS/Azure/GCP metadata 169.254.169.254
    "172.16.0.0/12",    # RFC 1918
    "192.0.0.0/24",     # IETF protocol assignments (Oracle's metadata 192.0.0.192)
    "192.0.2.0/24",     # documentation
    "192.88.99.0/24",   # 6to4 relay anycast
    "192.168.0.0/16",   # RFC 1918
    "198.18.0.0/15",    # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",   # documentation
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, broadcast
))
_BLOCKED_V6 = tuple(ipaddress.IPv6Network(net) for net in (
    "::/96",            # unspecified, loopback and IPv4-compatible (checked as IPv4 below too)
    "64:ff9b:1::/48",   # local-use NAT64
    "100::/64",         # discard
    "2001::/23",        # IETF protocol assignments, Teredo
    "2001:db8::/32",    # documentation
    "3fff::/20",        # documentation
    "fc00::/7",         # unique local (AWS's IPv6 metadata fd00:ec2::254)
    "fe80::/10",        # link-local
    "fec0::/10",        # site-local (deprecated)
    "ff00::/8",         # multicast
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Names that only mean something inside a network (`metadata.google.internal`, `*.localhost`, mDNS).
_LOCAL_SUFFIXES = ("localhost", "internal", "local", "localdomain", "home.arpa")
# WHATWG's forbidden domain code points (a URL with them does not parse at all).
_FORBIDDEN = set("\x00\t\n\r #/:<>?@[\\]^|%") | {chr(c) for c in range(0x20)} | {"\x7f"}


class _Unparsable(ValueError):
    pass


def refusal(url: str, allowed: tuple[str, ...] = ()) -> str | None:
    """None when `url` may be fetched; else why not (for the log: the client is told less).

    `allowed`: `host:port` pairs that may be reached although private, or `*` for every address
    (IMAGE_FETCH_ALLOW_PRIVATE, for local tests whose image servers listen on 127.0.0.1)."""
    try:
        _, host, port = _split(url)
        address, name = _address(host)
    except _Unparsable as problem:
        return f"not a valid http(s) URL ({problem})"
    reason = _address_refusal(address) if address is not None else _name_refusal(name)
    if reason is not None and ("*" in allowed or _key(address, name, port) in _allowed_keys(allowed)):
        return None
    return reason


def _allowed_keys(allowed: tuple[str, ...]) -> set[str]:
    keys = set()
    for entry in allowed:
        try:
            _, host, port = _split(f"http://{entry}")
            keys.add(_key(*_address(host), port))
        except _Unparsable:
            continue
    return keys


def _key(address, name: str, port: int) -> str:
    return f"{address if address is not None else name}:{port}"


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) as a WHATWG URL parser finds them in an http(s) URL."""
    # Leading and trailing C0 controls and spaces are dropped, tabs and newlines anywhere.
    text = url.strip("".join(chr(c) for c in range(0x21))).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in _DEFAULT_PORTS:
        raise _Unparsable("not http(s)")
    # Special schemes: any run of slashes and backslashes starts the authority, which ends at the
    # first slash, backslash, ? or #; the last @ ends the credentials.
    rest = rest.lstrip("/\\")
    end = min((i for i in (rest.find(c) for c in "/\\?#") if i >= 0), default=len(rest))
    authority = rest[:end].rpartition("@")[2]
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _Unparsable("unclosed [")
        host, after = authority[:close + 1], authority[close + 1:]
        if after and not after.startswith(":"):
            raise _Unparsable("text after ]")
        port_text = after[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise _Unparsable("no host")
    if port_text and not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
        raise _Unparsable("bad port")
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    return scheme, host, port


def _address(host: str):
    """(the IP address `host` denotes, or None for a domain name; the host as `fetch` reads it)."""
    if host.startswith("["):
        try:
            return ipaddress.IPv6Address(host[1:-1]), host
        except ValueError:
            raise _Unparsable("bad IPv6 address") from None
    domain = _domain(host)
    labels = domain.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    last = labels[-1]
    if (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None:
        return _ipv4(domain), domain
    return None, domain.rstrip(".")


def _domain(host: str) -> str:
    """The host percent-decoded and mapped as IDNA's UTS 46 maps it for the ASCII characters and the
    digits and dots that matter here (fullwidth `１２７．０．０．１` is 127.0.0.1 to `fetch`)."""
    try:
        text = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise _Unparsable("bad percent-encoding") from None
    text = unicodedata.normalize("NFKC", text).lower()
    for dot in ("\u3002", "\uff0e", "\uff61"):
        text = text.replace(dot, ".")
    if any(c in _FORBIDDEN for c in text):
        raise _Unparsable("forbidden character in host")
    return text


def _ipv4_number(part: str) -> int | None:
    """WHATWG's IPv4 number parser: 0x… is hex, a leading 0 octal, else decimal."""
    if not part or not part.isascii():
        return None
    base = 10
    if part[:2] in ("0x", "0X"):
        part, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, base = part[1:], 8
    if not part:
        return 0
    digits = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    return int(part, base) if all(c in digits for c in part) else None


def _ipv4(domain: str) -> ipaddress.IPv4Address:
    parts = domain.split(".")
    if parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4:
        raise _Unparsable("bad IPv4 address")
    numbers = [_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        raise _Unparsable("bad IPv4 address")
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _Unparsable("IPv4 part out of range")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _address_refusal(address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and _address_refusal(embedded):
            return "an IPv6 address carrying a private IPv4 address"
        if any(address in net for net in _BLOCKED_V6):
            return "a loopback, private, link-local or reserved IPv6 address"
        return None
    if any(address in net for net in _BLOCKED_V4):
        return "a loopback, private, link-local, metadata or reserved IPv4 address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address):
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _name_refusal(name: str) -> str | None:
    if "." not in name:
        # A single label (`localhost`, GCP's `metadata`) only resolves through a local search domain.
        return "a single-label host name"
    if any(name == suffix or name.endswith("." + suffix) for suffix in _LOCAL_SUFFIXES):
        return "a local or internal host name"
    return None
