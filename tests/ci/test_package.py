"""What ``python -m build`` makes of the checkout (the release workflow's build): a wheel
and an sdist that carry the real JSON Schema (the repository's ``schemas/`` entry is a
symlink to the package's copy), the starter file and the type marker, and no symlink."""

from __future__ import annotations

import tarfile
import zipfile

import pytest

from tests.ci.conftest import TREE, Dist

SCHEMA = TREE / "certops" / "schemas" / "certops.schema.json"
PACKAGE_DATA = (
    "certops/schemas/certops.schema.json",
    "certops/starter/product.yaml",
    "certops/py.typed",
)


@pytest.mark.slow
def test_the_wheel_and_sdist_carry_the_real_schema(dist: Dist) -> None:
    assert (TREE / "schemas" / "certops.schema.json").is_symlink()  # the repository's link
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        for name in PACKAGE_DATA:
            assert name in names, name
        assert wheel.read("certops/schemas/certops.schema.json") == SCHEMA.read_bytes()
        metadata = wheel.read(f"certops-{dist.wheel.name.split('-')[1]}.dist-info/METADATA")
        assert b"License-Expression: MIT" in metadata
        assert b"Requires-Python: >=3.11" in metadata
    with tarfile.open(dist.sdist) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
        assert not [m.name for m in members.values() if m.issym() or m.islnk()]
        for name in PACKAGE_DATA:
            assert members[name].isfile(), name
        schema = sdist.extractfile(members["certops/schemas/certops.schema.json"])
        assert schema is not None and schema.read() == SCHEMA.read_bytes()
        assert members["pyproject.toml"].isfile() and members["README.md"].isfile()
