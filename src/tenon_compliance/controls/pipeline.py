"""Controls over the GitLab CI pipeline (.gitlab-ci.yml and its local includes).

Subjects are discovered from what jobs do, not from their names: every job
whose script runs ``terraform apply`` is an apply job, every job that runs
``kubectl apply`` a deploy job, ``cosign sign`` a sign job, and so on, so a
new job is checked without editing a test. Subjects: ``job:<name>``,
``plan:<env>`` and ``pipeline``.

Known limit: GitLab settings that live outside the repository (protected
environments and branches, approval rules) cannot be read here; the controls
check what the configuration can show (an ``environment:`` named after the
environment, manual jobs, default-branch rules).
"""

from __future__ import annotations

import itertools
import re
import shlex
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tenon_compliance.controls.base import control
from tenon_compliance.controls.dockerfile import (
    SECRET_NAME,
    SECRET_VALUE,
    placeholder_digest,
)
from tenon_compliance.evidence import ENVIRONMENTS, Evidence
from tenon_compliance.loaders import dockerfile as dockerfile_loader
from tenon_compliance.loaders import gitlab_ci
from tenon_compliance.loaders.gitlab_ci import Job, Pipeline, ScriptLine, Variable
from tenon_compliance.model import Location, Method, Severity, Subject, Violation

REQUIRED_STAGES = (
    "validate",
    "compliance",
    "build",
    "sign",
    "plan",
    "review",
    "apply",
    "deploy",
    "verify",
)
CHANGE_STAGES = frozenset({"apply", "deploy"})
KUBECTL_MUTATING = frozenset(
    {"apply", "edit", "patch", "scale", "delete", "replace", "create", "set"}
)
KUBECTL_VALUE_FLAGS = frozenset(
    {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s"}
)
STATIC_CLOUD_CREDENTIALS = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "ARM_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET",
    }
)
_DEFAULT_BRANCH = re.compile(
    r"\$\{?CI_COMMIT_(BRANCH|REF_NAME)\}?\s*==\s*(\$\{?CI_DEFAULT_BRANCH\}?|[\"']main[\"'])"
)
_OPEN_MR = re.compile(r"\$\{?CI_OPEN_MERGE_REQUESTS\}?")
_MR_EVENT = re.compile(r"CI_PIPELINE_SOURCE\s*==\s*[\"']merge_request_event[\"']")
_BRANCH = re.compile(r"\$\{?CI_COMMIT_(BRANCH|REF_NAME)\b")
_ENV_PATH = re.compile(r"(?:envs|overlays)/(dev|stage|prod)\b")
_DIGEST_REF = re.compile(r"@(sha256:[0-9a-f]{64}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)")
# Subshells and command substitutions become commands of their own.
_ARG_IN_FROM = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_SEPARATORS = re.compile(r"&&|\|\||;|\||\$?\(|\)")


# --- commands --------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One simple shell command of a job, its words and where it was written."""

    words: tuple[str, ...]
    text: str
    location: Location
    section: str
    line: str = ""
    cwd: str = ""


def _joined(lines: Iterable[ScriptLine]) -> Iterator[ScriptLine]:
    """Lines with backslash continuations joined (the first line's location kept)."""
    pending: ScriptLine | None = None
    for raw in lines:
        line = raw
        if pending is not None:
            line = ScriptLine(pending.text + " " + raw.text.strip(), pending.location)
            pending = None
        if line.text.rstrip().endswith("\\"):
            pending = ScriptLine(line.text.rstrip()[:-1], line.location)
            continue
        yield line
    if pending is not None:
        yield pending


_COMMANDS: weakref.WeakKeyDictionary[Job, list[Command]] = weakref.WeakKeyDictionary()


def commands(job: Job) -> list[Command]:
    """Every simple command of a job's before_script, script and after_script.

    ``cwd`` follows ``cd`` commands (relative to the project directory), so a
    path a command writes can be compared with the job's artifact paths;
    before_script and script share one shell, after_script starts afresh.
    Splitting shell words is the costly part of most pipeline controls, so
    each job is split once per run (the cache lives as long as the job).
    """
    if job not in _COMMANDS:
        _COMMANDS[job] = _split_commands(job)
    return _COMMANDS[job]


def _split_commands(job: Job) -> list[Command]:
    found: list[Command] = []
    cwd = ""
    for section in ("before_script", "script", "after_script"):
        if section == "after_script":  # GitLab runs it in a new shell
            cwd = ""
        for line in _joined(getattr(job, section)):
            for part in _SEPARATORS.split(line.text):
                words = _words(part)
                if not words:
                    continue
                found.append(
                    Command(words, part.strip(), line.location, section, line.text, cwd)
                )
                if words[0] == "cd" and len(words) == 2:
                    cwd = _join(cwd, expand(words[1], job))
    return found


def _join(cwd: str, path: str) -> str:
    """path relative to the project directory, after ``cd`` from cwd."""
    path = re.sub(r"^\$\{?CI_PROJECT_DIR\}?/?", "", path)
    joined = path if path.startswith("/") or not cwd else f"{cwd}/{path}"
    return joined.strip("/")


def _words(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text, comments=True))
    except ValueError:  # an unbalanced quote across lines: fall back to blanks
        return tuple(text.split())


def _tool_index(words: tuple[str, ...], tool: str) -> int | None:
    for index, word in enumerate(words):
        if word.rsplit("/", 1)[-1] == tool:
            return index
    return None


def terraform(command: Command) -> tuple[str, tuple[str, ...]] | None:
    """``(subcommand, arguments)`` when the command runs terraform (or tofu)."""
    for tool in ("terraform", "tofu"):
        index = _tool_index(command.words, tool)
        if index is None:
            continue
        rest = [w for w in command.words[index + 1 :]]
        while rest and rest[0].startswith("-"):
            rest.pop(0)
        if rest:
            return rest[0], tuple(rest[1:])
    return None


