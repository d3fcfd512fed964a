"""``tongban backup`` / ``tongban restore``, end to end in subprocesses, on the suite's database.

On the SQLite run the nodes are SQLite files in temporary data dirs; on the PostgreSQL run
(``DATABASE_URL`` set) each node gets a database of its own, created and dropped here.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from tongban.core.backup import BackupError, decrypt, encrypt

TONGBAN = str(Path(sys.executable).with_name("tongban"))
PASSPHRASE = "correct horse battery staple"
PG_URL = os.environ.get("DATABASE_URL", "")
ON_PG = PG_URL.startswith(("postgres://", "postgresql://"))

RECORD = (
    "import django; django.setup()\n"
    "from django.db import transaction\n"
    "from tongban.ledger import services\n"
    "for batch in range(3):\n"
    "    with transaction.atomic():\n"
    "        for i in range(7):\n"
    "            services.record(actor='clerk', action='test.recorded', subject=f'resource:R-{i:04d}',\n"
    "                            payload={'batch': batch, 'i': i, 'note': '数据共享'}, department='market')\n"
    "    services.integrate()\n"
)
# One access answered on SQLite's hot path and still in the access queue file when the backup runs.
QUEUE_ONE_ACCESS = (
    "import django; django.setup()\n"
    "from django.db import connection\n"
    "from tongban.exchange.services import access_queue\n"
    "access_queue.enqueue(access_queue.queue_path(connection), ['2026-11-23 10:00:00', None, 'civil-00001',\n"
    "                     'health', 'clerk', 'query', '[\"name\"]', '核查', 'a' * 64, 1, 1])\n"
)
ACCESSES = (
    "import django; django.setup()\n"
    "from tongban.exchange.models import Access\n"
    "print(list(Access.objects.values_list('resource_code', 'consumer_code', 'subject_hash')))\n"
)
LATEST = (
    "import django; django.setup()\n"
    "from tongban.ledger import services\n"
    "print(services.latest_checkpoint().note, end='')\n"
)


def _admin():
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(PG_URL)
    return config, psycopg.connect(host=config["HOST"] or None, port=config["PORT"] or None,
                                   user=config["USER"] or None, password=config["PASSWORD"] or None,
                                   dbname="postgres", autocommit=True)


class Nodes:
    """Creates nodes (a data dir, and on PostgreSQL a database) and removes their databases."""

    def __init__(self, root: Path) -> None:
        self.root, self.databases = root, []

    def new(self, name: str) -> dict[str, str]:
        env = {**os.environ, "TONGBAN_DATA_DIR": str(self.root / name),
               "DJANGO_SETTINGS_MODULE": "tongban.site.settings"}
        env.pop("TONGBAN_BACKUP_PASSPHRASE", None)
        env.pop("TONGBAN_SECRET_KEY", None)
        if ON_PG:
            config, admin = _admin()
            db = f"tongban_backup_{uuid.uuid4().hex[:12]}"
            with admin:
                admin.execute(f'CREATE DATABASE "{db}"')
            self.databases.append(db)
            user = f"{config['USER']}{':' + config['PASSWORD'] if config['PASSWORD'] else ''}@"
            env["DATABASE_URL"] = f"postgres://{user}{config['HOST']}:{config['PORT'] or 5432}/{db}"
        else:
            env.pop("DATABASE_URL", None)
        return env

    def drop_all(self) -> None:
        if not ON_PG:
            return
        _, admin = _admin()
        with admin:
            for db in self.databases:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def run(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess:
    done = subprocess.run([TONGBAN, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def latest_note(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", LATEST], env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def tables(env: dict[str, str]) -> int:
    code = ("import django; django.setup()\nfrom django.db import connection\n"
            "print(len(connection.introspection.table_names()))\n")
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True, timeout=120).stdout)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    created = Nodes(tmp_path_factory.mktemp("nodes"))
    yield created
    created.drop_all()


@pytest.fixture(scope="module")
def source(nodes, tmp_path_factory):
    """A node with 21 ledger entries in three checkpoints and one upload, and its backup."""
    env = nodes.new("source")
    run(env, "migrate", "-v0", check=True)
    subprocess.run([sys.executable, "-c", RECORD], env=env, check=True, timeout=120)
    run(env, "ledger", "verify", check=True)
    if not ON_PG:
        subprocess.run([sys.executable, "-c", QUEUE_ONE_ACCESS], env=env, check=True, timeout=120)
    upload = Path(env["TONGBAN_DATA_DIR"]) / "uploads" / "applications" / "form.pdf"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"%PDF-1.4 test upload")
    out = tmp_path_factory.mktemp("archives")
    secret = out / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    done = run(env, "backup", str(out / "node.tar"), "--passphrase-file", str(secret), check=True)
    assert "backup OK" in done.stdout and "ledger size 21" in done.stdout
    assert "dumping the" in done.stderr  # progress goes to stderr
    return {"env": env, "archive": out / "node.tar", "passphrase": secret, "note": latest_note(env)}


def _restore(env, archive, data_dir=None, passphrase=None):
    data_dir = data_dir or env["TONGBAN_DATA_DIR"]
    args = ["restore", str(archive), "--data-dir", str(data_dir)]
    return run(env, *args, "--passphrase-file", str(passphrase)) if passphrase else run(env, *args)


def _nothing_restored(env) -> None:
    data_dir = Path(env["TONGBAN_DATA_DIR"])
    assert not (data_dir / "tongban.sqlite3").exists()
    assert not (data_dir / "keystore" / "ledger-ed25519.pem").exists()
    assert not (data_dir / "uploads").exists()
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".restore-")]
    if ON_PG:
        assert tables(env) == 0


def test_round_trip_gives_a_node_whose_ledger_verifies(source, nodes):
    target = nodes.new("restored")
    done = _restore(target, source["archive"], passphrase=source["passphrase"])
    assert done.returncode == 0, done.stderr
    assert "restore OK" in done.stdout and "ledger size 21" in done.stdout and "1 uploads" in done.stdout
    assert "ledger OK: 21 entries" in done.stdout
    # An independent start of the restored node: the same ledger, the same checkpoint, the same key.
    verified = run(target, "ledger", "verify", check=True)
    assert "21 entries" in verified.stdout and "3 checkpoints" in verified.stdout
    assert latest_note(target) == source["note"]
    old, new = Path(source["env"]["TONGBAN_DATA_DIR"]), Path(target["TONGBAN_DATA_DIR"])
    pem = "keystore/ledger-ed25519.pem"
    assert (new / pem).read_bytes() == (old / pem).read_bytes()
    assert (new / pem).stat().st_mode & 0o077 == 0
    assert (new / "uploads/applications/form.pdf").read_bytes() == b"%PDF-1.4 test upload"
    if not ON_PG:
        assert (new / "tongban.sqlite3").exists()
        # The access still queued when the backup ran was moved into the database first.
        restored = subprocess.run([sys.executable, "-c", ACCESSES], env=target, capture_output=True, text=True,
                                  check=True, timeout=120).stdout
        assert restored.strip() == str([("civil-00001", "health", "a" * 64)])


def test_keystore_never_in_clear(source):
    blob = source["archive"].read_bytes()
    keys = Path(source["env"]["TONGBAN_DATA_DIR"]) / "keystore"
    assert b"PRIVATE KEY" not in blob
    for path in keys.iterdir():
        secret = path.read_bytes()
        body = b"".join(line for line in secret.splitlines() if not line.startswith(b"-----"))
        assert body.strip() and body.strip() not in blob, path.name
    with tarfile.open(source["archive"]) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert not [n for n in names if n.startswith("keystore/")]
    assert manifest["database"]["vendor"] == ("postgresql" if ON_PG else "sqlite")
    assert manifest["ledger"]["size"] == 21 and len(manifest["ledger"]["root"]) == 64
    assert set(manifest["members"]) == set(names) - {"manifest.json", "manifest.sig"}


def _rewrite(archive: Path, out: Path, change) -> Path:
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            data = change(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize("what", ["database", "upload", "manifest", "signature", "checkpoint"])
def test_tampered_archive_is_refused_and_nothing_restored(source, nodes, tmp_path, what):
    def change(name: str, data: bytes) -> bytes:
        if what == "database" and name.startswith("database."):
            return _flip_last(data)
        if what == "upload" and name.startswith("uploads/"):
            return data + b" (edited)"
        if what == "manifest" and name == "manifest.json":
            return data.replace(b'"size": 21', b'"size": 22')
        if what == "signature" and name == "manifest.sig":
            key, sig = data.decode().splitlines()
            return f"{key}\n{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}\n".encode()
        if what == "checkpoint" and name == "checkpoint.txt":
            return data.replace(b"21\n", b"20\n", 1)
        return data

    tampered = _rewrite(source["archive"], tmp_path / "tampered.tar", change)
    target = nodes.new(f"tampered-{what}")
    done = _restore(target, tampered, passphrase=source["passphrase"])
    assert done.returncode != 0
    assert "restore FAILED" in done.stderr
    assert ("altered" in done.stderr) or ("does not match" in done.stderr), done.stderr
    _nothing_restored(target)


def test_wrong_passphrase_is_refused(source, nodes, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not the right passphrase")
    target = nodes.new("wrong-passphrase")
    done = _restore(target, source["archive"], passphrase=wrong)
    assert done.returncode != 0 and "wrong passphrase" in done.stderr
    _nothing_restored(target)


def test_non_empty_data_dir_is_refused(source, nodes):
    target = nodes.new("non-empty")
    data_dir = Path(target["TONGBAN_DATA_DIR"])
    (data_dir / "uploads").mkdir(parents=True)
    (data_dir / "uploads" / "existing.txt").write_text("keep me")
    done = _restore(target, source["archive"], passphrase=source["passphrase"])
    assert done.returncode != 0 and "is not empty" in done.stderr
    assert (data_dir / "uploads" / "existing.txt").read_text() == "keep me"
    assert not (data_dir / "keystore" / "ledger-ed25519.pem").exists()


def test_non_empty_database_is_refused(source, nodes, tmp_path):
    """Into the source node's own database (PostgreSQL) or an existing SQLite file."""
    if ON_PG:
        target = {**nodes.new("non-empty-db"), "DATABASE_URL": source["env"]["DATABASE_URL"]}
    else:
        target = {**source["env"], "DATABASE_URL": f"sqlite:///{Path(source['env']['TONGBAN_DATA_DIR'])}"
                                                   "/tongban.sqlite3"}
        target["TONGBAN_DATA_DIR"] = str(tmp_path / "fresh")
    done = _restore(target, source["archive"], passphrase=source["passphrase"])
    assert done.returncode != 0 and "restore only into" in done.stderr, done.stderr
    assert latest_note(source["env"]) == source["note"]


