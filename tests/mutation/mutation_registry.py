"""The registered mutants of the repository: one realistic mistake each.

Each mutant is what a person could plausibly commit: a replica count lowered
in prod, a tag where a digest belongs, a password in an ENV line. It lists the
controls that must kill it; ``also`` lists other controls the same edit
legitimately changes, with the reason, so the test can insist that nothing
else moves. A mutant whose mistake the control it names does not catch yet
carries ``gap`` (why): its test is a strict expected failure that turns red
the day the control starts catching it; then delete the ``gap`` line.
Known gaps do not count as killing mutants in the coverage test.
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
        id="dockerfile-add-url-unpinned",
        description="the build stage downloads a tool with ADD and no checksum",
        edits=(
            Edit(
                DOCKERFILE,
                "WORKDIR /build\n",
                "WORKDIR /build\nADD https://downloads.example/tool-1.0.tar.gz "
                "/build/tool.tar.gz\n",
                focus="ADD https://",
            ),
        ),
        kills=(Kill("DOCKER-REMOTE-SOURCES-PINNED"),),
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
        kills=(Kill("DOCKER-RUNTIME-NO-SHELL"), Kill("PROBE-DOCKER-ENTRYPOINT")),
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
LEFTOVER_DATABASE_OBJECT = """\
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
        id="container-adds-net-admin",
        description="the runtime container adds the NET_ADMIN capability",
        edits=(
            Edit(
                DEPLOYMENT,
                "              drop:\n                - ALL\n",
                "              drop:\n                - ALL\n"
                "              add:\n                - NET_ADMIN\n",
                focus="add:",
            ),
        ),
        kills=(Kill("K8S-CONTAINER-SECURITY-CONTEXT"),),
    ),
    Mutant(
        id="prod-egress-to-the-internet",
        description="prod's egress policy opens 5432 and 443 to 0.0.0.0/0 instead "
        "of the VPC",
        edits=(
            Edit(
                f"{PROD}/kustomization.yaml",
                "        value: 10.30.0.0/16\n",
                "        value: 0.0.0.0/0\n",
            ),
        ),
        kills=(Kill("K8S-NETWORK-PRIVATE-PEERS"),),
    ),
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
        edits=(Edit(f"{PROD}/kustomization.yaml", DIGEST, OTHER_DIGEST),),
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
            Edit(f"{PROD}/database-secret.yaml", "", LEFTOVER_DATABASE_OBJECT),
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
        id="stage-database-tls-not-verified",
        description="stage's runtime.json asks for sslmode require, not verify-full",
        edits=(
            Edit(
                f"{STAGE}/configmap.yaml",
                '"sslmode": "verify-full"',
                '"sslmode": "require"',
            ),
        ),
        kills=(Kill("PROBE-CONFIG-VALID"),),
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
        kills=(Kill("K8S-SPREAD-AND-PDB"),),
    ),
    Mutant(
        id="pdb-allows-evicting-all",
        description="the disruption budget lets a drain evict every pod (dev, stage)",
        edits=(
            Edit(
                f"{BASE}/poddisruptionbudget.yaml", "minAvailable: 1", "minAvailable: 0"
            ),
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
        kills=(Kill("K8S-ADMISSION-DENY-POD-ACCESS", anchor="spec:\n  policyName"),),
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

TF = "infra/terraform"
CLUSTER = f"{TF}/modules/cluster/main.tf"
NETWORK = f"{TF}/modules/network/main.tf"
DATABASE = f"{TF}/modules/database/main.tf"
STORAGE = f"{TF}/modules/object_storage/main.tf"
IDENTITY = f"{TF}/modules/identity/main.tf"
SECRETS = f"{TF}/modules/secrets/main.tf"
GOVERNANCE = f"{TF}/modules/governance/main.tf"
PROD_STACK = f"{TF}/envs/prod"
STAGE_STACK = f"{TF}/envs/stage"
SAME_CODE = "the stacks' .tf files must be identical; this edit is in one stack only"
UNFETCHED = (
    "a registry module is never fetched, so the resources it would create are "
    "not there to check"
)
STACK_HEAD = "# One environment of TENON"
PREFIX_STATEMENT = '  statement {\n    sid       = "ReadWriteItsPrefix"'

SSH_RULE = """
resource "aws_vpc_security_group_ingress_rule" "endpoints_ssh" {
  security_group_id = aws_security_group.endpoints.id
  description       = "SSH from the office VPN"
  cidr_ipv4         = "10.200.0.0/16"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
}
"""
ANY_PROTOCOL_RULE = """
resource "aws_vpc_security_group_ingress_rule" "endpoints_any" {
  security_group_id = aws_security_group.endpoints.id
  description       = "everything from the corporate network"
  cidr_ipv4         = "10.0.0.0/8"
  ip_protocol       = "-1"
}
"""
HUMAN_ACCESS = """
resource "aws_eks_access_entry" "oncall" {
  cluster_name  = var.cluster_name
  principal_arn = "arn:aws:iam::111122223333:role/oncall-engineers"
  type          = "STANDARD"
}
"""
PROD_BACKEND = """
  backend "s3" {
    bucket       = "tenon-prod-terraform-state"
    key          = "envs/prod/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    kms_key_id   = "alias/tenon-terraform-state"
    use_lockfile = true
  }
"""

TERRAFORM_MUTANTS = (
    Mutant(
        id="sg-every-protocol-from-private-range",
        description="a security group rule admitting every protocol and port "
        "(22 included) from 10.0.0.0/8",
        edits=(
            Edit(
                NETWORK,
                '\nresource "aws_vpc_endpoint" "s3" {',
                ANY_PROTOCOL_RULE + '\nresource "aws_vpc_endpoint" "s3" {',
                focus="resource",
            ),
        ),
        kills=(Kill("TF-SG-NO-ADMIN-PORTS"),),
    ),
    Mutant(
        id="rds-publicly-accessible",
        description="the database made publicly accessible",
        edits=(
            Edit(
                DATABASE,
                "publicly_accessible    = false",
                "publicly_accessible    = true",
            ),
        ),
        kills=(Kill("TF-RDS-ENCRYPTED-PRIVATE"),),
    ),
    Mutant(
        id="eks-public-endpoint",
        description="the EKS API endpoint opened to the internet",
        edits=(
            Edit(
                CLUSTER,
                "endpoint_public_access  = false",
                "endpoint_public_access  = true",
            ),
        ),
        kills=(Kill("TF-EKS-PRIVATE-ENDPOINT"),),
    ),
    Mutant(
        id="eks-node-group-remote-access",
        description="SSH remote access configured on the EKS node group",
        edits=(
            Edit(
                CLUSTER,
                "  instance_types  = var.node_instance_types\n",
                "  instance_types  = var.node_instance_types\n\n"
                "  remote_access {\n"
                '    ec2_ssh_key = "tenon-ops"\n'
                "  }\n",
                focus="remote_access",
            ),
        ),
        kills=(Kill("TF-EKS-NODES-NO-REMOTE-ACCESS"),),
    ),
    Mutant(
        id="eks-aws-auth-configmap",
        description="cluster access also through the aws-auth ConfigMap",
        edits=(
            Edit(
                CLUSTER,
                'authentication_mode                         = "API"',
                'authentication_mode                         = "API_AND_CONFIG_MAP"',
            ),
        ),
        kills=(Kill("TF-EKS-AUTH-MODE-API"),),
    ),
    Mutant(
        id="eks-no-audit-log",
        description="the control plane audit log switched off",
        edits=(
            Edit(
                CLUSTER,
                'control_plane_log_types = ["api", "audit", "authenticator",',
                'control_plane_log_types = ["api", "authenticator",',
            ),
        ),
        # Reported where the list is used.
        kills=(Kill("TF-EKS-CONTROL-PLANE-LOGS", anchor="enabled_cluster_log_types"),),
    ),
    Mutant(
        id="eks-access-entry-for-people",
        description="an EKS access entry for the on-call engineers' role",
        edits=(
            Edit(
                IDENTITY,
                "\n# Cluster scope is needed",
                HUMAN_ACCESS + "\n# Cluster scope is needed",
                focus="  principal_arn",
            ),
        ),
        kills=(Kill("TF-EKS-NO-HUMAN-ACCESS"),),
    ),
    Mutant(
        id="eks-node-role-ssm",
        description="the SSM managed-instance policy attached to the node role",
        edits=(
            Edit(
                CLUSTER,
                '    "AmazonEC2ContainerRegistryReadOnly",\n',
                '    "AmazonEC2ContainerRegistryReadOnly",\n'
                '    "AmazonSSMManagedInstanceCore",\n',
                focus='"AmazonSSMManagedInstanceCore"',
            ),
        ),
        # Reported at the attachment that uses the list.
        kills=(
            Kill(
                "TF-EKS-NODE-ROLE-NO-SSM",
                anchor='policy_arn = "arn:${local.partition}:iam::aws:policy/'
                '${each.key}"',
            ),
        ),
    ),
    Mutant(
        id="eks-nodes-amazon-linux",
        description="the node group moved to Amazon Linux instead of Bottlerocket",
        edits=(
            Edit(
                CLUSTER,
                'ami_type        = "BOTTLEROCKET_x86_64"',
                'ami_type        = "AL2023_x86_64_STANDARD"',
            ),
        ),
        kills=(Kill("TF-EKS-NODES-BOTTLEROCKET"),),
    ),
    Mutant(
        id="eks-nodes-imdsv1",
        description="nodes accept IMDSv1 (tokens optional)",
        edits=(
            Edit(
                CLUSTER,
                'http_tokens                 = "required"',
                'http_tokens                 = "optional"',
            ),
        ),
        kills=(Kill("TF-EKS-NODES-IMDSV2"),),
    ),
    Mutant(
        id="eks-secrets-not-encrypted",
        description="the envelope encryption of Kubernetes secrets removed",
        edits=(
            Edit(
                CLUSTER,
                "  encryption_config {\n"
                '    resources = ["secrets"]\n\n'
                "    provider {\n"
                "      key_arn = aws_kms_key.secrets.arn\n"
                "    }\n"
                "  }\n\n",
                "",
            ),
        ),
        kills=(
            Kill(
                "TF-EKS-SECRETS-ENCRYPTION", anchor='resource "aws_eks_cluster" "this"'
            ),
        ),
    ),
    Mutant(
        id="database-key-not-rotated",
        description="automatic rotation of the database KMS key switched off",
        edits=(
            Edit(
                DATABASE,
                "enable_key_rotation     = true",
                "enable_key_rotation     = false",
            ),
        ),
        kills=(Kill("TF-KMS-ROTATION"),),
    ),
    Mutant(
        id="sg-ssh-from-private-range",
        description="a security group rule opening port 22 from a private range",
        edits=(
            Edit(
                NETWORK,
                '\nresource "aws_vpc_endpoint" "s3" {',
                SSH_RULE + '\nresource "aws_vpc_endpoint" "s3" {',
                focus="resource",
            ),
        ),
        kills=(Kill("TF-SG-NO-ADMIN-PORTS"),),
    ),
    Mutant(
        id="sg-https-from-internet",
        description="the VPC endpoints' HTTPS rule opened to 0.0.0.0/0",
        edits=(
            Edit(
                NETWORK,
                "cidr_ipv4         = aws_vpc.this.cidr_block",
                'cidr_ipv4         = "0.0.0.0/0"',
            ),
        ),
        kills=(Kill("TF-SG-NO-OPEN-INGRESS"),),
    ),
    Mutant(
        id="public-subnet-assigns-public-ip",
        description="the public subnets give instances public IP addresses",
        edits=(
            Edit(
                NETWORK,
                "cidr_block              = each.value.public_cidr\n"
                "  map_public_ip_on_launch = false",
                "cidr_block              = each.value.public_cidr\n"
                "  map_public_ip_on_launch = true",
                focus="map_public_ip_on_launch",
            ),
        ),
        kills=(Kill("TF-SUBNET-NO-PUBLIC-IP"),),
    ),
    Mutant(
        id="flow-logs-rejects-only",
        description="VPC flow logs record rejected traffic only",
        edits=(
            Edit(
                NETWORK,
                'traffic_type             = "ALL"',
                'traffic_type             = "REJECT"',
            ),
        ),
        kills=(Kill("TF-VPC-FLOW-LOGS"),),
    ),
    Mutant(
        id="rds-unencrypted",
        description="the RDS instance's storage not encrypted",
        edits=(
            Edit(
                DATABASE,
                "storage_encrypted     = true",
                "storage_encrypted     = false",
            ),
        ),
        kills=(Kill("TF-RDS-ENCRYPTED-PRIVATE"),),
    ),
    Mutant(
        id="rds-deletion-unprotected",
        description="deletion protection of the database switched off",
        edits=(
            Edit(
                DATABASE,
                "deletion_protection       = true",
                "deletion_protection       = false",
            ),
        ),
        kills=(Kill("TF-RDS-BACKUPS-PROTECTED"),),
    ),
    Mutant(
        id="rds-password-in-state",
        description="the master password no longer managed by AWS",
        edits=(
            Edit(
                DATABASE,
                "manage_master_user_password   = true",
                "manage_master_user_password   = false",
            ),
        ),
        kills=(Kill("TF-RDS-MANAGED-PASSWORD"),),
    ),
    Mutant(
        id="rds-tls-optional",
        description="the database parameter group no longer forces TLS",
        edits=(
            Edit(
                DATABASE,
                'name         = "rds.force_ssl"\n    value        = "1"',
                'name         = "rds.force_ssl"\n    value        = "0"',
                focus="value",
            ),
        ),
        kills=(Kill("TF-RDS-TLS-IAM-AUTH"),),
    ),
    Mutant(
        id="password-literal-in-stack",
        description="an admin password written as a literal in prod's locals",
        edits=(
            Edit(
                f"{PROD_STACK}/main.tf",
                "  kms_deletion_window_days          = 30\n",
                "  kms_deletion_window_days          = 30\n"
                '  grafana_admin_password            = "Wint3r-is-c0ming-2026"\n',
                focus="grafana_admin_password",
            ),
        ),
        kills=(Kill("TF-NO-SECRET-LITERALS"),),
        also={"TF-STACKS-SAME-CODE": SAME_CODE},
    ),
    Mutant(
        id="password-literal-in-tfvars",
        description="the database password written into prod's terraform.tfvars",
        edits=(
            Edit(
                f"{PROD_STACK}/terraform.tfvars",
                "node_volume_size_gib = 80\n",
                "node_volume_size_gib = 80\n"
                'database_password    = "Wint3r-is-c0ming-2026"\n',
                focus="database_password",
            ),
        ),
        kills=(Kill("TF-NO-SECRET-LITERALS"),),
    ),
    Mutant(
        id="s3-versioning-suspended",
        description="versioning of the runtime bucket suspended",
        edits=(
            Edit(
                STORAGE,
                'resource "aws_s3_bucket_versioning" "objects" {\n'
                "  bucket = aws_s3_bucket.objects.id\n\n"
                "  versioning_configuration {\n"
                '    status = "Enabled"\n',
                'resource "aws_s3_bucket_versioning" "objects" {\n'
                "  bucket = aws_s3_bucket.objects.id\n\n"
                "  versioning_configuration {\n"
                '    status = "Suspended"\n',
                focus="status",
            ),
        ),
        kills=(Kill("TF-S3-VERSIONING"),),
    ),
    Mutant(
        id="s3-public-policy-allowed",
        description="the runtime bucket no longer blocks public bucket policies",
        edits=(
            Edit(
                STORAGE,
                "  bucket                  = aws_s3_bucket.objects.id\n"
                "  block_public_acls       = true\n"
                "  block_public_policy     = true\n",
                "  bucket                  = aws_s3_bucket.objects.id\n"
                "  block_public_acls       = true\n"
                "  block_public_policy     = false\n",
                focus="block_public_policy",
            ),
        ),
        kills=(Kill("TF-S3-NOT-PUBLIC"),),
    ),
    Mutant(
        id="s3-sse-s3-managed-key",
        description="the runtime bucket encrypted with S3-managed keys, not KMS",
        edits=(
            Edit(
                STORAGE,
                '      sse_algorithm     = "aws:kms"\n'
                "      kms_master_key_id = aws_kms_key.objects.arn\n",
                '      sse_algorithm     = "AES256"\n',
            ),
        ),
        kills=(Kill("TF-S3-SSE-KMS"),),
    ),
    Mutant(
        id="s3-access-logging-removed",
        description="access logging of the runtime bucket removed",
        edits=(
            Edit(
                STORAGE,
                'resource "aws_s3_bucket_logging" "objects" {\n',
                'resource "aws_s3_bucket_logging" "objects" {\n  count = 0\n',
                focus="count",
            ),
        ),
        kills=(
            Kill("TF-S3-ACCESS-LOGGING", anchor='resource "aws_s3_bucket" "objects"'),
        ),
        also={
            "TF-S3-SSE-KMS": "with no bucket logging into it, access_logs is no "
            "longer recognized as the log bucket, which alone may use SSE-S3",
        },
    ),
    Mutant(
        id="s3-tls-condition-inverted",
        description="the runtime bucket's TLS-only statement denies TLS instead",
        edits=(
            Edit(
                STORAGE,
                "    resources = [aws_s3_bucket.objects.arn, "
                '"${aws_s3_bucket.objects.arn}/*"]\n\n'
                "    principals {\n"
                '      type        = "*"\n'
                '      identifiers = ["*"]\n'
                "    }\n\n"
                "    condition {\n"
                '      test     = "Bool"\n'
                '      variable = "aws:SecureTransport"\n'
                '      values   = ["false"]\n',
                "    resources = [aws_s3_bucket.objects.arn, "
                '"${aws_s3_bucket.objects.arn}/*"]\n\n'
                "    principals {\n"
                '      type        = "*"\n'
                '      identifiers = ["*"]\n'
                "    }\n\n"
                "    condition {\n"
                '      test     = "Bool"\n'
                '      variable = "aws:SecureTransport"\n'
                '      values   = ["true"]\n',
                focus='values   = ["true"]',
            ),
        ),
        # Reported at the bucket policy.
        kills=(
            Kill("TF-S3-TLS-ONLY", anchor='resource "aws_s3_bucket_policy" "objects"'),
        ),
    ),
    Mutant(
        id="runtime-policy-every-s3-action",
        description="the runtime role allowed every S3 action on its prefix",
        edits=(
            Edit(
                IDENTITY,
                'actions   = ["s3:GetObject", "s3:PutObject"]',
                'actions   = ["s3:*"]',
            ),
        ),
        kills=(Kill("TF-IAM-NO-WILDCARD", anchor=PREFIX_STATEMENT, at="statement"),),
    ),
    Mutant(
        id="runtime-policy-whole-bucket",
        description="the runtime role reaches the whole bucket, not its prefix",
        edits=(
            Edit(
                IDENTITY,
                'resources = ["${var.bucket_arn}/${var.object_prefix}*"]',
                'resources = ["${var.bucket_arn}/*"]',
            ),
        ),
        kills=(Kill("TF-IAM-RUNTIME-SCOPE", anchor=PREFIX_STATEMENT, at="statement"),),
    ),
    Mutant(
        id="pod-identity-default-namespace",
        description="the runtime role associated with namespace default",
        edits=(
            Edit(
                IDENTITY,
                "  namespace       = var.namespace\n",
                '  namespace       = "default"\n',
            ),
        ),
        # Reported on the stack: it has no association for tenon/runtime-api.
        kills=(
            Kill(
                "TF-IAM-RUNTIME-POD-IDENTITY",
                file=f"{PROD_STACK}/main.tf",
                anchor=STACK_HEAD,
            ),
        ),
        also={
            "TF-IAM-RUNTIME-SCOPE": "the runtime role is found through its Pod "
            "Identity association; with none there is no runtime role to scope",
        },
    ),
    Mutant(
        id="deploy-role-trusts-any-branch",
        description="the CI deploy role trusts every branch of the project",
        edits=(
            Edit(
                IDENTITY,
                "ref_type:branch:ref:${var.deploy_branch}",
                "ref_type:branch:ref:*",
            ),
        ),
        kills=(
            Kill(
                "TF-IAM-CI-TRUST-MAIN",
                anchor='"deploy_trust" {\n  statement {',
                at="statement",
            ),
        ),
    ),
    Mutant(
        id="secrets-default-key",
        description="the runtime secret encrypted with the AWS-managed key",
        edits=(
            Edit(SECRETS, "  kms_key_id              = aws_kms_key.secrets.arn\n", ""),
        ),
        kills=(
            Kill(
                "TF-SECRETS-CMK",
                anchor='resource "aws_secretsmanager_secret" "runtime"',
            ),
        ),
    ),
    Mutant(
        id="prod-backend-removed",
        description="the backend block removed from the prod stack (local state)",
        edits=(Edit(f"{PROD_STACK}/versions.tf", PROD_BACKEND, ""),),
        # Reported on the stack, which has no backend any more.
        kills=(
            Kill(
                "TF-STATE-REMOTE-ENCRYPTED",
                file=f"{PROD_STACK}/main.tf",
                anchor=STACK_HEAD,
            ),
        ),
        also={"TF-STACKS-SAME-CODE": SAME_CODE},
    ),
    Mutant(
        id="stage-state-key-of-dev",
        description="stage writes its state under dev's key",
        edits=(
            Edit(
                f"{STAGE_STACK}/versions.tf",
                'key          = "envs/stage/terraform.tfstate"',
                'key          = "envs/dev/terraform.tfstate"',
            ),
        ),
        kills=(Kill("TF-STATE-KEYS-DISTINCT"),),
        also={
            "TF-STACKS-SAME-CODE": "the backend key may differ only as "
            "envs/<env>/terraform.tfstate",
        },
    ),
    Mutant(
        id="prod-provider-unpinned",
        description="the AWS provider of prod constrained by ~> instead of pinned",
        edits=(
            Edit(
                f"{PROD_STACK}/versions.tf",
                'version = "6.27.0"',
                'version = "~> 6.27"',
            ),
        ),
        kills=(Kill("TF-VERSIONS-PINNED", anchor="    aws = {"),),
        also={"TF-STACKS-SAME-CODE": SAME_CODE},
    ),
    Mutant(
        id="stage-registry-module",
        description="stage's network taken from the public registry",
        edits=(
            Edit(
                f"{STAGE_STACK}/main.tf",
                'source = "../../modules/network"',
                'source  = "terraform-aws-modules/vpc/aws"\n  version = "6.0.1"',
            ),
        ),
        kills=(Kill("TF-MODULE-SOURCES-LOCAL"),),
        also={
            **dict.fromkeys(
                (
                    "TF-IAM-NO-WILDCARD",
                    "TF-KMS-ROTATION",
                    "TF-SUBNET-NO-PUBLIC-IP",
                    "TF-VPC-FLOW-LOGS",
                ),
                UNFETCHED,
            ),
            "TF-STACK-MANAGES-PLATFORM": "stage now manages no VPC of its own code",
            "TF-STACKS-SAME-CODE": SAME_CODE,
            "TF-STACKS-SAME-SECURITY": "stage's network resources are missing",
        },
    ),
    Mutant(
        id="stage-database-disabled",
        description="stage's database module switched off with count = 0",
        edits=(
            Edit(
                f"{STAGE_STACK}/main.tf",
                '  source = "../../modules/database"\n',
                '  source = "../../modules/database"\n  count  = 0\n',
                focus="count",
            ),
        ),
        # Reported on the stack, which manages no database any more.
        kills=(
            Kill(
                "TF-STACK-MANAGES-PLATFORM",
                file=f"{STAGE_STACK}/main.tf",
                anchor=STACK_HEAD,
            ),
        ),
        also={
            **dict.fromkeys(
                (
                    "TF-KMS-ROTATION",
                    "TF-RDS-BACKUPS-PROTECTED",
                    "TF-RDS-ENCRYPTED-PRIVATE",
                    "TF-RDS-MANAGED-PASSWORD",
                    "TF-RDS-TLS-IAM-AUTH",
                ),
                "stage's database resources are no longer there to check",
            ),
            "TF-STACKS-SAME-CODE": SAME_CODE,
            "TF-STACKS-SAME-SECURITY": "stage's database resources are missing",
        },
    ),
    Mutant(
        id="stage-shorter-log-retention",
        description="stage keeps logs 30 days where the other stacks keep 365",
        edits=(
            Edit(
                f"{STAGE_STACK}/main.tf",
                "log_retention_days                = 365",
                "log_retention_days                = 30",
            ),
        ),
        kills=(Kill("TF-STACKS-SAME-CODE"),),
    ),
    Mutant(
        id="bootstrap-state-versioning-suspended",
        description="versioning of the Terraform state bucket suspended",
        edits=(
            Edit(
                f"{TF}/bootstrap/main.tf",
                "  bucket = aws_s3_bucket.state.id\n\n"
                "  versioning_configuration {\n"
                '    status = "Enabled"\n',
                "  bucket = aws_s3_bucket.state.id\n\n"
                "  versioning_configuration {\n"
                '    status = "Suspended"\n',
                focus="status",
            ),
        ),
        kills=(Kill("TF-BOOTSTRAP-STATE-BUCKET"),),
    ),
)

SANDBOX_VERSIONS = """\
terraform {
  required_version = "1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.27.0"
    }
  }

  backend "s3" {
    bucket       = "tenon-dev-terraform-state"
    key          = "envs/sandbox/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    kms_key_id   = "alias/tenon-terraform-state"
    use_lockfile = true
  }
}
"""
CDK_APP = '{"app": "python3 app.py"}\n'

TERRAFORM_TREE_MUTANTS = (
    Mutant(
        id="sandbox-environment-stack",
        description="a fourth environment stack, envs/sandbox, next to dev, stage "
        "and prod",
        edits=(Edit(f"{TF}/envs/sandbox/versions.tf", "", SANDBOX_VERSIONS),),
        # Reported on the envs folder as a whole (no line).
        kills=(Kill("TF-ENVIRONMENTS", file=f"{TF}/envs", whole_file=True),),
        also=dict.fromkeys(
            (
                "TF-STACK-MANAGES-PLATFORM",
                "TF-STACKS-SAME-CODE",
                "TF-STACKS-SAME-SECURITY",
                "TF-IAM-CI-TRUST-MAIN",
                "TF-IAM-RUNTIME-POD-IDENTITY",
                "TF-IAM-RUNTIME-SCOPE",
            ),
            "the empty sandbox stack is a new subject of every per-stack control "
            "and manages none of the platform",
        ),
    ),
    Mutant(
        id="cdk-app-next-to-terraform",
        description="an AWS CDK app (cdk.json) added under infra/",
        edits=(Edit("infra/cdk/cdk.json", "", CDK_APP),),
        kills=(
            Kill("TF-IAC-IS-TERRAFORM", file="infra/cdk/cdk.json", whole_file=True),
        ),
    ),
    Mutant(
        id="module-variable-undocumented",
        description="a database module variable loses its description",
        edits=(
            Edit(
                f"{TF}/modules/database/variables.tf",
                'variable "name" {\n  description = "Identifier of the database '
                'instance and prefix of its resources, e.g. tenon-prod."\n',
                'variable "name" {\n',
            ),
        ),
        kills=(Kill("TF-LINT"),),
    ),
    Mutant(
        id="multi-az-only-in-prod",
        description="the database is multi-AZ in prod only (dev and stage differ)",
        edits=(
            Edit(
                DATABASE,
                "  multi_az               = true\n",
                '  multi_az               = var.name == "tenon-prod"\n',
            ),
        ),
        kills=(Kill("TF-STACKS-SAME-SECURITY"),),
    ),
)

GOVERNANCE_MUTANTS = (
    Mutant(
        id="main-force-push-allowed",
        description="force pushes to main allowed",
        edits=(
            Edit(
                GOVERNANCE,
                "allow_force_push             = false",
                "allow_force_push             = true",
            ),
        ),
        kills=(Kill("GOV-MAIN-PROTECTED"),),
    ),
    Mutant(
        id="main-push-allowed",
        description="developers may push to main directly",
        edits=(
            Edit(
                GOVERNANCE,
                'push_access_level            = "no one"',
                'push_access_level            = "developer"',
            ),
        ),
        kills=(Kill("GOV-MAIN-PROTECTED"),),
    ),
    Mutant(
        id="author-approves-own-mr",
        description="a merge request's author may approve it",
        edits=(
            Edit(
                GOVERNANCE,
                "merge_requests_author_approval                 = false",
                "merge_requests_author_approval                 = true",
            ),
        ),
        kills=(Kill("GOV-MERGE-APPROVALS"),),
    ),
    Mutant(
        id="merge-without-green-pipeline",
        description="merge requests may merge with a failed pipeline",
        edits=(
            Edit(
                GOVERNANCE,
                "only_allow_merge_if_pipeline_succeeds            = true",
                "only_allow_merge_if_pipeline_succeeds            = false",
            ),
        ),
        kills=(Kill("GOV-PIPELINE-MUST-SUCCEED"),),
    ),
    Mutant(
        id="prod-deploy-without-approval",
        description="a prod deployment needs no approval",
        edits=(
            Edit(
                GOVERNANCE,
                "required_approvals = 2",
                "required_approvals = 0",
            ),
        ),
        # Reported where the approval rules are built from the map.
        kills=(Kill("GOV-PROD-ENVIRONMENT-APPROVAL", anchor="  approval_rules = "),),
    ),
)

CI = ".gitlab-ci.yml"
MAIN_PUSH_RULE = (
    "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    ' && $CI_PIPELINE_SOURCE == "push"\n'
)
BUILDCTL = "buildctl-daemonless.sh build"
REVISION_ARG = '        --opt build-arg:REVISION="$CI_COMMIT_SHA" \\\n'

PIPELINE_MUTANTS = (
    Mutant(
        id="compliance-allowed-to-fail",
        description="the merge check may fail without blocking the pipeline",
        edits=(
            Edit(
                CI,
                "compliance:\n  stage: compliance\n",
                "compliance:\n  stage: compliance\n  allow_failure: true\n",
                focus="allow_failure",
            ),
        ),
        kills=(Kill("CI-COMPLIANCE-BLOCKING"),),
    ),
    Mutant(
        id="compliance-exit-code-swallowed",
        description="the compliance job's pytest is followed by || true, so the "
        "job succeeds whatever the suite finds",
        edits=(
            Edit(
                CI,
                "      --junit-report reports/junit.xml\n",
                "      --junit-report reports/junit.xml || true\n",
            ),
        ),
        # Reported where the folded pytest command starts.
        kills=(
            Kill(
                "CI-COMPLIANCE-BLOCKING",
                anchor="      python3 -m pytest compliance/ --strict\n",
            ),
        ),
    ),
    Mutant(
        id="deploy-client-side-apply",
        description="deploy applies the overlay client-side, not server-side",
        edits=(
            Edit(
                CI,
                "    - kubectl apply --server-side --force-conflicts "
                "--field-manager=gitlab-ci --filename rendered.yaml\n",
                "    - kubectl apply --filename rendered.yaml\n",
            ),
        ),
        kills=(Kill("CI-DEPLOY-ROLLOUT"),),
    ),
    Mutant(
        id="apply-without-manual-review",
        description="terraform apply runs on main without the manual review",
        edits=(
            Edit(
                CI,
                f"  rules:\n{MAIN_PUSH_RULE}      when: manual\n",
                f"  rules:\n{MAIN_PUSH_RULE}",
            ),
        ),
        # Reported on each apply job that inherits the rule.
        kills=(Kill("CI-APPLY-MANUAL", anchor="apply:prod:\n"),),
    ),
    Mutant(
        id="prod-apply-without-resource-group",
        description="apply:prod may run twice at once (no resource group)",
        edits=(
            Edit(
                CI,
                "  resource_group: terraform-prod\n"
                "  needs: [plan:prod, review:prod, compliance, apply:stage]\n",
                "  needs: [plan:prod, review:prod, compliance, apply:stage]\n",
            ),
        ),
        kills=(Kill("CI-APPLY-ENVIRONMENT", anchor="apply:prod:\n"),),
    ),
    Mutant(
        id="apply-plans-afresh",
        description="apply plans afresh with -auto-approve instead of the saved plan",
        edits=(
            Edit(
                CI,
                "    - terraform apply -input=false -lock-timeout=5m plan.tfplan\n",
                "    - terraform apply -input=false -auto-approve -lock-timeout=5m\n",
            ),
        ),
        kills=(Kill("CI-APPLY-SAVED-PLAN"),),
    ),
    Mutant(
        id="build-receives-registry-password",
        description="the registry password passed to the build as a build argument",
        edits=(
            Edit(
                CI,
                REVISION_ARG,
                REVISION_ARG
                + "        --opt build-arg:CI_REGISTRY_PASSWORD="
                + '"$CI_REGISTRY_PASSWORD" \\\n',
            ),
        ),
        kills=(Kill("CI-BUILD-ROOTLESS", anchor=BUILDCTL),),
    ),
    Mutant(
        id="build-overrides-runtime-base",
        description="the build job overrides the pinned runtime base digest",
        edits=(
            Edit(
                CI,
                REVISION_ARG,
                REVISION_ARG
                + "        --opt build-arg:RUNTIME_BASE_DIGEST="
                + '"$RUNTIME_BASE_DIGEST" \\\n',
            ),
        ),
        kills=(Kill("CI-BUILD-BASE-FIXED", anchor=BUILDCTL),),
    ),
    Mutant(
        id="compliance-report-only-on-success",
        description="the compliance JUnit is kept only when the job succeeds",
        edits=(
            Edit(
                CI,
                "  artifacts:\n    when: always\n    expire_in: 90 days\n"
                "    paths:\n      - reports/\n    reports:\n"
                "      junit: reports/junit.xml\n",
                "  artifacts:\n    expire_in: 90 days\n"
                "    paths:\n      - reports/\n    reports:\n"
                "      junit: reports/junit.xml\n",
                focus="expire_in",
            ),
        ),
        # Reported at the artifacts mapping, whose first key is now expire_in.
        kills=(Kill("CI-COMPLIANCE-REPORT"),),
    ),
    Mutant(
        id="compliance-not-strict",
        description="the merge check no longer runs the suite with --strict",
        edits=(
            Edit(
                CI,
                "      python3 -m pytest compliance/ --strict\n",
                "      python3 -m pytest compliance/\n",
            ),
        ),
        kills=(Kill("CI-COMPLIANCE-STRICT"),),
    ),
    Mutant(
        id="prod-deploy-skips-stage",
        description="deploy:prod no longer waits for deploy:stage",
        edits=(
            Edit(
                CI,
                "  needs: [apply:prod, deploy:stage]\n",
                "  needs: [apply:prod]\n",
            ),
        ),
        kills=(Kill("CI-DEPLOY-ORDER"),),
    ),
    Mutant(
        id="deploy-without-rollback",
        description="a failed rollout is no longer rolled back",
        edits=(
            Edit(
                CI,
                "        kubectl rollout undo deployment/runtime-api"
                " --namespace tenon\n",
                "",
            ),
        ),
        # Reported on each deploy job.
        kills=(Kill("CI-DEPLOY-ROLLOUT", anchor="\ndeploy:prod:\n", at="deploy"),),
    ),
    Mutant(
        id="ci-python-image-by-tag",
        description="the Python job image referenced by tag, without its digest",
        edits=(
            Edit(
                CI,
                ".python:\n  image: python:3.11-slim-bookworm@sha256:"
                "a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b\n",
                ".python:\n  image: python:3.11-slim-bookworm\n",
                focus="image",
            ),
        ),
        kills=(Kill("CI-IMAGE-PINNED"),),
    ),
    Mutant(
        id="no-merge-request-pipelines",
        description="merge requests no longer get a pipeline (no merge check runs)",
        edits=(
            Edit(
                CI,
                "    # A merge request gets a merge request pipeline:"
                " its required checks.\n"
                '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"\n',
                "",
            ),
        ),
        kills=(Kill("CI-MR-PIPELINES", anchor="workflow:"),),
    ),
    Mutant(
        id="verify-job-scales-deployment",
        description="the verify job scales the Deployment by hand",
        edits=(
            Edit(
                CI,
                "    - cat pods.txt\n",
                "    - cat pods.txt\n"
                "    - kubectl scale deployment/runtime-api --namespace tenon"
                " --replicas=3\n",
                focus="kubectl scale",
            ),
        ),
        kills=(Kill("CI-NO-OUT-OF-BAND-CHANGES"),),
    ),
    Mutant(
        id="static-aws-key-in-ci",
        description="a static AWS access key in the pipeline's variables",
        edits=(
            Edit(
                CI,
                "  AWS_DEFAULT_REGION: eu-central-1\n",
                "  AWS_DEFAULT_REGION: eu-central-1\n"
                "  AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\n",
                focus="AWS_ACCESS_KEY_ID",
            ),
        ),
        kills=(Kill("CI-NO-STATIC-CREDENTIALS"),),
    ),
    Mutant(
        id="plan-not-saved",
        description="the plan jobs no longer save their plan",
        edits=(
            Edit(
                CI,
                "    - terraform plan -input=false -lock-timeout=5m -out=plan.tfplan\n",
                "    - terraform plan -input=false -lock-timeout=5m\n",
            ),
        ),
        kills=(Kill("CI-PLAN-PER-ENVIRONMENT"),),
    ),
    Mutant(
        id="sign-with-a-key",
        description="the image signed with a stored private key instead of keyless",
        edits=(
            Edit(
                CI,
                "cosign sign --yes --bundle build/runtime-api.sigstore.json",
                "cosign sign --yes --key env://COSIGN_PRIVATE_KEY "
                "--bundle build/runtime-api.sigstore.json",
            ),
        ),
        kills=(Kill("CI-SIGN-KEYLESS"),),
    ),
    Mutant(
        id="sign-by-tag",
        description="the image signed by its tag instead of its digest",
        edits=(
            Edit(
                CI,
                "cosign sign --yes --bundle build/runtime-api.sigstore.json "
                '"$IMAGE_REPOSITORY@$IMAGE_DIGEST"',
                "cosign sign --yes --bundle build/runtime-api.sigstore.json "
                '"$IMAGE_REPOSITORY:latest"',
            ),
        ),
        kills=(Kill("CI-SIGN-KEYLESS"),),
    ),
    Mutant(
        id="deploy-stage-before-apply",
        description="the deploy stage ordered before the apply stage",
        edits=(Edit(CI, "  - apply\n  - deploy\n", "  - deploy\n  - apply\n"),),
        kills=(Kill("CI-STAGES-ORDER", anchor="stages:"),),
    ),
    Mutant(
        id="prod-not-verified",
        description="the verify job of prod removed",
        edits=(
            Edit(
                CI,
                "\nverify:prod:\n"
                "  extends: [.verify, .env-prod]\n"
                "  resource_group: cluster-prod\n"
                "  tags: [tenon-prod]\n"
                "  needs: [deploy:prod, verify:stage]\n"
                "  environment:\n"
                "    name: prod\n"
                "    deployment_tier: production\n"
                "    action: verify\n",
                "",
            ),
        ),
        kills=(Kill("CI-VERIFY-AFTER-DEPLOY", anchor="\ndeploy:prod:\n", at="deploy"),),
        also=dict.fromkeys(
            (
                "CI-IMAGE-PINNED",
                "CI-NO-OUT-OF-BAND-CHANGES",
                "CI-NO-STATIC-CREDENTIALS",
            ),
            "these controls check every job; the job verify:prod and its cases "
            "are gone",
        ),
    ),
)

REPOSITORY_MUTANTS: tuple[Mutant, ...] = (
    *DOCKER_MUTANTS,
    *KUBERNETES_MUTANTS,
    *TERRAFORM_MUTANTS,
    *GOVERNANCE_MUTANTS,
    *PIPELINE_MUTANTS,
    *TERRAFORM_TREE_MUTANTS,
)
