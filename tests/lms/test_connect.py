"""Connecting: credentials from the environment, pacing, secrets kept out of reprs."""

from __future__ import annotations

import asyncio

import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.errors import LMSError
from certops.lms import CallBudget, Credentials, RetryPolicy, credentials_from_env
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


def test_missing_sandbox_file_says_to_run_init(tmp_path):
    async def go():
        async with connect_reader(parse_address(f"sandbox:{tmp_path / 'none.db'}")):
            pass

    with pytest.raises(LMSAddressError, match="certops sandbox init"):
        asyncio.run(go())


def test_tenant_without_credentials_names_the_variables(monkeypatch):
    for name in ("DOCEBO_CLIENT_ID", "DOCEBO_CLIENT_SECRET", "DOCEBO_USERNAME", "DOCEBO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    async def go():
        async with connect_reader(parse_address("https://t.docebosaas.com")):
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
        async with connect_reader(
            parse_address("https://t.docebosaas.com"), credentials=Credentials("a", "secret")
        ):
            pass

    with pytest.raises(LMSAddressError, match="CERTOPS_CALLS_PER_HOUR"):
        asyncio.run(go())


def test_call_budget_applies_to_real_calls(empty):
    async def go():
        async with empty.reader(calls_per_hour=1000) as lms:
            await lms.list_courses()
            budget = lms._http._budget
            return budget.calls_per_hour, len(budget._sent)

    limit, used = asyncio.run(go())
    assert limit == 1000 and used == 2  # the token call counts too


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
            connect_reader(
                parse_address("https://acme.docebosaas.com"), credentials=credentials, retry=retry
            ) as reader,
        ):
            with pytest.raises(LMSError):
                await reader.list_courses()

    asyncio.run(run())
    assert seen and seen[0].startswith(b"CONNECT acme.docebosaas.com:443 ")
