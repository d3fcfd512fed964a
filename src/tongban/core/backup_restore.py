"""``tongban restore``: an archive from ``tongban backup`` onto an empty data dir and database.

Nothing is written before the archive has proved itself: every member's SHA-256 against the
manifest, the manifest's signature, the passphrase (the keystore decrypts), the key inside
the keystore being the one that signed, and the archived checkpoint verifying under it. Then
the database (a SQLite file under the data dir, or ``pg_restore`` in one transaction into an
empty PostgreSQL database), the keystore and the uploads are put in place, and the restored
node's ledger is verified by ``tongban ledger verify`` in a child process that sees only the
new data dir; its latest checkpoint must be the archived one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tongban.core.backup import (
    CHECKPOINT,
    CHUNK,
    DB_MEMBER,
    FORMAT,
    KEYSTORE,
    MANIFEST,
    SIGNATURE,
    STARTUP_FILES,
    VERSION,
    BackupError,
    Say,
    _open_private,
    _pg_args_env,
    _run,
    _safe_path,
    _untar_directory,
    decrypt,
    vendor,
)
from tongban.ledger import keystore, notes


@dataclass
class RestoreResult:
    vendor: str
    ledger_size: int
    uploads: int
    keystore_files: int
    verify_summary: str


def check_empty_data_dir(data_dir: Path) -> None:
    """Refuses a data dir holding anything but what a ``tongban`` start-up creates by itself."""
    found = []
    for path in data_dir.rglob("*"):
        name = path.relative_to(data_dir).as_posix()
        if path.is_dir() or name in STARTUP_FILES or name.startswith("static/"):
            continue
        found.append(name)
    if found:
        raise BackupError(f"the data dir {data_dir} is not empty ({', '.join(sorted(found)[:5])}…): "
                          "restore only into an empty one")


def _sqlite_target(data_dir: Path) -> Path:
    if os.environ.get("DATABASE_URL"):
        return Path(settings.DATABASES["default"]["NAME"])
    return data_dir / "tongban.sqlite3"


def check_empty_database(db_vendor: str, data_dir: Path) -> None:
    if db_vendor == "sqlite":
        target = _sqlite_target(data_dir)
        if target.exists() and target.stat().st_size > 0:
            raise BackupError(f"the target database {target} exists: restore only into a new one")
        return
    from django.db import connection

    tables = connection.introspection.table_names()
    connection.close()
    if tables:
        raise BackupError(f"the target database {settings.DATABASES['default']['NAME']} is not empty "
                          f"({len(tables)} tables): restore only into an empty database")


def read_manifest(tar: tarfile.TarFile, expect_key: str | None) -> dict:
    """The manifest, after its signature checked out."""
    try:
        body = tar.extractfile(MANIFEST).read()
        key_line, sig_line = tar.extractfile(SIGNATURE).read().decode("ascii").splitlines()[:2]
    except (KeyError, AttributeError, ValueError, UnicodeDecodeError):
        raise BackupError("not a tongban backup: manifest or signature missing") from None
    try:
        verifier = notes.parse_verifier_key(key_line)
        good = verifier.verify(body, base64.b64decode(sig_line, validate=True))
    except (notes.KeyFormatError, ValueError):
        good = False
    if not good:
        raise BackupError("the manifest's signature does not verify: the archive was altered (nothing restored)")
    if expect_key and key_line != expect_key:
        raise BackupError(f"the archive was signed by {key_line}, not by the expected key")
    manifest = json.loads(body)
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(f"unsupported archive format {manifest.get('format')} {manifest.get('version')}")
    if manifest["signing_key"] != key_line:
        raise BackupError("the manifest names another signing key than the one that signed it")
    return manifest


def extract_verified(tar: tarfile.TarFile, manifest: dict, staging: Path) -> None:
    """Extracts every member into ``staging``, each checked against the manifest's hash and size."""
    expected = dict(manifest["members"])
    for member in tar.getmembers():
        if member.name in (MANIFEST, SIGNATURE):
            continue
        entry = expected.pop(member.name, None)
        if entry is None or not member.isfile():
            raise BackupError(f"the archive holds {member.name!r}, which the manifest does not list (altered)")
        path = _safe_path(staging, member.name)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with tar.extractfile(member) as source, _open_private(path) as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != entry["sha256"] or member.size != entry["size"]:
            raise BackupError(f"{member.name} does not match its SHA-256 in the manifest: "
                              "the archive was altered or damaged (nothing restored)")
    if expected:
        raise BackupError(f"the archive lacks {', '.join(sorted(expected))} (truncated or altered)")


