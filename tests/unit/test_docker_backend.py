"""The Docker back end's pure parts: which compose project a runtime directory is, how a
container is described to operators, what makes the image be rebuilt. (The back end itself runs
against a real engine in the Docker tier: tests/integration/test_docker_*.py.)"""

from __future__ import annotations

from pathlib import Path

from dialer.config.settings import REPO_ROOT, load_settings
from dialer.pbx.docker import COMPOSE, Container, project_name, recipe_digest


def test_the_default_runtime_directory_is_the_users_compose_project(tmp_path: Path) -> None:
    default = load_settings({"OPENDIALER_RUNTIME_DIR": str(REPO_ROOT / "var")})
    assert project_name(default) == "opendialer"
    assert "COMPOSE_PROJECT_NAME=opendialer" in (COMPOSE.parent / ".env").read_text()
    a = project_name(load_settings({"OPENDIALER_RUNTIME_DIR": str(tmp_path / "a")}))
    b = project_name(load_settings({"OPENDIALER_RUNTIME_DIR": str(tmp_path / "b")}))
    assert a.startswith("opendialer-") and b.startswith("opendialer-") and a != b
    assert a == project_name(load_settings({"OPENDIALER_RUNTIME_DIR": str(tmp_path / "a")}))


def test_a_container_is_described_with_state_health_and_restarts() -> None:
    c = Container("pbx", "opendialer-pbx-1", "0123456789ab", "running", "healthy", 2, 4242)
    assert c.running
    assert c.describe() == "container opendialer-pbx-1 running, healthy, restarts 2"
    gone = Container("pbx", "opendialer-pbx-1", "0123456789ab", "exited", "", 0, 0)
    assert not gone.running and gone.describe() == "container opendialer-pbx-1 exited, restarts 0"


def test_another_base_is_another_image_recipe() -> None:
    assert recipe_digest("debian:sid") == recipe_digest("debian:sid")
    assert recipe_digest("debian:sid") != recipe_digest("opendialer/asterisk-base:15e61cd13885")


def test_each_service_checks_its_own_asterisk() -> None:
    text = COMPOSE.read_text()
    for service in ("pbx", "carrier"):
        conf = f"/opendialer/etc/{service}/asterisk.conf"
        assert text.count(conf) == 2, service       # its command and its healthcheck
    assert text.count("-rx 'core show version'") == 2
    assert "restart: unless-stopped" in text and "network_mode: host" in text