def kubectl(command: Command) -> tuple[str, tuple[str, ...]] | None:
    """``(verb, arguments)`` when the command runs kubectl."""
    index = _tool_index(command.words, "kubectl")
    if index is None:
        return None
    rest = list(command.words[index + 1 :])
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in KUBECTL_VALUE_FLAGS and rest:
            rest.pop(0)
    if not rest:
        return None
    return rest[0], tuple(rest[1:])


def runs(job: Job, tool: str, verb: str) -> list[Command]:
    """The job's commands running ``terraform <verb>`` or ``kubectl <verb>``."""
    parse = terraform if tool == "terraform" else kubectl
    return [c for c in commands(job) if (found := parse(c)) and found[0] == verb]


def positional(arguments: Iterable[str]) -> list[str]:
    """Arguments that are not flags (``-x``, ``--x=y``)."""
    return [word for word in arguments if not word.startswith("-")]


# --- environments and selectors -------------------------------------------


def job_environment(job: Job) -> str | None:
    """The environment (dev, stage, prod) a job works on, or None."""
    if job.environment:
        first = job.environment.name.split("/", 1)[0]
        if first in ENVIRONMENTS:
            return first
    for line in job.all_lines:
        match = _ENV_PATH.search(line.text)
        if match:
            return match.group(1)
    for variable in job.variables.values():
        if variable.value in ENVIRONMENTS and "ENV" in variable.name.upper():
            return variable.value
    tokens = re.split(r"[-_:/ ]", job.name)
    matches = [env for env in ENVIRONMENTS if env in tokens]
    return matches[0] if len(matches) == 1 else None


def _pipeline(evidence: Evidence) -> Pipeline:
    return evidence.load("gitlab_ci", gitlab_ci.load)


def _job_subject(job: Job) -> Subject:
    return Subject(f"job:{job.name}", job.location, job)


def pipeline_subject(evidence: Evidence) -> Iterator[Subject]:
    """The pipeline as a whole."""
    pipeline = _pipeline(evidence)
    yield Subject("pipeline", Location(pipeline.file, 1), pipeline)


def pipeline_and_jobs(evidence: Evidence) -> Iterator[Subject]:
    """The pipeline (for its global settings), then every job."""
    yield from pipeline_subject(evidence)
    yield from every_job(evidence)


def every_job(evidence: Evidence) -> Iterator[Subject]:
    """Every (non-hidden) job."""
    for job in _pipeline(evidence).jobs.values():
        yield _job_subject(job)


def _jobs_running(evidence: Evidence, tool: str, verb: str) -> Iterator[Subject]:
    for job in _pipeline(evidence).jobs.values():
        if runs(job, tool, verb):
            yield _job_subject(job)


def apply_jobs(evidence: Evidence) -> Iterator[Subject]:
    """Every job whose script runs ``terraform apply``."""
    return _jobs_running(evidence, "terraform", "apply")


def deploy_jobs(evidence: Evidence) -> Iterator[Subject]:
    """Every job whose script runs ``kubectl apply``."""
    return _jobs_running(evidence, "kubectl", "apply")


def compliance_jobs(evidence: Evidence) -> Iterator[Subject]:
    """Every job that runs the compliance suite (``pytest ... compliance/``)."""
    for job in _pipeline(evidence).jobs.values():
        if _suite_commands(job):
            yield _job_subject(job)


def _suite_commands(job: Job) -> list[Command]:
    return [
        c
        for c in commands(job)
        if _tool_index(c.words, "pytest") is not None
        and any(w.rstrip("/") == "compliance" for w in c.words)
    ]


_BUILD_TOOLS = ("buildctl", "buildctl-daemonless.sh", "buildah", "docker", "kaniko")


def build_jobs(evidence: Evidence) -> Iterator[Subject]:
    """Every job that builds an image (BuildKit, Buildah, docker, kaniko)."""
    for job in _pipeline(evidence).jobs.values():
        if _build_commands(job) or job.stage == "build":
            yield _job_subject(job)


def _report_file(command: Command) -> str | None:
    """The JUnit file a pytest command writes (--junitxml or --junit-report)."""
    for flag in ("--junitxml", "--junit-xml", "--junit-report"):
        value = _flag_value(command.words, flag)
        if value:
            return _join(command.cwd, value)
    return None


def _build_commands(job: Job) -> list[Command]:
    found = []
    for command in commands(job):
        tools = {w.rsplit("/", 1)[-1] for w in command.words[:2]}
        if tools & {"buildctl", "buildctl-daemonless.sh", "executor"} or (
            tools & {"buildah", "docker"} and {"build", "bud"} & set(command.words)
        ):
            found.append(command)
    return found


def sign_jobs(evidence: Evidence) -> Iterator[Subject]:
    """Every job whose script runs ``cosign sign``."""
    for job in _pipeline(evidence).jobs.values():
        if _cosign_sign(job):
            yield _job_subject(job)


def _cosign_sign(job: Job) -> list[Command]:
    found = []
    for command in commands(job):
        index = _tool_index(command.words, "cosign")
        if index is not None and "sign" in command.words[index + 1 : index + 2]:
            found.append(command)
    return found


def plan_environments(evidence: Evidence) -> Iterator[Subject]:
    """One subject per environment, holding the jobs that plan it."""
    pipeline = _pipeline(evidence)
    for env in ENVIRONMENTS:
        jobs = [
            job
            for job in pipeline.jobs.values()
            if runs(job, "terraform", "plan") and job_environment(job) == env
        ]
        yield Subject(f"plan:{env}", Location(pipeline.file, 1), (env, jobs))


# --- checks shared by several controls -------------------------------------


