"""The Kubernetes loader: offline walk, kustomize rendering, tracing to source lines."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders import kubernetes as loader
from tenon_compliance.loaders.kubernetes import KubernetesModel, load

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = ("spec", "template", "spec", "containers", 0)


def line_with(root: Path, relative: str, needle: str) -> int:
    """The 1-based line of the only line of a file containing needle."""
    lines = [
        number
        for number, line in enumerate((root / relative).read_text().splitlines(), 1)
        if needle in line
    ]
    assert len(lines) == 1, f"{relative}: {needle!r} found on lines {lines}"
    return lines[0]


def replace(root: Path, relative: str, old: str, new: str) -> None:
    """Replace the only occurrence of old in a file of the copy."""
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative}: {old!r} is not unique"
    path.write_text(text.replace(old, new))


def load_from(root: Path) -> tuple[KubernetesModel, Evidence]:
    evidence = Evidence(Options(root=root))
    return load(evidence), evidence


@pytest.fixture(scope="module")
def real() -> tuple[KubernetesModel, Evidence]:
    return load_from(REPO)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every socket connection and subprocess started."""
    attempts: list[str] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(f"connect {address}")
        raise OSError("network access attempted")

    def refuse_run(*args: object, **kwargs: object) -> None:
        attempts.append(f"run {args}")
        raise OSError("a process was started")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(subprocess, "run", refuse_run)
    monkeypatch.setattr(subprocess, "Popen", refuse_run)
    return attempts


# The real repository.


