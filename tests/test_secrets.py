"""Secrets stay with their owner: file modes, the secret's length, the secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from xcomkit import private_files
from xcomkit.settings import Settings
from xcomkit.store.db import make_engine, migrate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_sqlite_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask, as most shells have
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO xcomkit_kv (name, value) VALUES ('k', 'v')"))
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["x.db", "x.db-shm", "x.db-wal"]
        assert {p.name: mode(p) for p in tmp_path.iterdir()} == {name: 0o600 for name in files}
        engine.dispose()
    finally:
        os.umask(old)


def test_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    migrate(make_engine(f"sqlite:///{db}"))
    for p in tmp_path.iterdir():
        p.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert {p.name: mode(p) for p in tmp_path.iterdir() if p.exists()} == {
        p.name: 0o600 for p in tmp_path.iterdir()
    }


def test_write_private_is_never_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(mode(Path(src)))  # the temporary file, before it takes the name
        real_replace(src, dst)

    monkeypatch.setattr(private_files.os, "replace", spy)
    target = tmp_path / "sub" / "passwords.json"
    private_files.write_private(target, '{"admin": "pw"}')
    assert seen == [0o600]
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert target.read_text() == '{"admin": "pw"}'
    assert [p.name for p in target.parent.iterdir()] == ["passwords.json"]


@pytest.mark.parametrize("secret", ["q1Z", "a" * 31, "é" * 15])
def test_short_secret_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(jwt_secret=secret)
    assert "at least 32 bytes" in str(info.value)
    assert secret not in str(info.value)


def test_secret_of_32_bytes_is_accepted() -> None:
    assert Settings(jwt_secret="é" * 16).jwt_secret == "é" * 16


def test_secret_file_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "secret"
    good.write_text("s" * 40 + "\n")
    assert Settings(jwt_secret_file=good).jwt_secret == "s" * 40
    short = tmp_path / "short"
    short.write_text("tiny\n")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret_file=short)
    with pytest.raises(ValidationError, match="cannot read XCOMKIT_JWT_SECRET_FILE"):
        Settings(jwt_secret_file=tmp_path / "missing")
    with pytest.raises(ValidationError, match="not both"):
        Settings(jwt_secret="t" * 40, jwt_secret_file=good)


def test_secret_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret"
    path.write_text("e" * 48)
    monkeypatch.setenv("XCOMKIT_JWT_SECRET_FILE", str(path))
    assert Settings().jwt_secret == "e" * 48


def test_database_planted_by_another_user_in_a_shared_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = shared / "x.db"
    planted.touch()
    if os.geteuid() == 0:
        os.chown(planted, 65534, 65534)  # nobody
    else:
        pytest.skip("needs root to plant a file owned by another user")
    with pytest.raises(PermissionError, match="anyone may write to"):
        make_engine(f"sqlite:///{planted}")


def test_symlink_in_a_shared_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    target = tmp_path / "elsewhere.db"
    target.touch()
    (shared / "x.db").symlink_to(target)
    with pytest.raises(PermissionError, match="symbolic link"):
        make_engine(f"sqlite:///{shared / 'x.db'}")


def test_own_database_in_a_shared_directory_is_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    migrate(make_engine(f"sqlite:///{shared / 'x.db'}"))
    make_engine(f"sqlite:///{shared / 'x.db'}").dispose()
    assert mode(shared / "x.db") == 0o600


def test_secret_file_readable_by_others_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret"
    path.write_text("w" * 40)
    path.chmod(0o644)
    assert Settings(jwt_secret_file=path).jwt_secret == "w" * 40
    assert "readable by other users" in caplog.text
    caplog.clear()
    path.chmod(0o600)
    Settings(jwt_secret_file=path)
    assert "readable by other users" not in caplog.text
