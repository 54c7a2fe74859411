"""The lock files agree with setup.cfg: a requirement added or tightened there without running
``scripts/lock.sh`` fails here, rather than as an environment that differs from machine to machine."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run scripts/lock.sh to regenerate requirements/"


def _requirements(value: str) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in value.splitlines())
    return [Requirement(line) for line in lines if line]


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config


def _pins(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of one lock file (every line ``name==version``)."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, _, version = line.partition("==")
            assert version, f"requirements/{name}: {line!r} is not pinned with =="
            pins[canonicalize_name(package)] = version
    return pins


RUNTIME = _requirements(_setup_cfg()["options"]["install_requires"])
TEST_EXTRA = _requirements(_setup_cfg()["options.extras_require"]["test"])


@pytest.mark.parametrize(
    ("lock", "required"),
    [("service.txt", RUNTIME), ("test.txt", RUNTIME + TEST_EXTRA)],
)
def test_lock_satisfies_setup_cfg(lock: str, required: list[Requirement]) -> None:
    pins = _pins(lock)
    for requirement in required:
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement} is missing from requirements/{lock}: {REGENERATE}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {requirement.name}=={version}, outside {requirement}: {REGENERATE}"
        )


def test_service_and_test_locks_pin_alike() -> None:
    service, test = _pins("service.txt"), _pins("test.txt")
    differ = {name: (version, test.get(name)) for name, version in service.items() if test.get(name) != version}
    assert not differ, f"service.txt and test.txt disagree on {differ}: {REGENERATE}"


@pytest.mark.parametrize("name", ["whoosh-reloaded", "rjieba"])
def test_private_api_dependencies_are_pinned_exactly(name: str) -> None:
    """kb/search relies on whoosh-reloaded's private names and on rjieba's tokens: an upgrade is a deliberate step
    (tests/test_whoosh_contract.py first), never a side effect of an install."""
    (requirement,) = (r for r in RUNTIME if canonicalize_name(r.name) == name)
    assert [spec.operator for spec in requirement.specifier] == ["=="], f"setup.cfg: {requirement} is not exact"