def test_backup_refuses_a_short_or_missing_passphrase(source, tmp_path):
    short = tmp_path / "short"
    short.write_text("too-short")
    out = tmp_path / "out.tar"
    done = run(source["env"], "backup", str(out), "--passphrase-file", str(short))
    assert done.returncode != 0 and "too short" in done.stderr
    done = run(source["env"], "backup", str(out))
    assert done.returncode != 0 and "passphrase is needed" in done.stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_backup_passphrase_from_the_environment_and_no_partial_left(source, nodes, tmp_path):
    env = {**source["env"], "TONGBAN_BACKUP_PASSPHRASE": PASSPHRASE}
    out = tmp_path / "env.tar"
    run(env, "backup", str(out), check=True)
    assert out.exists() and not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".tongban-backup-*"))
    target = {**nodes.new("from-env"), "TONGBAN_BACKUP_PASSPHRASE": PASSPHRASE}
    done = _restore(target, out)
    assert done.returncode == 0, done.stderr
    assert latest_note(target) == source["note"]


def test_encryption_round_trip_and_wrong_passphrase():
    blob = encrypt(b"secret key material", b"a long passphrase")
    assert b"secret key material" not in blob
    assert decrypt(blob, b"a long passphrase") == b"secret key material"
    with pytest.raises(BackupError, match="wrong passphrase"):
        decrypt(blob, b"another passphrase")


def test_expect_key_refuses_an_archive_signed_by_another_key(source, nodes):
    target = nodes.new("expect-key")
    other = "tongban.330000+00000000+AW0bM2Vnn2Z0bS3Ii2bZ1hPHWFgOpbFHX5yrWmS5DUZD"
    done = run(target, "restore", str(source["archive"]), "--data-dir", target["TONGBAN_DATA_DIR"],
               "--passphrase-file", str(source["passphrase"]), "--expect-key", other)
    assert done.returncode != 0 and "not by the expected key" in done.stderr
    _nothing_restored(target)
