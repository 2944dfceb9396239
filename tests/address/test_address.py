"""The LMS address: parsed once with today's rules, displayed as plans record it, and
identified however it is spelled (what the writer lock keys on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certops.address import (
    AddressKind,
    LMSAddress,
    TenantIdentity,
    parse_address,
    sandbox_address,
)
from certops.errors import LMSAddressError
from certops.lms.errors import LMSAddressError as FromTheLMSPackage
from certops.lock import lock_dir, lock_path

ROOT = Path(__file__).resolve().parents[2]


def test_the_error_is_the_lms_package_s_too() -> None:
    assert FromTheLMSPackage is LMSAddressError


@pytest.mark.parametrize("bad", ["ftp://x", "tenant.docebosaas.com", "sandbox:", "", "https://"])
def test_bad_addresses_say_what_is_expected(bad: str) -> None:
    with pytest.raises(LMSAddressError, match=r"https://|sandbox"):
        parse_address(bad)


def test_url_with_credentials_is_refused() -> None:
    with pytest.raises(LMSAddressError, match="DOCEBO_"):
        parse_address("https://user:pw@t.docebosaas.com")


@pytest.mark.parametrize("host", ["acme.docebosaas.com", "10.0.0.5", "127.0.0.2"])
def test_plain_http_is_only_for_this_machine(host: str) -> None:
    with pytest.raises(LMSAddressError, match=rf"refusing plain http:// to {host}"):
        parse_address(f"http://{host}:8000")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_plain_http_to_this_machine_is_a_local_tenant(host: str) -> None:
    address = parse_address(f"http://{host}:8000")
    assert address.kind is AddressKind.TENANT and address.is_local


@pytest.mark.parametrize(
    ("text", "kind", "location", "display", "host"),
    [
        (
            "https://t.docebosaas.com/some/path",
            AddressKind.TENANT,
            "https://t.docebosaas.com",
            "https://t.docebosaas.com",
            "t.docebosaas.com",
        ),
        (
            "  https://ACME.docebosaas.com:443/  ",
            AddressKind.TENANT,
            "https://ACME.docebosaas.com:443",
            "https://ACME.docebosaas.com:443",
            "acme.docebosaas.com",
        ),
        (
            "sandbox:.certops/sandbox.db",
            AddressKind.SANDBOX,
            ".certops/sandbox.db",
            "sandbox:.certops/sandbox.db",
            "sandbox:.certops/sandbox.db",
        ),
        (" sandbox:x.db ", AddressKind.SANDBOX, "x.db", "sandbox:x.db", "sandbox:x.db"),
    ],
)
def test_parsed_once_displayed_as_plans_record_it(
    text: str, kind: AddressKind, location: str, display: str, host: str
) -> None:
    address = parse_address(text)
    assert (address.kind, address.location) == (kind, location)
    # The form plans record as ``lms`` (their digest covers it): what it always was.
    assert address.display == str(address) == display
    assert address.host == host
    assert parse_address(address.display) == address


def test_only_sandboxes_and_loopback_hosts_are_local() -> None:
    assert sandbox_address("x.db").is_local
    assert parse_address("http://127.0.0.1:8000").is_local
    assert not parse_address("https://acme.docebosaas.com").is_local


def test_a_tenant_is_identified_however_it_is_spelled() -> None:
    spellings = [
        "https://acme.docebosaas.com",
        "https://ACME.docebosaas.com",
        "https://acme.docebosaas.com:443",
        "https://acme.docebosaas.com./learn",
    ]
    identities = {parse_address(text).identity for text in spellings}
    assert identities == {TenantIdentity("https", "acme.docebosaas.com", 443)}
    assert parse_address("https://acme.docebosaas.com:8443").identity != identities.pop()
    assert parse_address("http://localhost:8000").same_lms(parse_address("http://LOCALHOST:8000"))
    assert not parse_address("http://localhost:8000").same_lms(
        parse_address("https://localhost:8000")
    )


def test_a_sandbox_is_identified_by_its_real_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real.db").write_bytes(b"")
    (tmp_path / "link.db").symlink_to(tmp_path / "real.db")
    spellings = ["sandbox:real.db", "sandbox:./real.db", f"sandbox:{tmp_path}/real.db"]
    spellings.append("sandbox:link.db")
    assert {parse_address(text).identity for text in spellings} == {tmp_path / "real.db"}


def test_the_writer_lock_keys_on_the_lms_not_its_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.db").write_bytes(b"")
    assert lock_path(parse_address("sandbox:./s.db")) == lock_path(sandbox_address("s.db"))
    assert lock_path(sandbox_address("s.db")) == tmp_path / "s.db.lock"
    work = tmp_path / "w"
    same = {
        lock_path(parse_address(t), work)
        for t in ("https://acme.docebosaas.com", "https://ACME.docebosaas.com:443/x")
    }
    assert same == {work / "acme.docebosaas.com.lock"}
    loopback = {
        lock_path(parse_address(t), work)
        for t in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000/")
    }
    assert loopback == {work / "localhost_8000.lock"}
    assert lock_path(parse_address("https://acme.docebosaas.com.")).parent == lock_dir()


def test_tenant_locks_live_where_every_folder_sees_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in the working folder: two runs started in two folders share one lock."""
    tenant = parse_address("https://acme.docebosaas.com")
    monkeypatch.setenv("CERTOPS_LOCK_DIR", str(tmp_path / "locks"))
    assert lock_path(tenant) == tmp_path / "locks" / "acme.docebosaas.com.lock"
    monkeypatch.delenv("CERTOPS_LOCK_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert lock_dir() == tmp_path / "state" / "certops" / "locks"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert lock_path(tenant) == (
            tmp_path
            / "home"
            / ".local"
            / "state"
            / "certops"
            / "locks"
            / "acme.docebosaas.com.lock"
        )


def test_an_address_built_directly_is_checked_as_parsed() -> None:
    with pytest.raises(LMSAddressError):
        LMSAddress(AddressKind.TENANT, "https://acme.docebosaas.com/path")
    with pytest.raises(LMSAddressError, match="needs a path"):
        LMSAddress(AddressKind.SANDBOX, "")
    with pytest.raises(LMSAddressError):
        parse_address("https://acme.docebosaas.com:99999")


def test_it_loads_nothing_but_the_standard_library_and_the_records() -> None:
    code = (
        "import sys, json, certops.address; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('certops'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == '["certops", "certops.address", "certops.errors"]'
