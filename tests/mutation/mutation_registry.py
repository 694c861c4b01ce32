"""The registered mutants of the repository: one realistic mistake each.

Each mutant is what a person could plausibly commit: a replica count lowered
in prod, a tag where a digest belongs, a password in an ENV line. It lists the
controls that must kill it; ``also`` lists other controls the same edit
legitimately changes, with the reason, so the test can insist that nothing
else moves. A mutant whose mistake no control catches yet carries ``gap``:
its test is a strict expected failure that turns red the day a control
starts catching it (then move the control into ``kills``).
"""

from __future__ import annotations

from mutation_model import Edit, Kill, Mutant

DOCKERFILE = "docker/Dockerfile"
DOCKERIGNORE = ".dockerignore"
RUNTIME_FROM = "FROM ${RUNTIME_BASE_NAME}@${RUNTIME_BASE_DIGEST} AS runtime\n"
RUNTIME_USER = "USER 65532:65532\n"
ENTRYPOINT = 'ENTRYPOINT ["python3", "-m", "tenon_probe"]\n'


DOCKER_MUTANTS = (
    Mutant(
        id="dockerfile-password-env",
        description="a database password set with ENV in the runtime stage",
        edits=(
            Edit(
                DOCKERFILE,
                "    PYTHONUNBUFFERED=1\n",
                "    PYTHONUNBUFFERED=1\nENV DB_PASSWORD=s3cr3t-Passw0rd\n",
                focus="ENV DB_PASSWORD",
            ),
        ),
        kills=(Kill("DOCKER-NO-BUILD-SECRETS"),),
    ),
    Mutant(
        id="dockerfile-token-build-arg",
        description="a GitLab token passed as a build argument to the build stage",
        edits=(
            Edit(
                DOCKERFILE,
                "WORKDIR /build\n",
                "WORKDIR /build\nARG GITLAB_TOKEN\n",
                focus="ARG GITLAB_TOKEN",
            ),
        ),
        kills=(Kill("DOCKER-NO-BUILD-SECRETS"),),
    ),
    Mutant(
        id="dockerfile-runtime-slim",
        description="the runtime stage built on python:slim instead of distroless",
        edits=(
            Edit(
                DOCKERFILE,
                RUNTIME_FROM,
                "FROM ${BUILD_BASE_NAME}@${BUILD_BASE_DIGEST} AS runtime\n",
            ),
        ),
        kills=(Kill("DOCKER-RUNTIME-DISTROLESS"),),
        also={
            "DOCKER-OCI-LABELS": "the base.name/base.digest labels are read from "
            "the RUNTIME_BASE_* arguments the new FROM no longer uses",
        },
    ),
    Mutant(
        id="dockerfile-runtime-root",
        description="the runtime stage switched to USER root",
        edits=(Edit(DOCKERFILE, RUNTIME_USER, "USER root\n"),),
        kills=(Kill("DOCKER-USER-NONROOT"),),
    ),
    Mutant(
        id="dockerfile-base-tag",
        description="the build base referenced by tag, without its digest",
        edits=(
            Edit(
                DOCKERFILE,
                "FROM ${BUILD_BASE_NAME}@${BUILD_BASE_DIGEST} AS build\n",
                "FROM ${BUILD_BASE_NAME} AS build\n",
            ),
        ),
        kills=(Kill("DOCKER-BASE-PINNED"),),
    ),
    Mutant(
        id="dockerfile-single-stage",
        description="the runtime stage copies the sources instead of the build "
        "stage's output",
        edits=(
            Edit(
                DOCKERFILE,
                "COPY --from=build /opt/tenon /opt/tenon\n",
                "COPY src/tenon_probe /opt/tenon/site-packages/tenon_probe\n",
            ),
        ),
        kills=(Kill("DOCKER-MULTI-STAGE"),),
    ),
    Mutant(
        id="dockerfile-shell-entrypoint",
        description="a shell-form ENTRYPOINT in the runtime stage",
        edits=(Edit(DOCKERFILE, ENTRYPOINT, "ENTRYPOINT python3 -m tenon_probe\n"),),
        kills=(Kill("DOCKER-RUNTIME-NO-SHELL"),),
    ),
    Mutant(
        id="dockerfile-runtime-pip",
        description="pip copied into the runtime stage from the build stage",
        edits=(
            Edit(
                DOCKERFILE,
                "COPY --from=build /opt/tenon /opt/tenon\n",
                "COPY --from=build /opt/tenon /opt/tenon\n"
                "COPY --from=build /usr/local/bin/pip /usr/local/bin/pip\n",
                focus="COPY --from=build /usr/local/bin/pip",
            ),
        ),
        kills=(Kill("DOCKER-RUNTIME-NO-TOOLCHAIN"),),
    ),
    Mutant(
        id="dockerfile-no-revision-label",
        description="the OCI revision label dropped from the runtime stage",
        edits=(
            Edit(
                DOCKERFILE,
                '      org.opencontainers.image.revision="${REVISION}" \\\n',
                "",
            ),
        ),
        kills=(Kill("DOCKER-OCI-LABELS", anchor=RUNTIME_FROM),),
    ),
    Mutant(
        id="dockerignore-lets-env-in",
        description="the deny-all line dropped from .dockerignore (a .env, the "
        "state, the manifests would reach the build context)",
        edits=(Edit(DOCKERIGNORE, "\n*\n!docker/", "\n!docker/"),),
        # The control reports the file as a whole, at its last pattern.
        kills=(Kill("DOCKER-IGNORE", anchor="**/*.pyo"),),
    ),
)




