"""``tongban backup`` / ``tongban restore``: one signed archive of a node, and back again.

The archive is a plain tar holding

* ``database.sqlite3`` (SQLite's online backup API: consistent while the server runs) or
  ``database.pgdump`` (``pg_dump --format=custom``, one snapshot);
* ``keystore.enc``: the keystore directory as a tar, encrypted with a passphrase (scrypt +
  AES-256-GCM) — the keys never appear in clear;
* ``checkpoint.txt``: the latest signed ledger checkpoint, read from the same snapshot as the dump;
* ``uploads/…``: the uploaded files, as they are (caches, snapshots and the job queue are
  rebuildable and left out);
* ``manifest.json`` (version, time, vendor, ledger size and root, size and SHA-256 of every
  member) and ``manifest.sig``: the manifest signed with the node's ledger key, the key that
  signs checkpoints, with its verifier key.

Restore checks every hash and the signature before it writes anything, decrypts the keystore,
checks that the key inside it is the key that signed, restores, and then runs the ledger
verification against the restored node in a child process.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings
from django.utils import timezone

from tongban.ledger import keystore, notes

FORMAT = "tongban-backup"
VERSION = 1
MIN_PASSPHRASE = 12
PASSPHRASE_ENV = "TONGBAN_BACKUP_PASSPHRASE"  # noqa: S105 - a variable's name, not a secret
MANIFEST, SIGNATURE, KEYSTORE, CHECKPOINT = "manifest.json", "manifest.sig", "keystore.enc", "checkpoint.txt"
DB_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KEYSTORE_MAGIC = b"TONGBAN-KEYSTORE-1\n"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
CHUNK = 1 << 20
# Created by any ``tongban`` start-up in its data dir; restore may overwrite them.
STARTUP_FILES = {"keystore/django-secret-key", "jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm"}

Say = Callable[[str], None]


class BackupError(Exception):
    """A clear, user-facing reason why a backup or restore stopped."""


# --- passphrase and keystore encryption ------------------------------------------------------


def read_passphrase(passphrase_file: Path | None, *, creating: bool) -> bytes:
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise BackupError(f"cannot read the passphrase file: {exc}") from None
    else:
        text = os.environ.get(PASSPHRASE_ENV, "")
    if not text:
        raise BackupError(f"a passphrase is needed: --passphrase-file FILE or {PASSPHRASE_ENV}")
    if creating and len(text) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase is too short: at least {MIN_PASSPHRASE} characters")
    return text.encode("utf-8")


def _kdf(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def encrypt(plain: bytes, passphrase: bytes) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    header = json.dumps({"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "cipher": "AES-256-GCM",
                         "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode()},
                        sort_keys=True).encode() + b"\n"
    key = _kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return KEYSTORE_MAGIC + header + AESGCM(key).encrypt(nonce, plain, KEYSTORE_MAGIC + header)


def decrypt(blob: bytes, passphrase: bytes) -> bytes:
    if not blob.startswith(KEYSTORE_MAGIC):
        raise BackupError("the encrypted keystore has an unknown format")
    end = blob.index(b"\n", len(KEYSTORE_MAGIC)) + 1
    header = blob[len(KEYSTORE_MAGIC):end]
    params = json.loads(header)
    if params.get("kdf") != "scrypt" or params.get("cipher") != "AES-256-GCM" or not 2 <= params["n"] <= 2**20:
        raise BackupError("the encrypted keystore has unsupported parameters")
    key = _kdf(passphrase, base64.b64decode(params["salt"]), params["n"], params["r"], params["p"])
    try:
        return AESGCM(key).decrypt(base64.b64decode(params["nonce"]), blob[end:], KEYSTORE_MAGIC + header)
    except InvalidTag:
        raise BackupError("wrong passphrase: the keystore does not decrypt (nothing was restored)") from None


def _tar_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith(".tmp-"):
                tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    return buffer.getvalue()


def _untar_directory(data: bytes, target: Path) -> list[str]:
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    names = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for member in tar.getmembers():
            path = _safe_path(target, member.name)
            if not member.isfile():
                raise BackupError(f"the keystore holds something other than a file: {member.name}")
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tar.extractfile(member) as source, _open_private(path) as out:
                shutil.copyfileobj(source, out)
            names.append(member.name)
    return names


def _open_private(path: Path):
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _safe_path(root: Path, name: str) -> Path:
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or "\\" in name:
        raise BackupError(f"unsafe path in the archive: {name!r}")
    return root.joinpath(*parts)


# --- database dumps ---------------------------------------------------------------------------


def vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "sqlite" in engine:
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise BackupError(f"unsupported database engine {engine}")


def _pg_args_env() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args + ["--dbname", db["NAME"]], env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools are needed)") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.returncode}")


def _latest_checkpoint(cursor) -> str | None:
    cursor.execute("SELECT note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1")
    row = cursor.fetchone()
    return row[0] if row else None


_before_dump: list[Callable[[], object]] = []


def register_before_dump(prepare: Callable[[], object]) -> None:
    """Run ``prepare`` before each backup's database dump (an app moving what it keeps outside
    the database into it, e.g. the exchange's SQLite access queue); idempotent."""
    if prepare not in _before_dump:
        _before_dump.append(prepare)