def test_every_overlay_is_rendered_with_its_environment(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    model, _ = real

    assert sorted(model.overlays) == ["dev", "prod", "stage"]
    deployment = model.overlays["prod"].find("Deployment", "runtime-api")
    assert deployment is not None
    assert deployment.id == "prod:Deployment/runtime-api"
    assert deployment.namespace == "tenon"


def test_replicas_trace_to_the_overlay_replicas_entry(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    deployment = real[0].overlays["prod"].find("Deployment", "runtime-api")
    assert deployment is not None

    location = deployment.location("spec", "replicas")

    kustomization = "k8s/overlays/prod/kustomization.yaml"
    assert (
        str(location) == f"{kustomization}:{line_with(REPO, kustomization, 'count: 3')}"
    )


def test_image_traces_to_the_overlay_images_entry(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    deployment = real[0].overlays["dev"].find("Deployment", "runtime-api")
    assert deployment is not None

    location = deployment.location(*DEPLOYMENT, "image")

    kustomization = "k8s/overlays/dev/kustomization.yaml"
    assert (
        str(location) == f"{kustomization}:{line_with(REPO, kustomization, 'digest:')}"
    )


def test_json_patch_value_traces_to_its_line_in_the_inline_patch(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    budget = real[0].overlays["prod"].find("PodDisruptionBudget", "runtime-api")
    assert budget is not None

    location = budget.location("spec", "minAvailable")

    kustomization = "k8s/overlays/prod/kustomization.yaml"
    assert budget.get("spec", "minAvailable") == 2
    assert (
        str(location) == f"{kustomization}:{line_with(REPO, kustomization, 'value: 2')}"
    )


def test_a_field_no_overlay_sets_traces_to_the_base(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    deployment = real[0].overlays["stage"].find("Deployment", "runtime-api")
    assert deployment is not None

    location = deployment.location(*DEPLOYMENT, "readinessProbe", "httpGet", "path")

    base = "k8s/base/deployment.yaml"
    assert str(location) == f"{base}:{line_with(REPO, base, 'path: /readyz')}"


def test_an_object_traces_to_the_document_that_defines_it(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    provider = (
        real[0].overlays["dev"].find("SecretProviderClass", "runtime-api-secrets")
    )
    assert provider is not None

    file = "k8s/overlays/dev/secret-provider-class.yaml"
    assert str(provider.location()) == f"{file}:{line_with(REPO, file, 'apiVersion:')}"


def test_every_file_an_overlay_reads_is_recorded_as_an_input(
    real: tuple[KubernetesModel, Evidence],
) -> None:
    model, evidence = real
    expected = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "k8s").rglob("*.yaml")
        if "schemas" not in path.parts
    }

    assert expected <= set(evidence.inputs)
    assert "k8s/base/deployment.yaml" in model.overlays["dev"].files


# Tracing through a strategic merge patch file.


def test_strategic_merge_patch_file_line_is_preferred_over_the_base(
    repo_copy: Path,
) -> None:
    overlay = "k8s/overlays/prod"
    (repo_copy / overlay / "patch-replicas.yaml").write_text(
        "# Prod runs more replicas than the base.\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: runtime-api\n"
        "  namespace: tenon\n"
        "spec:\n"
        "  replicas: 4\n"
    )
    kustomization = f"{overlay}/kustomization.yaml"
    replace(
        repo_copy, kustomization, "replicas:\n  - name: runtime-api\n    count: 3\n", ""
    )
    replace(
        repo_copy,
        kustomization,
        "patches:\n",
        "patches:\n  - path: patch-replicas.yaml\n",
    )

    model, evidence = load_from(repo_copy)

    deployment = model.overlays["prod"].find("Deployment", "runtime-api")
    assert deployment is not None
    assert deployment.get("spec", "replicas") == 4
    assert str(deployment.location("spec", "replicas")) == (
        f"{overlay}/patch-replicas.yaml:8"
    )
    assert str(deployment.location(*DEPLOYMENT, "name")).startswith(
        "k8s/base/deployment.yaml:"
    )
    assert f"{overlay}/patch-replicas.yaml" in evidence.inputs


# Refusals before any rendering: nothing leaves the machine.


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("https://github.com/example/manifests//base", id="https-url"),
        pytest.param("github.com/example/manifests/base?ref=v1.0.0", id="github"),
        pytest.param("git@gitlab.com:example/manifests.git", id="git-ssh"),
        pytest.param("../../base?ref=main", id="ref-query"),
        pytest.param("git::https://example.com/repo.git//base", id="go-getter"),
    ],
)
def test_remote_resource_is_refused_without_network_access(
    repo_copy: Path, offline: list[str], reference: str
) -> None:
    kustomization = "k8s/overlays/dev/kustomization.yaml"
    replace(repo_copy, kustomization, "  - ../../base\n", f"  - {reference}\n")
    line = line_with(repo_copy, kustomization, reference)

    with pytest.raises(
        LoadError,
        match=rf"^{kustomization}:{line}: remote reference .* refused: every base",
    ):
        load_from(repo_copy)
    assert offline == []


def test_path_leaving_the_repository_is_refused(
    repo_copy: Path, offline: list[str]
) -> None:
    kustomization = "k8s/overlays/stage/kustomization.yaml"
    replace(repo_copy, kustomization, "  - configmap.yaml\n", "  - ../../../../etc\n")
    line = line_with(repo_copy, kustomization, "../../../../etc")

    with pytest.raises(
        LoadError,
        match=rf"^{kustomization}:{line}: path '../../../../etc' leaves the repository",
    ):
        load_from(repo_copy)
    assert offline == []


def test_symlink_out_of_the_repository_is_refused(
    repo_copy: Path, tmp_path: Path, offline: list[str]
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    os.symlink(outside, repo_copy / "k8s/overlays/prod/linked.yaml")
    kustomization = "k8s/overlays/prod/kustomization.yaml"
    replace(repo_copy, kustomization, "  - configmap.yaml\n", "  - linked.yaml\n")

    with pytest.raises(
        LoadError,
        match=r"^k8s/overlays/prod/kustomization\.yaml:\d+: "
        r"path 'linked\.yaml' leaves the repository \(via \.\. or a symlink\)",
    ):
        load_from(repo_copy)
    assert offline == []


def test_missing_local_path_is_refused_as_kustomize_would_fetch_it(
    repo_copy: Path, offline: list[str]
) -> None:
    kustomization = "k8s/overlays/dev/kustomization.yaml"
    replace(
        repo_copy, kustomization, "  - configmap.yaml\n", "  - configmap-old.yaml\n"
    )
    line = line_with(repo_copy, kustomization, "configmap-old.yaml")

    with pytest.raises(
        LoadError,
        match=rf"^{kustomization}:{line}: path 'configmap-old.yaml' does not exist",
    ):
        load_from(repo_copy)


def test_helm_charts_are_refused(repo_copy: Path, offline: list[str]) -> None:
    kustomization = "k8s/overlays/prod/kustomization.yaml"
    path = repo_copy / kustomization
    path.write_text(path.read_text() + "helmCharts:\n  - name: redis\n")
    line = line_with(repo_copy, kustomization, "helmCharts:")

    with pytest.raises(
        LoadError,
        match=rf"^{kustomization}:{line}: helmCharts refused: Helm charts may be",
    ):
        load_from(repo_copy)


def test_no_overlays_folder_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^k8s/overlays: no overlays folder"):
        load_from(tmp_path)


# Rendering.


def test_kustomize_error_names_the_kustomization_and_keeps_its_message(
    repo_copy: Path,
) -> None:
    kustomization = "k8s/overlays/stage/kustomization.yaml"
    replace(
        repo_copy,
        kustomization,
        "  - configmap.yaml\n",
        "  - configmap.yaml\n  - configmap-copy.yaml\n",
    )
    (repo_copy / "k8s/overlays/stage/configmap-copy.yaml").write_text(
        (repo_copy / "k8s/overlays/stage/configmap.yaml").read_text()
    )

    with pytest.raises(
        LoadError,
        match=rf"^{kustomization}: kustomize failed: .*already registered id",
    ):
        load_from(repo_copy)


def test_missing_kustomize_is_a_clear_load_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loader.shutil, "which", lambda name: None)

    with pytest.raises(
        LoadError, match=r"^k8s/overlays: neither kubectl nor kustomize is installed"
    ):
        load_from(REPO)


def test_rendering_runs_offline_behind_an_unreachable_proxy() -> None:
    environment = loader._offline_environment()

    assert environment["HTTPS_PROXY"] == "http://127.0.0.1:9"
    assert environment["GIT_ALLOW_PROTOCOL"] == "file"


def test_slow_renders_run_side_by_side_and_give_the_same_model(
    real: tuple[KubernetesModel, Evidence], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PARALLEL_AFTER_SECONDS the renders overlap; the model is unchanged."""
    started: list[loader._Render] = []
    overlapping: list[int] = []
    start = loader._Render.start

    def watched(tool: list[str], root: Path, walk: loader._Walk) -> loader._Render:
        overlapping.append(sum(r.process.poll() is None for r in started))
        started.append(start(tool, root, walk))
        return started[-1]

    monkeypatch.setattr(loader, "PARALLEL_AFTER_SECONDS", 0.001)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(loader._Render, "start", watched)

    model, _ = load_from(REPO)

    assert len(started) == 3
    assert max(overlapping) >= 1, "no render started while another still ran"
    assert all(render.process.poll() is not None for render in started)
    for env, overlay in real[0].overlays.items():
        parallel = model.overlays[env]
        assert [o.id for o in parallel.objects] == [o.id for o in overlay.objects]
        assert [o.body for o in parallel.objects] == [o.body for o in overlay.objects]
        assert [o.location("spec") for o in parallel.objects] == [
            o.location("spec") for o in overlay.objects
        ]
