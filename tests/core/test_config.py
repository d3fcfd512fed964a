"""``core.config``: the data dir a fresh deployment gets."""

from __future__ import annotations

from tongban.core import config


def test_a_new_data_dir_is_private_to_the_platform(tmp_path, monkeypatch):
    # It holds the SQLite database and the access queue: personal data, not for other local users.
    target = tmp_path / "srv" / "tongban"
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(target))
    assert config.data_dir() == target.resolve()
    assert target.stat().st_mode & 0o777 == 0o700


def test_an_existing_data_dir_is_left_as_the_operator_set_it(tmp_path, monkeypatch):
    target = tmp_path / "shared"
    target.mkdir(mode=0o750)
    target.chmod(0o750)
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(target))
    config.data_dir()
    assert target.stat().st_mode & 0o777 == 0o750
