"""Shared by the bad-input tests: "nothing changed" (rows of every table, the ledger, files on disk),
the error envelope, bearer tokens, raw multipart bodies with any file name."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings

from tongban.identity import tokens
from tongban.identity.models import User
from tongban.ledger import services as ledger

# Tables a refused request may legitimately write: the security monitor's events (a 403 / 429 is
# one), login throttling (django-axes), sessions.
BOOKKEEPING = {"oversight.securityevent", "sessions.session", "axes.accessattempt", "axes.accessfailurelog",
               "axes.accesslog", "axes.accessattemptexpiration"}


def _files(root: Path) -> list[tuple[str, int]]:
    if not root.exists():
        return []
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def state(*roots: Path) -> dict:
    """Row count of every table (but BOOKKEEPING), the ledger's size, and the files under MEDIA_ROOT
    and ``roots``."""
    rows = {model._meta.label_lower: model.objects.count() for model in apps.get_models()
            if model._meta.label_lower not in BOOKKEEPING}
    files = {str(root): _files(Path(root)) for root in (Path(settings.MEDIA_ROOT), *roots)}
    return {"rows": rows, "ledger": ledger.tree_size(), "files": files}


def changed(before: dict, after: dict) -> dict:
    """What differs between two ``state()`` answers (empty when nothing changed)."""
    out = {name: (count, after["rows"][name]) for name, count in before["rows"].items() if after["rows"][name] != count}
    if before["ledger"] != after["ledger"]:
        out["ledger"] = (before["ledger"], after["ledger"])
    if before["files"] != after["files"]:
        out["files"] = (before["files"], after["files"])
    return out


def envelope(response, status: int, code: str) -> dict:
    """The error of an envelope answer, after checking status, code and both messages."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert error["code"] == code, error
    messages = error["messages"]
    assert messages["zh-hans"] and messages["en"], error
    assert any("\u4e00" <= ch <= "\u9fff" for ch in messages["zh-hans"]), error  # Chinese, not an echo
    assert error["message"] in (messages["zh-hans"], messages["en"])
    return error


def bearer(user_or_actor) -> dict:
    username = getattr(user_or_actor, "username", None)
    user = User.objects.get(username=username)
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue_user_token(user).key}"}


def multipart(fields: dict[str, str], files: dict[str, tuple[bytes | str, bytes]],
              boundary: str = "----tongbanBadInput") -> tuple[bytes, str]:
    """A multipart/form-data body written by hand, so a file name reaches the server exactly as
    given (Django's test client keeps only its last path part). ``files``: field → (name, content)."""
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        raw_name = filename if isinstance(filename, bytes) else filename.encode()
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
                     + raw_name + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