def dump_sqlite(target: Path) -> str | None:
    """Copies the live database with the online backup API; returns the copy's latest checkpoint."""
    source = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        source.close()
    try:
        return _latest_checkpoint(dest.cursor())
    finally:
        dest.close()


def dump_postgresql(target: Path) -> str | None:
    """``pg_dump`` of an exported snapshot; the checkpoint is read in that same snapshot."""
    from django.db import connection, transaction

    args, env = _pg_args_env()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        note = _latest_checkpoint(cursor)
        _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}", *args], env, "pg_dump")
    return note


# --- backup -------------------------------------------------------------------------------------


class _HashingReader:
    def __init__(self, handle) -> None:
        self.handle, self.digest = handle, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


@dataclass
class BackupResult:
    path: Path
    vendor: str
    ledger_size: int
    members: int
    size: int


def backup(out: Path, passphrase: bytes, say: Say) -> BackupResult:
    db_vendor = vendor()
    partial = out.with_name(out.name + ".partial")
    work = Path(tempfile.mkdtemp(prefix=".tongban-backup-", dir=out.parent))
    try:
        signer = keystore.signer()
        for prepare in _before_dump:
            prepare()
        say(f"dumping the {db_vendor} database…")
        dump = work / DB_MEMBER[db_vendor]
        note = dump_sqlite(dump) if db_vendor == "sqlite" else dump_postgresql(dump)
        ledger = {"size": 0, "root": None}
        if note:
            cp = notes.parse_checkpoint(note.split("\n\n", 1)[0] + "\n")
            ledger = {"size": cp.size, "root": cp.root.hex()}
        say(f"ledger checkpoint: size {ledger['size']}")
        say("encrypting the keystore…")
        (work / KEYSTORE).write_bytes(encrypt(_tar_directory(keystore.keystore_dir()), passphrase))
        (work / CHECKPOINT).write_text(note or "", encoding="utf-8")
        members: dict[str, dict] = {}
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in (DB_MEMBER[db_vendor], KEYSTORE, CHECKPOINT):
                members[name] = _add(tar, work / name, name)
            uploads = Path(settings.MEDIA_ROOT)
            files = sorted(p for p in uploads.rglob("*") if p.is_file() and not p.is_symlink()) \
                if uploads.is_dir() else []
            say(f"adding {len(files)} uploaded files…")
            for path in files:
                name = "uploads/" + path.relative_to(uploads).as_posix()
                members[name] = _add(tar, path, name)
            manifest = {
                "format": FORMAT, "version": VERSION, "created_at": timezone.now().isoformat(),
                "node": keystore.node_name(), "crypto_profile": keystore.current_profile().name,
                "database": {"vendor": db_vendor, "member": DB_MEMBER[db_vendor]},
                "keystore": {"member": KEYSTORE, "kdf": "scrypt", "cipher": "AES-256-GCM"},
                "ledger": {**ledger, "checkpoint": CHECKPOINT},
                "signing_key": signer.verifier().verifier_key(),
                "members": members,
            }
            body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
            signature = f"{manifest['signing_key']}\n{base64.b64encode(signer.sign(body)).decode()}\n"
            _add_bytes(tar, MANIFEST, body)
            _add_bytes(tar, SIGNATURE, signature.encode("ascii"))
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, out)
        say(f"wrote {out} ({out.stat().st_size} bytes, {len(members)} members)")
        return BackupResult(out, db_vendor, ledger["size"], len(members), out.stat().st_size)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add(tar: tarfile.TarFile, path: Path, name: str) -> dict:
    with open(path, "rb") as handle:
        info = tar.gettarinfo(fileobj=handle, arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    return {"size": info.size, "sha256": reader.digest.hexdigest()}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(timezone.now().timestamp())
    tar.addfile(info, io.BytesIO(data))
