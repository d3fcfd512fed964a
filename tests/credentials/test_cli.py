"""``tongban credential``: export the trust list from the node, then verify offline (no DB, no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.credentials.factories import marriage_type, official
from tests.identity.factories import make_citizen, make_department
from tongban.credentials import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]


def _offline(tmp_path, *args):
    """The CLI in a fresh process whose database cannot be reached: it must not need one."""
    env = dict(os.environ, DATABASE_URL="postgres://nobody@127.0.0.1:9/none", TONGBAN_DATA_DIR=str(tmp_path / "empty"),
               no_proxy="*", http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    code = "from tongban.site.cli import main; import sys; sys.argv = ['tongban'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, "credential", "verify", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def exported(tmp_path):
    civil = make_department("civil")
    marriage_type(civil)
    clerk = official("civil-clerk", civil)
    good = services.issue_credential(clerk, "marriage", make_citizen().id_number, {"spouse_name": "王五"})
    revoked = services.issue_credential(clerk, "marriage", make_citizen().id_number, {"spouse_name": "赵六"})
    services.revoke(clerk, revoked.pk)
    call_command("credential", "export-trust-list", str(tmp_path / "trust.jws"), "--status-dir", str(tmp_path / "status"))
    (tmp_path / "good.txt").write_text(good.qr_text)
    (tmp_path / "good.jwt").write_text(good.vc_jwt)
    (tmp_path / "revoked.jwt").write_text(revoked.vc_jwt)
    return tmp_path


def _status_args(path):
    return [arg for f in sorted((path / "status").glob("*.jwt")) for arg in ("--status", f)]


def test_offline_verify_valid(exported):
    for name in ("good.txt", "good.jwt"):
        done = _offline(exported, exported / name, "--trust", exported / "trust.jws", *_status_args(exported))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "VALID" in done.stdout


def test_offline_verify_revoked_and_json(exported):
    done = _offline(exported, exported / "revoked.jwt", "--trust", exported / "trust.jws",
                    "--root", exported / "trust.jws.root.json", *_status_args(exported), "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["checks"]["not_revoked"]["code"] == "revoked"


def test_offline_without_status_fails_closed(exported):
    done = _offline(exported, exported / "good.jwt", "--trust", exported / "trust.jws")
    assert done.returncode == 1 and "not_revoked" in done.stdout


def test_wrong_root_refused(exported, tmp_path):
    from tongban.credentials.keys import Ed25519SigningKey

    (tmp_path / "other.json").write_text(json.dumps(Ed25519SigningKey.generate().public_key().public_jwk()))
    done = _offline(exported, exported / "good.jwt", "--trust", exported / "trust.jws", "--root", tmp_path / "other.json")
    assert done.returncode != 0 and "trust_list_bad_signature" in done.stderr + done.stdout
