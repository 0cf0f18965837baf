"""fetch_policy: which image URLs the gateway may fetch, read the way the runtime's fetch reads them."""

import pytest

from gateway.config import Settings
from gateway.fetch_policy import refusal

REFUSED = [
    # loopback, in every spelling a WHATWG URL parser accepts
    "http://127.0.0.1/x.png",
    "http://127.255.255.254/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0X7F.0.0.1/",
    "http://0177.0.0.1/",
    "http://0177.1/",
    "http://127.1/",
    "http://127.0.1/",
    "http://127.0.0.1./",
    "http://017700000001/",
    "http://%31%32%37.0.0.1/",
    "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",  # fullwidth digits and dot
    "http://127\u30020\u30020\u30021/",  # ideographic full stops
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "https://127.0.0.1:8443/x.png",
    "HTTP://127.0.0.1/",
    # names that only resolve inside a network
    "http://localhost/",
    "http://LOCALHOST./",
    "http://images.localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://printer.local/",
    "http://router.home.arpa/",
    # unspecified
    "http://0/",
    "http://0.0.0.0/",
    "http://[::]/",
    # RFC 1918, CGNAT, link-local and metadata services
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://0xc0.0xa8.1.1/",
    "http://3232235777/",
    "http://100.64.0.1/",
    "http://100.127.255.255/",
    "http://100.100.100.200/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://[::ffff:169.254.169.254]/",
    "http://192.0.0.192/",
    "http://[fe80::1]/",
    "http://[febf::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    # multicast, broadcast, reserved
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[ff02::1]/",
    # the authority as fetch reads it, not as urllib.parse does
    "http://127.0.0.1\\@example.com/",
    "http://127.0.0.1\\example.com/",
    "http://example.com@127.0.0.1/",
    "http://user:pass@127.0.0.1:80/",
    "http:\\\\127.0.0.1/x.png",
    "http:///127.0.0.1/",
    " http://127.0.0.1/",
    "http://12\t7.0.0.1/",
    "http://127.0.0.1#@example.com/",
    "http://127.0.0.1?@example.com/",
    # not a URL fetch could use, or not http(s)
    "ftp://example.com/a.png",
    "file:///etc/passwd",
    "http://256.0.0.1/",
    "http://1.2.3.4.5/",
    "http://0x100000000/",
    "http://[::1/",
    "http://example.com:99999/",
    "http:///",
    "http://exa mple.com/",
]

ALLOWED = [
    "http://example.com/x.png",
    "https://images.example.com:8443/x.png?size=2#top",
    "https://example.com./x.png",
    "http://8.8.8.8/",
    "http://134744072/",  # 8.8.8.8 as one number
    "http://1.1.1.1/",
    "http://172.32.0.1/",
    "http://100.128.0.1/",
    "http://169.255.0.1/",
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://user@example.com/",
    "http://localhost.example.com/",
    "http://internal.example.com/",
    "http://1.2.3.4.example.com/",
    "http://example.com/127.0.0.1",
    "http://example.com/?next=http://127.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url):
    assert refusal(url) is not None


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed(url):
    assert refusal(url) is None


def test_the_test_allowance_names_exact_host_and_port():
    allowed = ("127.0.0.1:8000",)
    assert refusal("http://127.0.0.1:8000/x.png", allowed) is None
    # The same address however it is spelled.
    assert refusal("http://0x7f.1:8000/x.png", allowed) is None
    assert refusal("http://127.0.0.1:8001/x.png", allowed) is not None
    assert refusal("http://127.0.0.2:8000/x.png", allowed) is not None
    assert refusal("http://localhost:8000/x.png", allowed) is not None
    assert refusal("http://127.0.0.1/x.png", allowed) is not None
    assert refusal("http://127.0.0.1/x.png", ("127.0.0.1:80",)) is None
    assert refusal("https://127.0.0.1/x.png", ("127.0.0.1:80",)) is not None
    assert refusal("http://[::1]:9/", ("[::1]:9",)) is None
    assert refusal("http://169.254.169.254/", ("*",)) is None
    # The allowance widens, never narrows: public hosts stay allowed, broken URLs stay refused.
    assert refusal("http://example.com/", ("127.0.0.1:8000",)) is None
    assert refusal("ftp://127.0.0.1:8000/", ("*",)) is not None


@pytest.mark.parametrize("value, expected", [
    (None, ()), ("", ()), ("true", ("*",)), ("1", ("*",)), ("*", ("*",)),
    ("127.0.0.1:8000, localhost:9000", ("127.0.0.1:8000", "localhost:9000")),
])
def test_the_allowance_setting(value, expected):
    settings = Settings.from_lookup(lambda name: value if name == "IMAGE_FETCH_ALLOW_PRIVATE" else None)
    assert settings.image_fetch_allow_private == expected