BASE = "k8s/base"
DEPLOYMENT = f"{BASE}/deployment.yaml"
PROD = "k8s/overlays/prod"
STAGE = "k8s/overlays/stage"
DIGEST = "sha256:eb3cb72dd4b82f32c5f3e730bb7a8cf4df99ebebbd8cd6a958a1458b5c0fdfc6"
OTHER_DIGEST = "sha256:" + "0f" * 32
DEBUG_ROLE = """\
# Lets the on-call developers debug a stuck pod.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: tenon-debug
rules:
  - apiGroups: [""]
    resources: ["pods", "pods/exec"]
    verbs: ["get", "create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tenon-debug
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: tenon-debug
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: tenon:developers
"""
LEFTOVER_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: runtime-api-database
  namespace: tenon
type: Opaque
stringData:
  password: Wint3r-is-c0ming-2026
"""
IMAGE_DRIFT = (
    "the rendered container image now differs between overlays, which is "
    "also drift of the Deployment"
)

DEBUG_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: runtime-api-debug
  namespace: tenon
spec:
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: debug
      image: registry.gitlab.com/tenon/runtime/runtime-api
      command: ["python3", "-c", "import time; time.sleep(3600)"]
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        privileged: false
        capabilities:
          drop: ["ALL"]
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 200m, memory: 128Mi}
"""