def check_keystore(staging_keys: Path, manifest: dict) -> None:
    """The key inside the keystore must be the one that signed; the checkpoint must verify under it."""
    profile = keystore.PROFILES[manifest["crypto_profile"]]
    if profile is not keystore.current_profile():
        raise BackupError(f"the archive uses the {profile.name} crypto profile; set TONGBAN_CRYPTO_PROFILE to it")
    pem = staging_keys / profile.key_file
    if not pem.exists():
        raise BackupError(f"the keystore lacks the ledger key {profile.key_file}")
    key = notes.load_private_key_pem(pem.read_bytes())
    verifier = profile.make_signer(manifest["node"], key).verifier()
    if verifier.verifier_key() != manifest["signing_key"]:
        raise BackupError("the keystore's ledger key is not the key that signed the archive")
    note = (staging_keys.parent / CHECKPOINT).read_text(encoding="utf-8")
    if note:
        try:
            checkpoint = notes.open_checkpoint(note, [verifier], manifest["node"])
        except notes.NoteError as exc:
            raise BackupError(f"the archived checkpoint does not verify: {exc}") from None
        if checkpoint.size != manifest["ledger"]["size"]:
            raise BackupError("the archived checkpoint's size differs from the manifest's")


def restore(archive: Path, data_dir: Path, passphrase: bytes, say: Say, *,
            expect_key: str | None = None) -> RestoreResult:
    db_vendor = vendor()
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_empty_data_dir(data_dir)
    check_empty_database(db_vendor, data_dir)
    try:
        tar = tarfile.open(archive, "r:")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    try:
        with tar:
            say("checking the manifest's signature…")
            manifest = read_manifest(tar, expect_key)
            if manifest["database"]["vendor"] != db_vendor:
                raise BackupError(f"the archive holds a {manifest['database']['vendor']} database; the target is "
                                  f"{db_vendor} (set or unset DATABASE_URL)")
            say(f"checking {len(manifest['members'])} members against their SHA-256…")
            extract_verified(tar, manifest, staging)
        say("decrypting the keystore…")
        plain = decrypt((staging / KEYSTORE).read_bytes(), passphrase)
        keystore_files = _untar_directory(plain, staging / "keystore")
        check_keystore(staging / "keystore", manifest)
        archived_note = (staging / CHECKPOINT).read_text(encoding="utf-8")
        say(f"restoring the {db_vendor} database…")
        dump = staging / DB_MEMBER[db_vendor]
        if db_vendor == "sqlite":
            target = _sqlite_target(data_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(dump, target)
        else:
            args, env = _pg_args_env()
            _run(["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", *args,
                  str(dump)], env, "pg_restore")
        say("restoring the keystore and uploads…")
        keys = data_dir / "keystore"
        keys.mkdir(mode=0o700, exist_ok=True)
        for name in keystore_files:
            destination = _safe_path(keys, name)
            destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(_safe_path(staging / "keystore", name), destination)
        uploads = 0
        if (staging / "uploads").is_dir():
            for path in sorted((staging / "uploads").rglob("*")):
                if path.is_file():
                    destination = data_dir / "uploads" / path.relative_to(staging / "uploads")
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, destination)
                    uploads += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say("verifying the restored ledger…")
    summary = verify_restored(data_dir, archived_note)
    return RestoreResult(db_vendor, manifest["ledger"]["size"], uploads, len(keystore_files), summary)


_CHILD = "import django; django.setup(); from tongban.core.backup_restore import report; report()"


def verify_restored(data_dir: Path, archived_note: str) -> str:
    """Runs ``tongban ledger verify`` on the restored node, in a process that sees only it."""
    env = {**os.environ, "TONGBAN_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "tongban.site.settings"}
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,  # noqa: S603
                          check=False)
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BackupError(f"the restored node did not start: {done.stderr.strip()[-2000:]}") from None
    if not result["ok"]:
        raise BackupError(f"the restored ledger does not verify: {result['message']}")
    if (result["checkpoint"] or "") != archived_note:
        raise BackupError("the restored ledger's latest checkpoint differs from the archived one")
    return result["message"]


def report() -> None:
    """In the child: the ledger verification's verdict and the latest checkpoint, as one JSON line."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from tongban.ledger import services

    out = io.StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
        ok, message = True, out.getvalue().strip()
    except CommandError as exc:
        ok, message = False, str(exc)
    latest = services.latest_checkpoint()
    print(json.dumps({"ok": ok, "message": message, "checkpoint": latest.note if latest else None}))
