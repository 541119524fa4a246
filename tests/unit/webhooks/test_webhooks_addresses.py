"""Where deliveries may go: endpoint URLs and every address a host resolves to, IPv4 and IPv6."""

from __future__ import annotations

import ipaddress

import pytest

from services.webhooks.domain.addresses import Target, address_refusal, parse_endpoint_url

REFUSED = [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
]  # fmt: skip
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34", "64:ff9b::808:808"]


@pytest.mark.parametrize("text", REFUSED)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(text: str) -> None:
    address = ipaddress.ip_address(text)
    assert address_refusal(address, allow_private=False) is not None
    assert address_refusal(address, allow_private=True) is None  # the development flag


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_are_allowed(text: str) -> None:
    assert address_refusal(ipaddress.ip_address(text), allow_private=False) is None


def test_an_https_url_is_split_for_the_sender() -> None:
    target = parse_endpoint_url("https://Hooks.Example.com:8443/in/mes?tenant=a", allow_insecure=False)
    assert isinstance(target, Target)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in/mes?tenant=a")
    assert target.host_header == "hooks.example.com:8443"
    assert target.url_for(ipaddress.ip_address("93.184.216.34")) == "https://93.184.216.34:8443/in/mes?tenant=a"
    v6 = parse_endpoint_url("https://[2606:4700::1]/", allow_insecure=False)
    assert isinstance(v6, Target) and v6.host_header == "[2606:4700::1]" and v6.path == "/"
    assert v6.url_for(ipaddress.ip_address("2606:4700::1")) == "https://[2606:4700::1]:443/"
    idn = parse_endpoint_url("https://bücher.example/", allow_insecure=False)
    assert isinstance(idn, Target) and idn.host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/", "https://"),
        ("https://u:p@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/#x", "fragment"),
        ("https://127.0.0.1/", "loopback"),
        ("https://app.localhost/", "loopback"),
        ("https://[fe80::1]/", "link-local"),
        ("https://hooks.example.com:0/", "port 0"),
        ("https://hooks.example.com:99999/", "valid URL"),
        ("https://hooks example.com/", "spaces"),
        ("https://bad_label-.-/", "host"),
        ("https://" + "a" * 64 + ".example/", "host"),
        ("https://x.example/" + "p" * 2048, "2048"),
    ],
)
def test_urls_outside_the_rules_say_why(url: str, problem: str) -> None:
    result = parse_endpoint_url(url, allow_insecure=False)
    assert isinstance(result, str) and problem in result


def test_the_development_flag_allows_http_and_local_hosts_but_never_credentials() -> None:
    assert isinstance(parse_endpoint_url("http://127.0.0.1:8080/hook", allow_insecure=True), Target)
    assert isinstance(parse_endpoint_url("http://localhost/hook", allow_insecure=True), Target)
    assert isinstance(parse_endpoint_url("http://u:p@localhost/", allow_insecure=True), str)
    assert isinstance(parse_endpoint_url("ftp://localhost/", allow_insecure=True), str)