KUBERNETES_MUTANTS = (
    Mutant(
        id="prod-one-replica",
        description="prod scaled down to one replica",
        edits=(Edit(f"{PROD}/kustomization.yaml", "    count: 3\n", "    count: 1\n"),),
        kills=(Kill("K8S-REPLICAS"),),
    ),
    Mutant(
        id="stage-tag-instead-of-digest",
        description="the stage overlay pins the image by tag instead of digest",
        edits=(
            Edit(f"{STAGE}/kustomization.yaml", f"digest: {DIGEST}", "newTag: 1.4.2"),
        ),
        kills=(Kill("K8S-IMAGE-DIGEST"),),
        also={
            "K8S-IMAGE-SAME-ACROSS-ENVS": "stage no longer runs prod's digest",
            "K8S-OVERLAY-DRIFT": IMAGE_DRIFT,
        },
    ),
    Mutant(
        id="prod-other-digest",
        description="prod pins a different image digest than dev and stage",
        edits=(
            Edit(f"{PROD}/kustomization.yaml", DIGEST, OTHER_DIGEST),
        ),
        kills=(Kill("K8S-IMAGE-SAME-ACROSS-ENVS"),),
        also={"K8S-OVERLAY-DRIFT": IMAGE_DRIFT},
    ),
    Mutant(
        id="clusterrole-pods-exec-for-people",
        description="a ClusterRole granting pods/exec bound to a group of people",
        edits=(
            Edit(f"{BASE}/rbac-debug.yaml", "", DEBUG_ROLE, focus="    resources"),
            Edit(
                f"{BASE}/kustomization.yaml",
                "  - rbac.yaml\n",
                "  - rbac.yaml\n  - rbac-debug.yaml\n",
            ),
        ),
        kills=(Kill("K8S-RBAC-NO-POD-ACCESS"),),
    ),
    Mutant(
        id="liveness-on-readiness-path",
        description="the liveness probe asks /readyz (a database outage restarts pods)",
        edits=(
            Edit(
                DEPLOYMENT,
                "          livenessProbe:\n            httpGet:\n"
                "              path: /healthz\n",
                "          livenessProbe:\n            httpGet:\n"
                "              path: /readyz\n",
                focus="path: /readyz",
            ),
        ),
        kills=(Kill("K8S-PROBES"), Kill("PROBE-K8S-ROUTES")),
    ),
    Mutant(
        id="configmap-database-password",
        description="the database password written into prod's runtime.json",
        edits=(
            Edit(
                f"{PROD}/configmap.yaml",
                '        "name": "tenon",\n',
                '        "name": "tenon",\n'
                '        "password": "Wint3r-is-c0ming-2026",\n',
                focus='"password"',
            ),
        ),
        kills=(Kill("K8S-NO-SECRET-OBJECTS"),),
        also={
            "PROBE-CONFIG-VALID": "the service refuses a runtime.json with an "
            "unknown key, so this configuration is also invalid",
        },
    ),
    Mutant(
        id="secret-object-in-prod",
        description="a Kubernetes Secret with the database password added to prod",
        edits=(
            Edit(f"{PROD}/database-secret.yaml", "", LEFTOVER_SECRET),
            Edit(
                f"{PROD}/kustomization.yaml",
                "  - secret-provider-class.yaml\n",
                "  - secret-provider-class.yaml\n  - database-secret.yaml\n",
            ),
        ),
        kills=(Kill("K8S-NO-SECRET-OBJECTS"),),
        also={"K8S-OVERLAY-DRIFT": "the Secret exists in prod only"},
    ),
    Mutant(
        id="env-value-password",
        description="the database password passed as a container env value",
        edits=(
            Edit(
                DEPLOYMENT,
                "          imagePullPolicy: IfNotPresent\n",
                "          imagePullPolicy: IfNotPresent\n"
                "          env:\n"
                "            - name: DB_PASSWORD\n"
                "              value: Wint3r-is-c0ming-2026\n",
                focus="value: Wint3r",
            ),
        ),
        kills=(Kill("K8S-ENV-NO-SECRETS"),),
    ),
    Mutant(
        id="privilege-escalation-allowed",
        description="the runtime container may escalate privileges",
        edits=(
            Edit(
                DEPLOYMENT,
                "allowPrivilegeEscalation: false",
                "allowPrivilegeEscalation: true",
            ),
        ),
        kills=(Kill("K8S-CONTAINER-SECURITY-CONTEXT"),),
    ),
    Mutant(
        id="namespace-psa-baseline",
        description="the namespace enforces only the baseline PSA profile",
        edits=(
            Edit(
                f"{BASE}/namespace.yaml",
                "pod-security.kubernetes.io/enforce: restricted",
                "pod-security.kubernetes.io/enforce: baseline",
            ),
        ),
        kills=(Kill("K8S-NAMESPACE-PSA-RESTRICTED"),),
    ),
    Mutant(
        id="default-deny-ingress-only",
        description="the default-deny policy no longer covers egress",
        edits=(
            Edit(
                f"{BASE}/networkpolicy.yaml",
                "  policyTypes:\n    - Ingress\n    - Egress\n",
                "  policyTypes:\n    - Ingress\n",
                focus="policyTypes",
            ),
        ),
        # Reported on the namespace, which no longer has a default deny.
        kills=(
            Kill(
                "K8S-NETWORK-DEFAULT-DENY",
                file=f"{BASE}/namespace.yaml",
                anchor="apiVersion: v1",
            ),
        ),
    ),
    Mutant(
        id="pod-mounts-api-token",
        description="the runtime pod mounts a Kubernetes API token",
        edits=(
            Edit(
                DEPLOYMENT,
                "      automountServiceAccountToken: false\n",
                "      automountServiceAccountToken: true\n",
            ),
        ),
        kills=(Kill("K8S-NO-SERVICE-ACCOUNT-TOKEN"),),
    ),
    Mutant(
        id="prod-overlay-patches-grace-period",
        description="prod patches the Deployment's termination grace period",
        edits=(
            Edit(
                f"{PROD}/kustomization.yaml",
                "  # With three replicas,",
                "  - target:\n"
                "      kind: Deployment\n"
                "      name: runtime-api\n"
                "    patch: |-\n"
                "      - op: replace\n"
                "        path: /spec/template/spec/terminationGracePeriodSeconds\n"
                "        value: 5\n"
                "  # With three replicas,",
                focus="        value: 5",
            ),
        ),
        kills=(Kill("K8S-OVERLAY-DRIFT"),),
    ),
    Mutant(
        id="pod-host-network",
        description="the runtime pod shares the node's network namespace",
        edits=(
            Edit(
                DEPLOYMENT,
                "      enableServiceLinks: false\n",
                "      enableServiceLinks: false\n      hostNetwork: true\n",
                focus="hostNetwork",
            ),
        ),
        kills=(Kill("K8S-POD-HOST-ISOLATION"),),
    ),
    Mutant(
        id="no-memory-limit",
        description="the runtime container's memory limit removed",
        edits=(Edit(DEPLOYMENT, "              memory: 512Mi\n", ""),),
        kills=(Kill("K8S-RESOURCES", anchor="            limits:"),),
    ),
    Mutant(
        id="rollout-lowers-capacity",
        description="a rollout may take a serving pod away before its replacement",
        edits=(Edit(DEPLOYMENT, "maxUnavailable: 0", "maxUnavailable: 1"),),
        kills=(Kill("K8S-ROLLOUT"),),
    ),
    Mutant(
        id="prod-reads-stage-secret",
        description="prod's SecretProviderClass reads the stage database secret",
        edits=(
            Edit(
                f"{PROD}/secret-provider-class.yaml",
                'objectName: "tenon/prod/runtime-api/database"',
                'objectName: "tenon/stage/runtime-api/database"',
            ),
        ),
        kills=(Kill("K8S-SECRET-PATHS-PER-ENV"),),
    ),
    Mutant(
        id="secrets-mount-writable",
        description="the secrets volume mounted read-write",
        edits=(
            Edit(
                DEPLOYMENT,
                "              mountPath: /var/run/secrets/tenon\n"
                "              readOnly: true\n",
                "              mountPath: /var/run/secrets/tenon\n"
                "              readOnly: false\n",
                focus="readOnly",
            ),
        ),
        # Reported at the volume mount's entry.
        kills=(Kill("K8S-SECRETS-CSI", anchor="            - name: secrets\n"),),
    ),
    Mutant(
        id="service-publishes-unready-pods",
        description="the Service sends traffic to pods that are not Ready",
        edits=(
            Edit(
                f"{BASE}/service.yaml",
                "  type: ClusterIP\n",
                "  type: ClusterIP\n  publishNotReadyAddresses: true\n",
                focus="publishNotReadyAddresses",
            ),
        ),
        kills=(Kill("K8S-SERVICE-READY-ONLY"),),
    ),
    Mutant(
        id="zone-spread-not-enforced",
        description="spreading over zones becomes best effort",
        edits=(
            Edit(
                DEPLOYMENT,
                "          topologyKey: topology.kubernetes.io/zone\n"
                "          whenUnsatisfiable: DoNotSchedule\n",
                "          topologyKey: topology.kubernetes.io/zone\n"
                "          whenUnsatisfiable: ScheduleAnyway\n",
                focus="whenUnsatisfiable",
            ),
        ),
        kills=(),
        gap="K8S-SPREAD-AND-PDB checks that a spread constraint exists, not that "
        "the zone constraint is enforced (DoNotSchedule)",
    ),
    Mutant(
        id="pdb-allows-evicting-all",
        description="the disruption budget lets a drain evict every pod (dev, stage)",
        edits=(
            Edit(f"{BASE}/poddisruptionbudget.yaml", "minAvailable: 1", "minAvailable: 0"),
        ),
        kills=(Kill("K8S-SPREAD-AND-PDB"),),
    ),
    Mutant(
        id="bare-debug-pod-in-prod",
        description="a bare Pod (no Deployment) added to prod to debug the database",
        edits=(
            Edit(f"{PROD}/debug-pod.yaml", "", DEBUG_POD, focus="kind: Pod"),
            Edit(
                f"{PROD}/kustomization.yaml",
                "  - secret-provider-class.yaml\n",
                "  - secret-provider-class.yaml\n  - debug-pod.yaml\n",
            ),
        ),
        kills=(Kill("K8S-WORKLOAD-KIND"),),
        also={
            "K8S-IMAGE-SAME-ACROSS-ENVS": "the Pod's container exists in prod only",
            "K8S-OVERLAY-DRIFT": "the Pod exists in prod only",
        },
    ),
    Mutant(
        id="min-ready-seconds-as-text",
        description="minReadySeconds written as a quoted string",
        edits=(Edit(DEPLOYMENT, "minReadySeconds: 10", 'minReadySeconds: "10"'),),
        kills=(Kill("K8S-MANIFEST-SCHEMA"),),
    ),
    Mutant(
        id="pod-access-policy-audit-only",
        description="the exec/attach admission policy only audits",
        edits=(
            Edit(
                f"{BASE}/admission-policy.yaml",
                "validationActions: [Deny]",
                "validationActions: [Audit]",
            ),
        ),
        # Reported at the binding's spec.
        kills=(
            Kill("K8S-ADMISSION-DENY-POD-ACCESS", anchor="spec:\n  policyName"),
        ),
    ),
    Mutant(
        id="image-policy-warn-only",
        description="the ClusterImagePolicy only warns about unsigned images",
        edits=(
            Edit(f"{BASE}/cluster-image-policy.yaml", "mode: enforce", "mode: warn"),
        ),
        kills=(Kill("K8S-IMAGE-POLICY-IDENTITY"),),
    ),
    Mutant(
        id="image-policy-any-branch",
        description="the admission policy trusts signatures from any branch",
        edits=(
            Edit(
                f"{BASE}/cluster-image-policy.yaml",
                "@refs/heads/main",
                "@refs/heads/develop",
            ),
        ),
        kills=(
            Kill("SIG-ADMISSION-IDENTITY", anchor="        identities:"),
            Kill("K8S-IMAGE-POLICY-IDENTITY", anchor="          - issuer:"),
        ),
    ),
)
REPOSITORY_MUTANTS: tuple[Mutant, ...] = (*DOCKER_MUTANTS, *KUBERNETES_MUTANTS)
