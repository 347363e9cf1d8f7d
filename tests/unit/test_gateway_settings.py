"""The gateway settings (README "Behind a gateway") as the environment gives them: lists as JSON or comma-separated,
normalised to what the API compares against, and refused at start-up, naming the field, when they could only
misbehave later (a trust-list entry uvicorn would silently never match, an origin no browser sends)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scheduler_api.gateway import rfc7239_as_x_forwarded
from scheduler_core.settings import Settings


def from_env(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        monkeypatch.setenv(f"SCHEDULER_{name.upper()}", value)
    return Settings()


def test_the_defaults_trust_no_proxy_allow_no_origin_and_serve_at_the_root() -> None:
    settings = Settings()
    assert (settings.forwarded_allow_ips, settings.cors_origins, settings.root_path) == ([], [], None)
    assert settings.forwarded_headers == "x-forwarded"


@pytest.mark.parametrize(
    "value",
    ["127.0.0.1, 10.0.0.0/8,fd00::/8", '["127.0.0.1", "10.0.0.0/8", "fd00::/8"]', " 127.0.0.1,10.0.0.0/8 ,fd00::/8,"],
)
def test_the_trust_list_is_json_or_comma_separated(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    settings = from_env(monkeypatch, forwarded_allow_ips=value)
    assert settings.forwarded_allow_ips == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]


def test_an_empty_variable_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, forwarded_allow_ips="", cors_origins="")
    assert (settings.forwarded_allow_ips, settings.cors_origins) == ([], [])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("gateway.internal", "neither an IP address nor a network"),
        ("10.0.0.1/8", "host bits set"),
        ("127.0.0.1,*", "give it alone"),
        ("[127.0.0.1", "not a JSON list"),
    ],
)
def test_a_bad_trust_list_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch, value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match="forwarded_allow_ips") as refused:
        from_env(monkeypatch, forwarded_allow_ips=value)
    assert reason in str(refused.value)


def test_origins_are_written_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(
        monkeypatch,
        cors_origins="https://App.Example.com:443/, http://localhost:5173, http://[::1]:80, https://app.example.com",
    )
    assert settings.cors_origins == ["https://app.example.com", "http://localhost:5173", "http://[::1]"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("*", "'*' is not allowed"),
        ("https://app.example.com/dashboard", "no path"),
        ("app.example.com", "http(s)://host"),
        ("ftp://app.example.com", "http(s)://host"),
        ("https://user:pw@app.example.com", "credentials"),
        ("https://app.example.com:99999", "not an origin"),
    ],
)
def test_a_bad_origin_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch, value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match="cors_origins") as refused:
        from_env(monkeypatch, cors_origins=value)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/scheduler", "/scheduler"), ("/scheduler/", "/scheduler"), ("/a/b%20c", "/a/b%20c"), ("/", None), ("", None)],
)
def test_the_root_path_is_kept_without_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    assert from_env(monkeypatch, root_path=value).root_path == expected


@pytest.mark.parametrize("value", ["scheduler", "//evil.example", "/a//b", "/a/../b", "/a b", '/a"b', "/a<b", "/%zz"])
def test_a_root_path_that_is_no_plain_path_prefix_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ValidationError, match="root_path"):
        from_env(monkeypatch, root_path=value)


def test_an_unknown_forwarded_headers_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="forwarded_headers"):
        from_env(monkeypatch, forwarded_headers="x-real-ip")


# --- RFC 7239 -----------------------------------------------------------------------------------------------


def translated(*forwarded: str, trusted: bool = True) -> dict[str, str]:
    headers = [(b"host", b"api"), (b"x-forwarded-for", b"203.0.113.66"), (b"x-forwarded-proto", b"https")]
    headers += [(b"forwarded", value.encode()) for value in forwarded]
    out = rfc7239_as_x_forwarded(headers, trusted=trusted)
    return {name.decode(): value.decode() for name, value in out if name != b"forwarded"}


def test_forwarded_elements_become_the_x_forwarded_for_chain_in_order() -> None:
    assert translated('for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711";proto=HTTPS') == {
        "host": "api",
        "x-forwarded-for": "192.0.2.60, [2001:db8:cafe::17]:4711",
        "x-forwarded-proto": "https",
    }


def test_several_forwarded_headers_are_one_list_and_quoted_separators_stay_inside_values() -> None:
    result = translated('for="_gw;1,2";proto=https', "For=198.51.100.9")
    assert result["x-forwarded-for"] == "_gw;1,2, 198.51.100.9"
    assert "x-forwarded-proto" not in result  # the last element (our peer's) says nothing about the scheme


def test_an_element_without_for_is_unknown_and_an_untrusted_peer_gets_nothing() -> None:
    assert translated("proto=https, for=198.51.100.9")["x-forwarded-for"] == "unknown, 198.51.100.9"
    assert translated("for=198.51.100.9", trusted=False) == {"host": "api"}
    assert translated() == {"host": "api"}  # no Forwarded: the client's own X-Forwarded-* are dropped all the same
