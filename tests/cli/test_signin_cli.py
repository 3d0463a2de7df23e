"""``receiver signin-link`` as a real process: a link made on the store is spent once by the
running receiver's ``POST /api/signin``; names and roles that are not configured are refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from telemetry_service.receiver import hash_api_key
from tests.receiver.processes import serve_receiver
from tests.receiver.support import write_private_keys
from tests.support.cli import run_command

pytestmark = pytest.mark.integration


def receiver_config(tmp_path: Path) -> Path:
    path = tmp_path / "receiver.yml"
    keys = [{"name": "dash", "role": "viewer", "hash": hash_api_key("viewer-key-1234")}]
    store = f"sqlite:///{tmp_path / 'receiver.db'}"
    path.write_text(yaml.safe_dump({"auth": {"apiKeys": keys}, "store": {"url": store}}))
    return path


def test_a_link_from_the_command_line_signs_in_once(tmp_path: Path) -> None:
    config = receiver_config(tmp_path)
    keys = write_private_keys(tmp_path / "receiver.private.jwks.json")
    args = ["--config", str(config), "--keys", str(keys), "--port", "0"]
    with serve_receiver(args, cwd=tmp_path) as server:
        made = run_command(
            "receiver", "signin-link", "--name", "dash", "--page", "/app/events",
            "--url", server.url, "--config", str(config), cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        link, note = made.stdout.splitlines()
        assert link.startswith(server.url + "/signin#token=")
        assert note.startswith("works once, until ")
        assert note.endswith("as dash (viewer)")
        token = link.split("#token=", 1)[1]

        def spend() -> httpx.Response:
            return httpx.post(
                server.url + "/api/signin",
                json={"token": token},
                headers={"kbn-xsrf": "1"},
                timeout=10,
            )

        answer = spend()
        assert answer.status_code == 200, answer.text
        assert (answer.json()["name"], answer.json()["next"]) == ("dash", "/app/events")
        me = httpx.get(
            server.url + "/api/me",
            headers={"Authorization": f"ApiKey {answer.json()['credential']}"},
            timeout=10,
        )
        assert me.json()["role"] == "viewer"
        assert spend().status_code == 410
        assert server.terminate() == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--name", "nobody"], 1, "no API key named 'nobody'"),
        (["--name", "dash", "--role", "admin"], 1, "with the admin role"),
        (["--name", "dash", "--page", "//evil.example"], 2, "a path of the receiver"),
        (["--name", "dash", "--minutes", "61"], 2, "1 to 60"),
    ],
)
def test_refusals(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    config = receiver_config(tmp_path)
    result = run_command("receiver", "signin-link", *args, "--config", str(config), cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
