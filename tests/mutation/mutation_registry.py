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


REPOSITORY_MUTANTS: tuple[Mutant, ...] = (*DOCKER_MUTANTS,)