def effective_whens(job: Job) -> list[tuple[str, Location]]:
    """When the job can run: each non-``never`` rule's ``when`` (or the job's)."""
    if not job.rules:
        return [(job.when, job.where("when"))]
    found = []
    for rule in job.rules:
        when = rule.when or job.when
        if when != "never":
            found.append((when, rule.location if rule.when else job.where("when")))
    return found


def default_branch_only(job: Job) -> Violation | None:
    """A violation when the job can run outside the default branch."""
    running = [rule for rule in job.rules if rule.when != "never"]
    if not job.rules:
        return Violation(
            job.location,
            "the job has no rules: it runs on every branch and merge request",
            "rules: - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
            "no rules",
        )
    for rule in running:
        if not _DEFAULT_BRANCH.search(rule.condition) or "||" in rule.condition:
            return Violation(
                rule.location,
                "a rule lets the job run outside the default branch",
                "every rule requires $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
                f"if: {rule.condition or '<none>'}",
            )
    return None


# --- IAC-5 -----------------------------------------------------------------


@control(
    id="CI-MR-PIPELINES",
    title="Merge requests get pipelines, without duplicate branch pipelines",
    clauses=("IAC-5",),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale=(
        "Changes are audited through merge requests: each MR must run the "
        "pipeline, and a branch pipeline beside it would duplicate (and race) it."
    ),
    remedy=(
        "workflow: rules: - if: $CI_PIPELINE_SOURCE == 'merge_request_event'; - if: "
        "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS, when: never; - if: "
        "$CI_COMMIT_BRANCH"
    ),
    subjects=pipeline_subject,
)
def mr_pipelines(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """workflow:rules run MR pipelines and suppress branch duplicates."""
    pipeline: Pipeline = subject.data
    where = pipeline.workflow_location or subject.location
    rules = pipeline.workflow_rules
    if not any(_MR_EVENT.search(r.condition) and r.when != "never" for r in rules):
        yield Violation(
            where,
            "workflow rules do not run merge request pipelines",
            "a rule on $CI_PIPELINE_SOURCE == 'merge_request_event'",
            "no such rule" if rules else "no workflow rules",
        )
    guarded = False
    for rule in rules:
        if _OPEN_MR.search(rule.condition) and rule.when == "never":
            guarded = True
        branch = _BRANCH.search(rule.condition) and rule.when != "never"
        if branch and not guarded and not _DEFAULT_BRANCH.search(rule.condition):
            yield Violation(
                rule.location,
                "branch pipelines run beside merge request pipelines (duplicates)",
                "a preceding rule $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS "
                "with when: never",
                f"if: {rule.condition}",
            )


# --- INV-2.2 / IAC-6 -------------------------------------------------------


# The order RFC-16 needs between the required stages. Compliance may run
# before the build or after the signature (the suite can then check the built,
# signed image); everything else is a chain.
STAGE_ORDER = (
    *(("validate", stage) for stage in REQUIRED_STAGES[1:]),
    ("build", "sign"),
    ("compliance", "plan"),
    ("sign", "plan"),
    ("plan", "review"),
    ("review", "apply"),
    ("apply", "deploy"),
    ("deploy", "verify"),
)


@control(
    id="CI-STAGES-ORDER",
    title="The pipeline has the required stages, in order",
    clauses=("INV-2.2", "IAC-6"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Every change goes through validation, compliance, build, signing, "
    "plan, review, apply, deploy and verification: plan before review before "
    "apply, and nothing deployed before it was built, signed and checked.",
    remedy="stages: [validate, compliance, build, sign, plan, review, apply, deploy, "
    "verify] (compliance may also follow sign; other stages may sit in between).",
    subjects=pipeline_subject,
)
def stages_order(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each required stage exists and every pair of STAGE_ORDER is respected."""
    pipeline: Pipeline = subject.data
    missing = [stage for stage in REQUIRED_STAGES if stage not in pipeline.stages]
    position = {stage: index for index, stage in enumerate(pipeline.stages)}
    wrong = [
        f"{before} after {after}"
        for before, after in STAGE_ORDER
        if before in position
        and after in position
        and position[before] > position[after]
    ]
    if missing or wrong:
        problems = [f"missing: {', '.join(missing)}"] if missing else []
        problems += [f"out of order: {', '.join(wrong)}"] if wrong else []
        yield Violation(
            pipeline.stages_location,
            f"required stages are missing or out of order ({'; '.join(problems)})",
            ", ".join(REQUIRED_STAGES),
            ", ".join(pipeline.stages),
        )


# --- MIT-2 / TST-F1 / FLOW-3: compliance job -------------------------------


@control(
    id="CI-COMPLIANCE-REPORT",
    title="The compliance job runs the suite and always publishes its JUnit report",
    clauses=("MIT-2", "TST-F1"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The IaC audit trail is the compliance report, kept even when the "
    "suite fails (that is when it matters most).",
    remedy="Run pytest compliance/ --junitxml=reports/junit.xml and set artifacts: "
    "when: always, reports: junit: reports/junit.xml.",
    subjects=compliance_jobs,
)
def compliance_report(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """The report each suite run writes is a JUnit artifact kept with when: always.

    A run that names no report file is expected to write reports/junit.xml.
    """
    job: Job = subject.data
    artifacts = job.artifacts
    junit = (artifacts.reports.get("junit") if artifacts else None) or []
    junit = [junit] if isinstance(junit, str) else list(junit)
    for command in _suite_commands(job):
        written = _report_file(command) or "reports/junit.xml"
        if written not in junit:
            yield Violation(
                artifacts.location if artifacts else job.location,
                f"the compliance job does not publish {written} as a JUnit report",
                f"artifacts: reports: junit: {written}",
                f"junit: {junit or 'none'}",
            )
    if artifacts is None or artifacts.when != "always":
        yield Violation(
            artifacts.location if artifacts else job.location,
            "the report is not kept when the suite fails",
            "artifacts: when: always",
            f"when: {artifacts.when if artifacts else 'no artifacts'}",
        )


@control(
    id="CI-COMPLIANCE-STRICT",
    title="A compliance run checks the built image and its signature, strictly",
    clauses=("FLOW-3",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Without --image and --signature-bundle the image and signature "
    "controls are only 'not evaluated'; --strict turns that into a failure.",
    remedy='Run pytest compliance/ --image "$IMAGE@$DIGEST" --signature-bundle '
    "<bundle> --strict in the job that gates the change.",
    subjects=pipeline_subject,
)
def compliance_strict(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A merge request job runs the suite with --image, --signature-bundle, --strict."""
    pipeline: Pipeline = subject.data
    suite = [(job, c) for job in pipeline.jobs.values() for c in _suite_commands(job)]
    wanted = ("--image", "--signature-bundle", "--strict")
    strict = [
        (job, command)
        for job, command in suite
        if all(flag in {w.split("=", 1)[0] for w in command.words} for flag in wanted)
    ]
    if not strict:
        yield Violation(
            suite[0][1].location if suite else subject.location,
            "no job runs the compliance suite against the signed image in strict mode",
            "pytest compliance/ --image ... --signature-bundle ... --strict",
            suite[0][1].text if suite else "no pytest compliance/ command",
        )
    elif not any(runs_on_merge_requests(job) for job, _ in strict):
        job = strict[0][0]
        yield Violation(
            job.where("rules"),
            "the strict compliance run is not a merge request check",
            "a rule on $CI_PIPELINE_SOURCE == 'merge_request_event'",
            f"rules: {[rule.condition for rule in job.rules] or 'none'}",
        )


@control(
    id="CI-COMPLIANCE-BLOCKING",
    title="A failing compliance run blocks the pipeline",
    clauses=("MIT-2", "IAC-5", "INV-2.2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="The suite is the required merge check: if its job may fail "
    "(allow_failure) or waits for a click (when: manual), a broken RFC-16 "
    "invariant no longer stops the merge request.",
    remedy="Remove allow_failure and when: manual from every job (and every rule "
    "of it) that runs pytest compliance/.",
    subjects=compliance_jobs,
)
def compliance_blocking(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Neither the job nor any of its rules lets the suite fail or wait."""
    job: Job = subject.data
    allowed = job.data.get("allow_failure")
    if allowed not in (None, False):
        yield Violation(
            job.where("allow_failure"),
            f"job {job.name} runs the compliance suite but may fail without "
            "blocking the pipeline",
            "no allow_failure (the default false)",
            f"allow_failure: {allowed}",
        )
    if job.when == "manual":
        yield Violation(
            job.where("when"),
            f"job {job.name} runs the compliance suite only when someone starts it",
            "the job runs on every merge request pipeline",
            "when: manual",
        )
    for command in _suite_commands(job):
        discarded = _exit_status_discarded(job, command)
        if discarded:
            yield Violation(
                command.location,
                f"job {job.name} discards the compliance suite's exit status: "
                f"{discarded}",
                "the suite's exit status is the job's (no '|| ...', no unguarded "
                "pipe, no 'set +e')",
                command.line.strip()[:160],
            )
    for rule in job.rules:
        if rule.data.get("allow_failure") not in (None, False) or (
            rule.data.get("when") == "manual"
        ):
            yield Violation(
                rule.location,
                f"a rule of job {job.name} lets the compliance suite fail or wait",
                "rules without allow_failure or when: manual",
                f"rule: {rule.data}",
            )


def _exit_status_discarded(job: Job, command: Command) -> str | None:
    """How a script line lets the suite fail silently, or None."""
    after = command.line.partition(command.text.strip())[2].lstrip()
    script = "\n".join(line.text for line in (*job.before_script, *job.script))
    if after.startswith("||"):
        return "'|| ...' runs when the suite fails and the line succeeds"
    if after.startswith("|") and "pipefail" not in script:
        return "a pipe without 'set -o pipefail' reports the last command's status"
    if re.search(r"(^|[;&|\s])set\s+\+e\b", script):
        return "'set +e' lets the script go on after the suite fails"
    return None


def runs_on_merge_requests(job: Job) -> bool:
    """True when some rule starts the job in a merge request pipeline.

    A job without rules does not run in merge request pipelines (GitLab's
    default ``only: [branches, tags]``).
    """
    return any(
        rule.when != "never"
        and (not rule.condition or _MR_EVENT.search(rule.condition))
        for rule in job.rules
    )


# --- FLOW-2 / INV-3.2: build -----------------------------------------------


@control(
    id="CI-BUILD-ROOTLESS",
    title="CI builds the image rootless, without secrets, and records its digest",
    clauses=("FLOW-2", "INV-3.2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="A docker:dind service needs a privileged runner; a build argument "
    "carrying a secret ends up in the image; only a digest identifies the image.",
    remedy="Build with rootless BuildKit (buildctl-daemonless.sh) or Buildah, "
    "pass no secret as --build-arg/--opt build-arg:, and push with "
    "--metadata-file / --digestfile so later jobs use the digest.",
    subjects=build_jobs,
)
def build_rootless(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """BuildKit/Buildah, no dind, no secret build-arg, digest recorded."""
    job: Job = subject.data
    for service in job.services:
        if "dind" in service.reference:
            yield Violation(
                service.location,
                "the build uses a docker:dind service (a privileged daemon)",
                "rootless BuildKit or Buildah",
                service.reference,
            )
    builds = _build_commands(job)
    tools = {w.rsplit("/", 1)[-1] for c in builds for w in c.words[:2]}
    if not builds or not tools & {"buildctl", "buildctl-daemonless.sh", "buildah"}:
        yield Violation(
            builds[0].location if builds else job.location,
            "the image is not built with rootless BuildKit or Buildah",
            "buildctl-daemonless.sh build ... or buildah build ...",
            builds[0].text[:120] if builds else "no build command",
        )
    for command in builds:
        yield from _secret_build_args(command)
    text = " ".join(c.text for c in commands(job))
    if builds and not re.search(r"--metadata-file|--digestfile|--iidfile", text):
        yield Violation(
            builds[0].location,
            "the build does not record the pushed image's digest",
            "--metadata-file (buildctl) or --digestfile (buildah)",
            builds[0].text[:120],
        )


def build_arguments(command: Command) -> list[tuple[str, str]]:
    """``(name, value)`` of each --build-arg / --opt build-arg: of a build command."""
    words = list(command.words)
    found: list[tuple[str, str]] = []
    for index, word in enumerate(words):
        value = None
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "--build-arg" or (
            word == "--opt" and following.startswith("build-arg:")
        ):
            value = following
        elif word.startswith("--build-arg="):
            value = word.split("=", 1)[1]
        if value is not None:
            name, _, arg_value = value.removeprefix("build-arg:").partition("=")
            found.append((name, arg_value))
    return found


def _secret_build_args(command: Command) -> Iterator[Violation]:
    for name, value in build_arguments(command):
        if SECRET_NAME.search(name) or SECRET_VALUE.search(value):
            yield Violation(
                command.location,
                f"the build argument {name} carries a secret into the build",
                "only public metadata as build arguments",
                f"{name}=<value withheld>",
            )


def _base_image_arguments(evidence: Evidence) -> dict[str, str]:
    """ARG names used in a FROM line of a Dockerfile, each with its Dockerfile."""
    names: dict[str, str] = {}
    for dockerfile in evidence.load("dockerfiles", dockerfile_loader.load):
        for stage in dockerfile.stages:
            for name in _ARG_IN_FROM.findall(stage.base.raw):
                names.setdefault(name, f"{dockerfile.path}:{stage.line}")
    return names


@control(
    id="CI-BUILD-BASE-FIXED",
    title="The pipeline does not override the pinned base images",
    clauses=("INV-1.2", "TST-P2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The Dockerfile pins its base images through ARG defaults; a build "
    "argument with the same name would replace the pinned digest at build time.",
    remedy="Drop the build argument: change the base image (and its digest) in "
    "docker/Dockerfile itself, through a merge request.",
    subjects=build_jobs,
)
def build_base_fixed(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No build argument names an ARG that a FROM line substitutes."""
    job: Job = subject.data
    used = _base_image_arguments(evidence)
    for command in _build_commands(job):
        for name, _ in build_arguments(command):
            if name in used:
                yield Violation(
                    command.location,
                    f"the build argument {name} replaces the base image pinned at "
                    f"{used[name]}",
                    "no build argument for an ARG used in FROM",
                    f"--build-arg {name}=...",
                )


# --- FLOW-3: sign ----------------------------------------------------------


@control(
    id="CI-SIGN-KEYLESS",
    title="The image is signed keyless by digest on the default branch",
    clauses=("FLOW-3",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Keyless signing binds the signature to this project's CI identity; "
    "signing a tag signs whatever the tag points at when cosign resolves it.",
    remedy="id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore; cosign sign --bundle "
    '<file> "$IMAGE@$DIGEST"; keep the bundle in artifacts: paths; rules only '
    "on $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH.",
    subjects=sign_jobs,
)
def sign_keyless(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """aud sigstore token, digest reference, bundle artifact, default branch only."""
    job: Job = subject.data
    if not any(_audiences(token) == ["sigstore"] for token in job.id_tokens.values()):
        yield Violation(
            job.where("id_tokens"),
            "the sign job has no OIDC id_token for the sigstore audience",
            "id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore",
            f"id_tokens: {sorted(job.id_tokens) or 'none'}",
        )
    signs = _cosign_sign(job)
    for command in signs:
        yield from _sign_command(job, command)
    kept = _bundle_kept(job, signs)
    if kept:
        yield kept
    found = default_branch_only(job)
    if found:
        yield found


def _audiences(token: object) -> list[str]:
    aud = token.get("aud") if isinstance(token, dict) else None
    return [aud] if isinstance(aud, str) else list(aud or [])


# cosign sign flags that take a value as the next word (the rest are booleans).
COSIGN_VALUE_FLAGS = frozenset(
    {
        "--bundle",
        "--key",
        "-a",
        "--annotations",
        "--output-signature",
        "--output-certificate",
        "--output-payload",
        "--payload",
        "--certificate",
        "--certificate-chain",
        "--identity-token",
        "--oidc-issuer",
        "--oidc-client-id",
        "--fulcio-url",
        "--rekor-url",
        "--attachment",
        "--signing-config",
        "--trusted-root",
        "--registry-username",
        "--registry-password",
    }
)


def _image_arguments(arguments: tuple[str, ...]) -> list[str]:
    """The image references of ``cosign sign`` (flag values left out)."""
    images: list[str] = []
    skip = False
    for word in arguments:
        if skip:
            skip = False
        elif word in COSIGN_VALUE_FLAGS:
            skip = True
        elif not word.startswith("-"):
            images.append(word)
    return images


def _sign_command(job: Job, command: Command) -> Iterator[Violation]:
    index = _tool_index(command.words, "cosign") or 0
    keyed = [w for w in command.words if w.split("=", 1)[0] in ("--key", "--sk")]
    if keyed:
        yield Violation(
            command.location,
            "cosign signs with a stored or hardware key, not keyless",
            "keyless signing with the job's OIDC token (no --key, no --sk)",
            keyed[0].split("=", 1)[0],
        )
    references = _image_arguments(command.words[index + 2 :])
    if not references or not all(_DIGEST_REF.search(r) for r in references):
        yield Violation(
            command.location,
            "cosign signs an image by tag, not by digest",
            "cosign sign <image>@sha256:<digest>",
            command.text[:120],
        )


def _bundle_kept(job: Job, signs: list[Command]) -> Violation | None:
    """A violation unless some ``cosign sign --bundle <file>`` keeps <file>."""
    paths = [expand(path, job) for path in job.artifacts.paths] if job.artifacts else []
    bundles = [
        _join(c.cwd, expand(b, job))
        for c in signs
        if (b := _flag_value(c.words, "--bundle"))
    ]
    if any(_same_path(b, p) for b in bundles for p in paths):
        return None
    return Violation(
        signs[0].location if signs else job.location,
        "the signature bundle is not kept as an artifact",
        "cosign sign --bundle <file> with <file> in artifacts: paths",
        f"bundle: {', '.join(bundles) or 'none'}; artifacts: {paths or 'none'}",
    )


def expand(text: str, job: Job) -> str:
    """$VAR and ${VAR} replaced by the job's CI variables (others kept)."""

    def value(match: re.Match[str]) -> str:
        found = job.variables.get(match.group(1))
        return found.value if found else match.group(0)

    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value, text)


def _flag_value(words: Iterable[str], flag: str) -> str | None:
    items = list(words)
    for index, word in enumerate(items):
        if word == flag and index + 1 < len(items):
            return items[index + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def _same_path(file: str, artifact: str) -> bool:
    file, artifact = file.removeprefix("./"), artifact.removeprefix("./").rstrip("/")
    return file == artifact or file.startswith(artifact + "/")


# --- IAC-6: plan -----------------------------------------------------------


@control(
    id="CI-PLAN-PER-ENVIRONMENT",
    title="Each environment has a plan job that saves its plan",
    clauses=("IAC-6",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="Plan, then review, then apply: the reviewed plan file is what the "
    "apply job must apply.",
    remedy="Add plan-<env> running terraform plan -out=<file> and keep <file> in "
    "artifacts: paths.",
    subjects=plan_environments,
)
def plan_per_environment(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """A terraform plan job for the environment, with -out saved as an artifact."""
    env, jobs = subject.data
    if not jobs:
        yield Violation(
            subject.location,
            f"no job plans the {env} stack",
            f"a job running terraform plan -out=<file> for infra/terraform/envs/{env}",
            "none",
        )
    for job in jobs:
        for command in runs(job, "terraform", "plan"):
            out = _flag_value(command.words, "-out")
            if out is not None:
                chdir = _flag_value(command.words, "-chdir") or ""
                out = _join(_join(command.cwd, expand(chdir, job)), expand(out, job))
            paths = (
                tuple(expand(p, job) for p in job.artifacts.paths)
                if job.artifacts
                else ()
            )
            if out is None or not any(_same_path(out, p) for p in paths):
                yield Violation(
                    command.location,
                    f"the {env} plan is not saved as an artifact",
                    "terraform plan -out=<file> with <file> in artifacts: paths",
                    f"-out: {out or 'none'}; artifacts: {list(paths) or 'none'}",
                )


# --- IAC-6 / FLOW-4 / THR-4 / ACC-3: apply ---------------------------------


@control(
    id="CI-APPLY-MANUAL",
    title="Terraform apply is a manual job on the default branch",
    clauses=("IAC-6", "THR-4", "ACC-3"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Apply only after a person reviewed the plan, and only from the "
    "approved default branch: no direct hotfix from a feature branch.",
    remedy="when: manual on the apply job, with rules only on "
    "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH.",
    subjects=apply_jobs,
)
def apply_manual(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Every way the job can run is manual, and only on the default branch."""
    job: Job = subject.data
    for when, where in effective_whens(job):
        if when != "manual":
            yield Violation(
                where,
                "terraform apply runs without a manual approval",
                "when: manual",
                f"when: {when}",
            )
    found = default_branch_only(job)
    if found:
        yield found


@control(
    id="CI-APPLY-SAVED-PLAN",
    title="Terraform apply applies the saved plan of its environment's plan job",
    clauses=("IAC-6", "FLOW-4"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="Applying without the reviewed plan file applies whatever Terraform "
    "computes at that moment, which nobody reviewed.",
    remedy="needs: [plan-<env>] and terraform apply <plan file> (no -auto-approve "
    "without a plan file).",
    subjects=apply_jobs,
)
def apply_saved_plan(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """terraform apply <planfile>, and the job needs its environment's plan job."""
    job: Job = subject.data
    for command in runs(job, "terraform", "apply"):
        _, arguments = terraform(command) or ("", ())
        if not positional(arguments):
            yield Violation(
                command.location,
                "terraform apply runs without a saved plan file",
                "terraform apply <plan file>",
                command.text[:120],
            )
    yield from _needs_plan(job, _pipeline(evidence))


def _needs_plan(job: Job, pipeline: Pipeline) -> Iterator[Violation]:
    env = job_environment(job)
    planners = {
        name
        for name, other in pipeline.jobs.items()
        if runs(other, "terraform", "plan") and job_environment(other) == env
    }
    needed = {need.job for need in job.needs or ()}
    if env is None or not planners & needed:
        yield Violation(
            job.where("needs"),
            f"the apply job does not need the {env or 'unknown'} plan job",
            f"needs: [{', '.join(sorted(planners)) or 'plan-<env>'}]",
            f"needs: {sorted(needed) or 'none'}",
        )


@control(
    id="CI-APPLY-ENVIRONMENT",
    title="Terraform apply runs in its environment, one at a time",
    clauses=("IAC-6", "THR-4", "ACC-3"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="A GitLab environment named after the stack carries its protection "
    "rules; a resource_group keeps two applies from racing on one state.",
    remedy="environment: {name: <env>, action: start} and resource_group: "
    "terraform-<env>.",
    subjects=apply_jobs,
)
def apply_environment(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """environment.name is the stack's environment; resource_group is set."""
    job: Job = subject.data
    env = job_environment(job)
    name = job.environment.name if job.environment else None
    if name is None or name.split("/", 1)[0] != env:
        yield Violation(
            job.where("environment"),
            "the apply job is not bound to its GitLab environment",
            f"environment: name: {env or '<env>'}",
            f"environment: {name or 'none'}",
        )
    if not job.resource_group:
        yield Violation(
            job.location,
            "the apply job has no resource_group: two applies could race",
            f"resource_group: terraform-{env or '<env>'}",
            "no resource_group",
        )


# --- THR-2 / ACC-3: no change outside apply and deploy ---------------------


@control(
    id="CI-NO-OUT-OF-BAND-CHANGES",
    title="Only apply and deploy jobs change infrastructure or the cluster",
    clauses=("THR-2", "ACC-3"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="IaC and the controlled deployment are the only change mechanisms; "
    "a mutating command elsewhere is a manual change in disguise.",
    remedy="Move terraform apply to the apply stage and kubectl apply to the deploy "
    "stage; never run terraform destroy or kubectl edit/patch/set/scale/delete.",
    subjects=every_job,
)
def no_out_of_band(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """terraform apply/destroy and mutating kubectl only in apply/deploy stages."""
    job: Job = subject.data
    for command in commands(job):
        tf, kc = terraform(command), kubectl(command)
        destroy = tf is not None and (tf[0] == "destroy" or "-destroy" in tf[1])
        mutating = (tf is not None and tf[0] == "apply") or (
            kc is not None and kc[0] in KUBECTL_MUTATING
        )
        if (
            destroy
            or (mutating and job.stage not in CHANGE_STAGES)
            or _kubectl_edit(kc)
        ):
            yield Violation(
                command.location,
                f"the job changes infrastructure outside the apply/deploy jobs "
                f"(stage {job.stage})",
                "terraform apply in stage apply, kubectl apply in stage deploy; "
                "no destroy, edit, patch, set, scale or delete",
                command.text[:120],
            )


_RENDERED = re.compile(r">\s*\"?([^\s\"]+)")


def _applies_overlay(job: Job, command: Command) -> bool:
    """True when the apply reads an overlay (-k), or what kustomize rendered."""
    _, arguments = kubectl(command) or ("", ())
    kustomization = _flag_value(arguments, "-k") or _flag_value(
        arguments, "--kustomize"
    )
    if kustomization and "overlays/" in kustomization:
        return True
    source = _flag_value(arguments, "-f") or _flag_value(arguments, "--filename")
    rendered = {
        match.group(1)
        for other in commands(job)
        if "kustomize" in other.text and "overlays/" in other.text
        for match in _RENDERED.finditer(other.text)
    }
    piped = (
        source == "-" and "kustomize" in command.line and "overlays/" in command.line
    )
    return piped or source in rendered


def _kubectl_edit(found: tuple[str, tuple[str, ...]] | None) -> bool:
    """Imperative kubectl verbs are refused even in deploy jobs."""
    if found is None:
        return False
    verb, arguments = found
    return verb in KUBECTL_MUTATING - {"apply"} and not (
        verb == "create" and "--dry-run=client" in arguments
    )


# --- FAIL-1 / ACC-5 / TST-S2 / FLOW-5: deploy ------------------------------


@control(
    id="CI-DEPLOY-ROLLOUT",
    title="Deploy applies the rendered overlay server-side, waits, and rolls back",
    clauses=("FAIL-1", "ACC-5", "TST-S2", "FLOW-5"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="An invalid image must trigger an automatic rollback: the deploy "
    "waits for the rollout with a deadline and undoes it when it fails.",
    remedy="kubectl apply --server-side -k k8s/overlays/<env>; kubectl rollout status "
    "deployment/runtime-api --timeout=5m || (kubectl rollout undo "
    "deployment/runtime-api; exit 1).",
    subjects=deploy_jobs,
)
def deploy_rollout(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Server-side apply of an overlay, rollout status with timeout, rollout undo."""
    job: Job = subject.data
    applies = runs(job, "kubectl", "apply")
    for command in applies:
        _, arguments = kubectl(command) or ("", ())
        if not any(word.startswith("--server-side") for word in arguments):
            yield Violation(
                command.location,
                "the deploy applies client-side",
                "kubectl apply --server-side",
                command.text[:120],
            )
    if not any(_applies_overlay(job, command) for command in applies):
        yield Violation(
            applies[0].location,
            "the deploy does not apply the rendered overlay",
            "kubectl apply --server-side -k k8s/overlays/<env>, or -f <file> "
            "rendered by kubectl kustomize k8s/overlays/<env>",
            applies[0].text[:120],
        )
    rollout = [c for c in commands(job) if (k := kubectl(c)) and k[0] == "rollout"]
    status = [c for c in rollout if "status" in c.words]
    undo = [c for c in rollout if "undo" in c.words]
    if not any(any(w.startswith("--timeout") for w in c.words) for c in status):
        yield Violation(
            status[0].location if status else job.location,
            "the deploy does not wait for the rollout with a deadline",
            "kubectl rollout status ... --timeout=<duration>",
            status[0].text if status else "no rollout status",
        )
    if not undo:
        yield Violation(
            job.location,
            "the deploy never rolls back a failed rollout",
            "kubectl rollout undo ... when rollout status fails",
            "no rollout undo",
        )


@control(
    id="CI-VERIFY-AFTER-DEPLOY",
    title="A verify job checks each deployment",
    clauses=("FLOW-6", "TST-F2"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The probes validate the deployment: a verify job after each deploy "
    "proves the running image and its readiness.",
    remedy="Add verify-<env> in stage verify with needs: [deploy-<env>].",
    subjects=deploy_jobs,
)
def verify_after_deploy(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Some job in a later stage needs this deploy job."""
    job: Job = subject.data
    pipeline = _pipeline(evidence)
    order = {stage: index for index, stage in enumerate(pipeline.stages)}
    later = [
        other
        for other in pipeline.jobs.values()
        if order.get(other.stage, -1) > order.get(job.stage, -1)
        and any(need.job == job.name for need in other.needs or ())
    ]
    if not any(other.stage == "verify" for other in later):
        yield Violation(
            job.location,
            f"no verify job follows {job.name}",
            f"a job in stage verify with needs: [{job.name}]",
            ", ".join(o.name for o in later) or "none",
        )


# --- TST-P2: images pinned -------------------------------------------------


@control(
    id="CI-IMAGE-PINNED",
    title="Every job image and service is pinned by digest",
    clauses=("TST-P2",),
    severity=Severity.MEDIUM,
    method=Method.STATIC,
    rationale="A job image by tag can change between two runs of one commit; the "
    "pipeline is only reproducible with digests.",
    remedy="image: <name>:<tag>@sha256:<64 hex> (in default: or the job).",
    subjects=every_job,
)
def image_pinned(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """The job's image and services carry a sha256 digest."""
    job: Job = subject.data
    if job.image is None:
        yield Violation(
            job.location,
            "the job names no image (the runner's default is unpinned)",
            "image: <name>@sha256:<64 hex>",
            "no image",
        )
    for image in (job.image, *job.services):
        if image is not None and image.digest is None:
            yield Violation(
                image.location,
                "the job image is not pinned by digest",
                "<name>@sha256:<64 hex>",
                image.reference,
            )
        elif image is not None and placeholder_digest(image.digest or ""):
            yield Violation(
                image.location,
                "the job image's digest is a placeholder, not a real image",
                "the digest of the published image",
                image.reference,
            )


# --- SEC-1 / SEC-2: no static credentials ----------------------------------


@control(
    id="CI-NO-STATIC-CREDENTIALS",
    title="No job carries static cloud credentials or secrets in variables",
    clauses=("SEC-1", "SEC-2"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale="CI reaches AWS through OIDC (id_tokens) and short-lived roles; a "
    "static key in variables is a secret in code or in plain environment.",
    remedy="Remove the variable; use id_tokens with AWS_ROLE_ARN / "
    "AWS_WEB_IDENTITY_TOKEN_FILE instead of access keys.",
    subjects=pipeline_and_jobs,
)
def no_static_credentials(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """No static cloud credential variable, no secret-looking literal, no export.

    Global variables are checked once, on the ``pipeline`` subject; a job
    is checked for the variables it sets itself and for its scripts.
    """
    if isinstance(subject.data, Pipeline):
        yield from _credential_variables(subject.data.variables.values())
        return
    job: Job = subject.data
    globals_ = _pipeline(evidence).variables
    own = [
        variable
        for name, variable in job.variables.items()
        if name not in globals_ or globals_[name].location != variable.location
    ]
    yield from _credential_variables(own)
    for command in commands(job):
        for word in command.words:
            if word.split("=", 1)[0] in STATIC_CLOUD_CREDENTIALS and "=" in word:
                yield Violation(
                    command.location,
                    "the script exports a static cloud credential",
                    "no AWS access keys in scripts (OIDC id_tokens instead)",
                    f"{word.split('=', 1)[0]}=<value withheld>",
                )


def _credential_variables(variables: Iterable[Variable]) -> Iterator[Violation]:
    """Variables that hold (or are named as) a static credential; values withheld."""
    for variable in variables:
        name, value = variable.name, variable.value
        literal = bool(value) and not value.startswith("$")
        if (
            name in STATIC_CLOUD_CREDENTIALS
            or (literal and SECRET_NAME.search(name))
            or SECRET_VALUE.search(value)
        ):
            yield Violation(
                variable.location,
                f"the variable {name} carries a static credential",
                "no credential in CI variables (OIDC id_tokens instead)",
                f"{name}=<value withheld>",
            )


# --- FLOW-1: deploy order --------------------------------------------------


@control(
    id="CI-DEPLOY-ORDER",
    title="Deployments go dev, then stage, then prod, through needs",
    clauses=("FLOW-1",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The same approved commit reaches prod only after it was deployed "
    "(and verified) in dev and stage.",
    remedy="deploy-stage needs deploy-dev (or verify-dev); deploy-prod needs "
    "deploy-stage (or verify-stage).",
    subjects=pipeline_subject,
)
def deploy_order(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each environment's deploy job depends (transitively) on the previous one's."""
    pipeline: Pipeline = subject.data
    deploys: dict[str, Job] = {}
    for job in pipeline.jobs.values():
        env = job_environment(job)
        if runs(job, "kubectl", "apply") and env and env not in deploys:
            deploys[env] = job
    for env in ENVIRONMENTS:
        if env not in deploys:
            yield Violation(
                subject.location,
                f"no job deploys {env}",
                f"a deploy job for {env}",
                ", ".join(sorted(deploys)) or "no deploy job",
            )
    for before, after in itertools.pairwise(ENVIRONMENTS):
        if before in deploys and after in deploys:
            job = deploys[after]
            if deploys[before].name not in _ancestors(pipeline, job.name):
                yield Violation(
                    job.where("needs"),
                    f"{job.name} does not depend on {deploys[before].name}",
                    f"needs (directly or through verify) on {deploys[before].name}",
                    f"needs: {[n.job for n in job.needs or ()] or 'none'}",
                )


def _ancestors(pipeline: Pipeline, name: str) -> set[str]:
    """Every job reachable through needs from ``name``."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        job = pipeline.jobs.get(stack.pop())
        for need in (job.needs or ()) if job else ():
            if need.job not in seen:
                seen.add(need.job)
                stack.append(need.job)
    return seen
