"""The deployment files of platform/, read as an orchestrator would read them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from config.environment import ROOT

PLATFORM = ROOT / "platform"
KUBERNETES = PLATFORM / "kubernetes"
APP_IMAGE = "shuzhi:latest"


def env_file_names(path: Path, *, set_only: bool) -> set[str]:
    """Names an env file sets (``NAME=value`` lines), or with ``set_only=False`` also those it shows commented out."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line if set_only else line.lstrip("# ")
        match = re.match(r"([A-Z][A-Z0-9_]*)=", text)
        if match:
            names.add(match.group(1))
    return names


def compose() -> dict:
    return yaml.safe_load((PLATFORM / "compose.yaml").read_text(encoding="utf-8"))


def app_services() -> dict[str, dict]:
    """The compose services that run the platform's image."""
    return {name: s for name, s in compose()["services"].items() if s.get("image") == APP_IMAGE}


def compose_environment(service: dict) -> set[str]:
    """Every variable compose gives ``service``: its env files' set names and its ``environment``."""
    names = set()
    for entry in service.get("env_file", []):
        names |= env_file_names(PLATFORM / entry["path"], set_only=True) if entry.get("required", True) else set()
    environment = service.get("environment") or {}
    names |= set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
    return names


def manifests() -> list[dict]:
    docs = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def kind(name: str) -> list[dict]:
    return [d for d in manifests() if d.get("kind") == name]


def named(kind_name: str, name: str) -> dict:
    (doc,) = [d for d in kind(kind_name) if d["metadata"]["name"] == name]
    return doc


@dataclass
class Container:
    workload: str
    spec: dict
    init: bool
    environment: set[str] = field(default_factory=set)


def containers() -> list[Container]:
    """Every container (and init container) of the Deployments and Jobs, with the variables it gets."""
    data = {}
    for doc in kind("ConfigMap"):
        data[("configMapRef", doc["metadata"]["name"])] = set(doc.get("data") or {})
    for doc in kind("Secret"):
        data[("secretRef", doc["metadata"]["name"])] = set(doc.get("stringData") or {}) | set(doc.get("data") or {})
    found = []
    for doc in kind("Deployment") + kind("Job"):
        pod = doc["spec"]["template"]["spec"]
        for init, key in ((True, "initContainers"), (False, "containers")):
            for spec in pod.get(key, []):
                names = {e["name"] for e in spec.get("env", [])}
                for source in spec.get("envFrom", []):
                    ((ref_kind, ref),) = source.items()
                    names |= data[(ref_kind, ref["name"])]
                found.append(Container(doc["metadata"]["name"], spec, init, names))
    return found


def main_container(workload: str) -> dict:
    (container,) = [c.spec for c in containers() if c.workload == workload and not c.init]
    return container


def dockerfile() -> str:
    return (PLATFORM / "Dockerfile").read_text(encoding="utf-8")


def dockerfile_env() -> dict[str, str]:
    text = dockerfile().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                name, _sep, value = item.partition("=")
                env[name] = value
    return env


def dockerfile_cmd() -> list[str]:
    (line,) = [line for line in dockerfile().splitlines() if line.startswith("CMD ")]
    return yaml.safe_load(line[4:])
