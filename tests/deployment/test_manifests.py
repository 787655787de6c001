"""compose.yaml, the Kubernetes manifests and the Dockerfile against the settings and each other:
the variables they set, the commands, ports and health checks, migrations first, one beat, static files."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from config import environment
from config.environment import ROOT

from . import platform_files as pf
from .conftest import database_url

ROLES = ("web", "worker", "beat")
# Variables of Python, pip and Django's bootstrap the image sets for itself.
IMAGE_OWN = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "DJANGO_SETTINGS_MODULE"}


def test_every_variable_compose_and_kubernetes_set_is_one_the_platform_reads():
    readable = environment.platform_names()
    for name, service in pf.app_services().items():
        unknown = pf.compose_environment(service) - readable
        # The db container's own variables come from the same shared env file (its service reads them).
        unknown -= {v.name for v in environment.VARIABLES if v.reader == "db"}
        assert not unknown, f"compose service {name} sets variables nothing reads: {sorted(unknown)}"
    assert {"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB"} <= pf.compose_environment(
        pf.compose()["services"]["db"]
    )
    for container in pf.containers():
        unknown = container.environment - readable
        assert not unknown, (
            f"{container.workload}/{container.spec['name']} gets variables nothing reads: {sorted(unknown)}"
        )
    image = {n for n in pf.dockerfile_env() if not n.startswith("PIP_")} - IMAGE_OWN
    assert image <= readable, f"the Dockerfile sets variables nothing reads: {sorted(image - readable)}"


def test_every_variable_production_requires_is_given_to_every_process():
    required = environment.required_in_production()
    image = set(pf.dockerfile_env())
    for name, service in pf.app_services().items():
        missing = required - pf.compose_environment(service) - image
        assert not missing, f"compose service {name} lacks {sorted(missing)}"
    for container in pf.containers():
        missing = required - container.environment - image
        assert not missing, f"{container.workload}/{container.spec['name']} lacks {sorted(missing)}"


def test_each_role_runs_the_same_command_under_compose_kubernetes_and_the_image():
    services = pf.app_services()
    web = pf.main_container("shuzhi-web")["command"]
    assert web == services["web"]["command"] == pf.dockerfile_cmd() == ["python", "-m", "config.serving"]
    for role in ("worker", "beat"):
        assert pf.main_container(f"shuzhi-{role}")["command"] == services[role]["command"]
        assert services[role]["command"][:4] == ["celery", "-A", "config", role]
    assert pf.main_container("shuzhi-migrate")["command"] == services["migrate"]["command"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    # Beat keeps its schedule where the image's SHUZHI_VAR_DIR is, a folder every beat container mounts.
    schedule = services["beat"]["command"][services["beat"]["command"].index("--schedule") + 1]
    assert schedule == pf.dockerfile_env()["SHUZHI_VAR_DIR"] + "/celerybeat-schedule"
    mounts = [m["mountPath"] for m in pf.main_container("shuzhi-beat")["volumeMounts"]]
    assert pf.dockerfile_env()["SHUZHI_VAR_DIR"] in mounts


def test_the_web_port_is_the_same_everywhere():
    port = int(environment.BY_NAME["SHUZHI_PORT"].default)
    assert f"EXPOSE {port}" in pf.dockerfile()
    web = pf.main_container("shuzhi-web")
    (container_port,) = web["ports"]
    assert container_port["containerPort"] == port
    service = pf.named("Service", "shuzhi-web")
    assert service["spec"]["ports"][0]["targetPort"] == container_port["name"]
    assert service["spec"]["selector"] == pf.named("Deployment", "shuzhi-web")["spec"]["selector"]["matchLabels"]
    ingress = pf.named("Ingress", "shuzhi")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "shuzhi-web", "port": {"name": service["spec"]["ports"][0]["name"]}}
    nginx = (pf.PLATFORM / "nginx.conf").read_text()
    assert f"set $shuzhi_web web:{port};" in nginx
    assert f"127.0.0.1:{port}/readyz" in " ".join(pf.app_services()["web"]["healthcheck"]["test"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["port"] == container_port["name"]


def _http_probe_paths() -> set[str]:
    paths = {re.search(r"127\.0\.0\.1:\d+(/[a-z]+)", " ".join(pf.app_services()["web"]["healthcheck"]["test"]))[1]}
    web = pf.main_container("shuzhi-web")
    paths |= {web[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    return paths


def test_every_role_has_a_health_check_under_compose_and_kubernetes():
    services = pf.app_services()
    for role in ROLES:
        assert services[role].get("healthcheck", {}).get("test"), f"compose {role} has no health check"
        assert pf.main_container(f"shuzhi-{role}").get("livenessProbe"), f"kubernetes {role} has no liveness probe"
    assert pf.main_container("shuzhi-web")["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pf.main_container("shuzhi-web")["livenessProbe"]["httpGet"]["path"] == "/livez"
    # The worker checks answer for this container's own worker; beat's for its own schedule file.
    assert "celery@$HOSTNAME" in " ".join(pf.main_container("shuzhi-worker")["livenessProbe"]["exec"]["command"])
    assert "celery@$$HOSTNAME" in services["worker"]["healthcheck"]["test"][1]
    beat_probe = pf.main_container("shuzhi-beat")["livenessProbe"]["exec"]["command"]
    assert beat_probe == services["beat"]["healthcheck"]["test"][1:]
    assert beat_probe[:4] == ["python", "-m", "config.probes", "beat"]
    assert beat_probe[4] in services["beat"]["command"]


@pytest.mark.django_db
def test_the_web_probes_answer_a_kubelet_without_the_workers(client, settings):
    # Production's host check and HTTPS redirect; a kubelet asks over HTTP with the pod's address.
    settings.ALLOWED_HOSTS = ["shuzhi.example.gov.cn"]
    settings.SECURE_SSL_REDIRECT = True
    for path in _http_probe_paths():
        answer = client.get(path, HTTP_HOST="10.42.0.17:8000")
        assert answer.status_code == 200 and answer.json()["status"] == "ok", path
    # No worker runs in this test: /healthz says so, readiness does not care.
    assert client.get("/healthz", HTTP_HOST="shuzhi.example.gov.cn", secure=True).status_code == 503


def test_migrations_run_before_web_worker_and_beat():
    services = pf.app_services()
    for role in ROLES:
        assert services[role]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        (wait,) = [c.spec for c in pf.containers() if c.workload == f"shuzhi-{role}" and c.init]
        assert "python manage.py migrate --check" in " ".join(wait["command"])
        assert wait["image"] == pf.main_container(f"shuzhi-{role}")["image"]
    job = pf.named("Job", "shuzhi-migrate")
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def test_migrate_check_holds_the_pods_until_every_migration_is_applied(fresh_database):
    # What the init containers loop on: it fails on a database the Job has not migrated yet, and
    # passes on a migrated one (the test database).
    from django.db import connection

    def check(database: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": database_url(database)}
        return subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )

    assert check(fresh_database).returncode != 0
    assert check(connection.settings_dict["NAME"]).returncode == 0


def test_beat_is_one_process_by_construction():
    beat = pf.named("Deployment", "shuzhi-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    service = pf.app_services()["beat"]
    assert service.get("deploy", {}).get("replicas", 1) == 1 and "scale" not in service


def test_static_files_are_collected_into_the_image_and_served_by_the_web():
    from django.conf import settings

    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    static_root = pf.dockerfile_env()["SHUZHI_STATIC_ROOT"]
    assert "collectstatic --noinput" in pf.dockerfile() and static_root.startswith("/app/")
    for service in pf.app_services().values():
        assert "SHUZHI_STATIC_ROOT" not in pf.compose_environment(service)
    for container in pf.containers():
        assert "SHUZHI_STATIC_ROOT" not in container.environment
        assert all(not m["mountPath"].startswith(static_root) for m in container.spec.get("volumeMounts", []))


def test_uploads_fit_through_the_proxies_and_land_on_shared_storage():
    upload_mb = int(environment.BY_NAME["SHUZHI_UPLOAD_MAX_MB"].default)
    nginx = (pf.PLATFORM / "nginx.conf").read_text()
    assert int(re.search(r"client_max_body_size (\d+)m;", nginx)[1]) >= upload_mb
    ingress = pf.named("Ingress", "shuzhi")["metadata"]["annotations"]
    assert int(ingress["nginx.ingress.kubernetes.io/proxy-body-size"].rstrip("m")) >= upload_mb
    assert ingress["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    media = pf.dockerfile_env()["SHUZHI_MEDIA_ROOT"]
    claim = pf.named("PersistentVolumeClaim", "shuzhi-media")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for workload in ("shuzhi-web", "shuzhi-worker"):
        mounts = {m["mountPath"]: m["name"] for m in pf.main_container(workload)["volumeMounts"]}
        volumes = {v["name"]: v for v in pf.named("Deployment", workload)["spec"]["template"]["spec"]["volumes"]}
        assert volumes[mounts[media]]["persistentVolumeClaim"]["claimName"] == "shuzhi-media"


def test_yamllint_is_clean():
    linted = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "platform/", ".yamllint.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
