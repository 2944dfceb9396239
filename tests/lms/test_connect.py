"""Connecting: addresses, credentials from the environment, secrets kept out of reprs."""

from __future__ import annotations

import asyncio

import pytest

from certops.errors import LMSError
from certops.lms import CallBudget, Credentials, RetryPolicy, connect, credentials_from_env
from certops.lms.client import environment_proxy, parse_address
from certops.lms.docebo import DoceboReader, DoceboWriter
from certops.lms.errors import LMSAddressError, LMSCredentialsError


def test_no_variables_means_no_credentials():
    assert credentials_from_env({}) is None


def test_missing_variables_are_named():
    with pytest.raises(LMSCredentialsError) as err:
        credentials_from_env({"DOCEBO_CLIENT_ID": "app"})
    assert "DOCEBO_CLIENT_SECRET" in str(err.value)
    with pytest.raises(LMSCredentialsError) as err:
        credentials_from_env(
            {"DOCEBO_CLIENT_ID": "a", "DOCEBO_CLIENT_SECRET": "s", "DOCEBO_USERNAME": "u"}
        )
    assert "DOCEBO_PASSWORD" in str(err.value)


def test_grant_follows_the_variables():
    cc = credentials_from_env({"DOCEBO_CLIENT_ID": "a", "DOCEBO_CLIENT_SECRET": "s"})
    assert cc is not None and cc.grant == "client_credentials"
    pw = credentials_from_env(
        {
            "DOCEBO_CLIENT_ID": "a",
            "DOCEBO_CLIENT_SECRET": "s",
            "DOCEBO_USERNAME": "u",
            "DOCEBO_PASSWORD": "p",
        }
    )
    assert pw is not None and pw.grant == "password"
    assert pw.token_form()["username"] == "u"


def test_repr_hides_secret_and_password():
    creds = Credentials("app", "S3CRET-value", "admin", "PA55-word")
    assert "S3CRET-value" not in repr(creds)
    assert "PA55-word" not in repr(creds)


@pytest.mark.parametrize("bad", ["ftp://x", "tenant.docebosaas.com", "sandbox:", ""])
def test_bad_addresses_say_what_is_expected(bad):
    with pytest.raises(LMSAddressError, match=r"https://|sandbox"):
        parse_address(bad)


def test_url_with_credentials_is_refused():
    with pytest.raises(LMSAddressError, match="DOCEBO_"):
        parse_address("https://user:pw@t.docebosaas.com")


def test_https_address_keeps_only_the_origin():
    assert parse_address("https://t.docebosaas.com/some/path") == (
        "https",
        "https://t.docebosaas.com",
    )


def test_missing_sandbox_file_says_to_run_init(tmp_path):
    async def go():
        async with connect(f"sandbox:{tmp_path / 'none.db'}"):
            pass

    with pytest.raises(LMSAddressError, match="certops sandbox init"):
        asyncio.run(go())


def test_tenant_without_credentials_names_the_variables(monkeypatch):
    for name in ("DOCEBO_CLIENT_ID", "DOCEBO_CLIENT_SECRET", "DOCEBO_USERNAME", "DOCEBO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    async def go():
        async with connect("https://t.docebosaas.com"):
            pass

    with pytest.raises(LMSCredentialsError, match="DOCEBO_CLIENT_ID and DOCEBO_CLIENT_SECRET"):
        asyncio.run(go())


def test_reader_has_no_mutating_methods():
    writes = {
        "create_course",
        "update_course",
        "create_catalog",
        "add_catalog_item",
        "create_group",
        "update_group",
        "enroll",
        "update_enrollments",
    }
    reader_names = set(dir(DoceboReader))
    assert not writes & reader_names
    assert writes <= set(dir(DoceboWriter))
    assert not {n for n in reader_names if n.lstrip("_").startswith(("post", "put", "send_write"))}


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt in range(10):
        delay = policy.backoff(attempt)
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_call_budget_waits_for_the_rolling_hour():
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def go():
        budget = CallBudget(3, clock=lambda: now[0], sleep=fake_sleep)
        for _ in range(3):
            await budget.acquire()
            now[0] += 10
        await budget.acquire()  # the 4th call must wait until the 1st is an hour old

    asyncio.run(go())
    assert slept == [3600.0 - 30.0]


def test_call_budget_from_the_environment_is_checked(monkeypatch):
    monkeypatch.setenv("CERTOPS_CALLS_PER_HOUR", "lots")

    async def go():
        async with connect("https://t.docebosaas.com", credentials=Credentials("a", "secret")):
            pass

    with pytest.raises(LMSAddressError, match="CERTOPS_CALLS_PER_HOUR"):
        asyncio.run(go())


def test_call_budget_applies_to_real_calls(empty):
    async def go():
        async with empty.connect(calls_per_hour=1000) as lms:
            await lms.list_courses()
            budget = lms._http._budget
            return budget.calls_per_hour, len(budget._sent)

    limit, used = asyncio.run(go())
    assert limit == 1000 and used == 2  # the token call counts too


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({}, "https://acme.docebosaas.com", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://acme.docebosaas.com", "http://proxy:3128"),
        ({"https_proxy": "http://p:1"}, "https://acme.docebosaas.com", "http://p:1"),
        ({"HTTP_PROXY": "http://p:1"}, "https://acme.docebosaas.com", None),
        ({"HTTP_PROXY": "http://p:1"}, "http://127.0.0.1:8000", "http://p:1"),
        ({"ALL_PROXY": "http://all:1"}, "https://acme.docebosaas.com", "http://all:1"),
        ({"ALL_PROXY": "http://all:1", "HTTPS_PROXY": "http://s:1"}, "https://a.b", "http://s:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://acme.docebosaas.com", None),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "docebosaas.com"},
            "https://acme.docebosaas.com",
            None,
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "no_proxy": ".docebosaas.com"},
            "https://acme.docebosaas.com",
            None,
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com, acme.docebosaas.com"},
            "https://ACME.docebosaas.com",
            None,
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "saas.com"},
            "https://acme.docebosaas.com",
            "http://p:1",
        ),
        ({"HTTPS_PROXY": "  "}, "https://acme.docebosaas.com", None),
    ],
)
def test_the_environment_names_the_proxy(env, url, expected):
    assert environment_proxy(url, env) == expected


def test_a_tenant_behind_a_proxy_is_reached_through_it(monkeypatch):
    # A real proxy address on loopback: certops must open its tunnel there (CONNECT), not
    # go to the tenant directly. The stand-in proxy records the request and hangs up.
    seen: list[bytes] = []

    async def run() -> None:
        async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readline())
            writer.close()

        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        credentials = Credentials("app", "secret-value")
        retry = RetryPolicy(attempts=1)
        async with (
            server,
            connect("https://acme.docebosaas.com", credentials=credentials, retry=retry) as reader,
        ):
            with pytest.raises(LMSError):
                await reader.list_courses()

    asyncio.run(run())
    assert seen and seen[0].startswith(b"CONNECT acme.docebosaas.com:443 ")
