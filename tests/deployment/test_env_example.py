""".env.example documents every variable the service reads: those settings.py reads (found
by watching what it looks up, so a new setting cannot be missed), gunicorn.conf.py's,
entrypoint.sh's, and the ones docker-compose.yml interpolates."""

from __future__ import annotations

import os
import re

import pytest

from backend import settings
from tests.deployment.processes import REPOSITORY

DOCUMENTED = {
    match.group(1)
    for match in re.finditer(
        r"^#? ?([A-Z][A-Z0-9_]*)=", (REPOSITORY / ".env.example").read_text(), re.MULTILINE
    )
}


class RecordingEnviron(dict):
    """os.environ's stand-in: remembers every name looked up."""

    def __init__(self, real: os._Environ) -> None:
        super().__init__(real)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __contains__(self, name) -> bool:
        self.read.add(name)
        return super().__contains__(name)


def names_settings_read(monkeypatch) -> set[str]:
    recording = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", recording)
    settings.load()
    return recording.read


def test_every_variable_settings_read_is_documented(monkeypatch):
    read = names_settings_read(monkeypatch)
    assert {"SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "CORS_ORIGINS"} <= read
    assert sorted(read - DOCUMENTED) == []


@pytest.mark.parametrize(
    ("file", "pattern"),
    [
        ("gunicorn.conf.py", r"(?:os\.environ\.get|_int)\(\s*\"([A-Z][A-Z0-9_]*)\""),
        ("entrypoint.sh", r"\$\{([A-Z][A-Z0-9_]*)"),
        ("docker-compose.yml", r"\$\{([A-Z][A-Z0-9_]*)"),
    ],
)
def test_every_variable_the_start_up_files_read_is_documented(file, pattern):
    read = set(re.findall(pattern, (REPOSITORY / file).read_text()))
    assert read, f"no variable found in {file}: the pattern is out of date"
    assert sorted(read - DOCUMENTED) == []


def test_the_compose_environment_is_documented_too():
    compose = (REPOSITORY / "docker-compose.yml").read_text()
    set_for_backend = set(re.findall(r"^\s+([A-Z][A-Z0-9_]*): ", compose, re.MULTILINE))
    postgres_own = {name for name in set_for_backend if name.startswith("POSTGRES_")}
    assert sorted(set_for_backend - postgres_own - DOCUMENTED) == []
