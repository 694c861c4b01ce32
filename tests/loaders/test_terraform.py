"""The Terraform model: discovery, resolution, module expansion, what stays unknown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders import hcl, terraform
from tenon_compliance.loaders.terraform import Missing, Stack, TerraformModel
from tenon_compliance.loaders.terraform_eval import Reference, Symbolic
from tenon_compliance.model import Location, Unknown

ENV = "infra/terraform/envs/prod"
MODULE = "infra/terraform/modules/box"


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def load(root: Path) -> TerraformModel:
    return terraform.load(Evidence(Options(root=root)))


def prod(root: Path, files: dict[str, str]) -> Stack:
    stack = load(write(root, files)).stack("prod")
    assert stack is not None
    return stack


def test_tfvars_override_defaults_and_a_missing_value_is_unknown(
    tmp_path: Path,
) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/variables.tf": (
                'variable "size" {\n  default = 1\n}\n'
                'variable "name" {\n  default = "x"\n}\n'
                'variable "zone" {}\n'
            ),
            f"{ENV}/terraform.tfvars": "size = 3\n",
            f"{ENV}/main.tf": (
                'resource "aws_thing" "a" {\n'
                "  size = var.size\n  name = var.name\n  zone = var.zone\n}\n"
            ),
        },
    )
    thing = stack.resources[0]
    assert thing.value("size") == 3
    assert thing.value("name") == "x"
    zone = thing.value("zone")
    assert isinstance(zone, Unknown)
    assert zone.reason == (
        f"var.zone ({ENV}/variables.tf:7) has no value and no default"
    )
    assert stack.variables["size"].location == Location(f"{ENV}/terraform.tfvars", 1)


def test_auto_tfvars_are_read_after_terraform_tfvars(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'variable "n" {}\nresource "aws_thing" "a" { n = var.n }\n'
            ),
            f"{ENV}/terraform.tfvars": "n = 1\n",
            f"{ENV}/override.auto.tfvars": "n = 2\n",
        },
    )
    assert stack.resources[0].value("n") == 2


def test_locals_functions_and_interpolation_resolve(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/locals.tf": (
                "locals {\n"
                '  name   = "tenon-${var.env}"\n'
                "  tags   = merge({ a = 1 }, { b = local.name })\n"
                '  cidr   = cidrsubnet("10.0.0.0/16", 4, 2)\n'
                '  joined = join(",", [for s in ["x", "y"] : upper(s)])\n'
                '  pick   = lookup({ prod = 3 }, var.env, 1) > 2 ? "big" : "small"\n'
                '  safe   = try(local.tags.missing, "fallback")\n'
                '  fmt    = format("%s-%03d", local.name, 7)\n'
                "}\n"
            ),
            f"{ENV}/main.tf": (
                'variable "env" { default = "prod" }\n'
                'resource "aws_thing" "a" {\n'
                "  name = local.name\n  tags = local.tags\n  cidr = local.cidr\n"
                "  joined = local.joined\n  pick = local.pick\n  safe = local.safe\n"
                "  fmt = local.fmt\n}\n"
            ),
        },
    )
    thing = stack.resources[0]
    assert thing.value("name") == "tenon-prod"
    assert thing.value("tags") == {"a": 1, "b": "tenon-prod"}
    assert thing.value("cidr") == "10.0.32.0/20"
    assert thing.value("joined") == "X,Y"
    assert thing.value("pick") == "big"
    assert thing.value("safe") == "fallback"
    assert thing.value("fmt") == "tenon-prod-007"


def test_module_arguments_are_evaluated_in_the_caller(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{MODULE}/main.tf": (
                'variable "name" {}\nvariable "size" { default = 2 }\n'
                'resource "aws_box" "this" {\n  name = "${var.name}-box"\n'
                "  size = var.size\n}\n"
                'output "arn" { value = aws_box.this.arn }\n'
                'output "name" { value = aws_box.this.name }\n'
            ),
            f"{ENV}/main.tf": (
                'locals { env = "prod" }\n'
                'resource "aws_user" "u" { box = module.box.arn }\n'
                'module "box" {\n  source = "../../modules/box"\n'
                '  name   = "tenon-${local.env}"\n}\n'
            ),
        },
    )
    box = stack.resource("module.box.aws_box.this")
    assert box is not None
    assert box.value("name") == "tenon-prod-box"
    assert box.value("size") == 2
    assert box.attr("name").location == Location(f"{MODULE}/main.tf", 4)
    # Read before the module block in file order: outputs are resolved lazily.
    user = stack.resource("aws_user.u")
    assert user is not None
    assert user.value("box") == Reference("module.box", "aws_box.this", "arn")
    assert stack.module_calls[0].local_dir == MODULE


def test_references_stay_references_and_data_sources_too(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'data "aws_region" "current" {}\n'
                'resource "aws_kms_key" "k" {}\n'
                'resource "aws_thing" "a" {\n'
                "  key    = aws_kms_key.k.arn\n"
                '  path   = "${aws_kms_key.k.arn}/x"\n'
                "  region = data.aws_region.current.region\n}\n"
            ),
        },
    )
    thing = stack.resource("aws_thing.a")
    assert thing is not None
    key = thing.value("key")
    assert key == Reference("", "aws_kms_key.k", "arn")
    assert [r.type for r in stack.referenced(key)] == ["aws_kms_key"]
    assert thing.value("path") == Symbolic("${aws_kms_key.k.arn}/x", (key,))
    assert thing.value("region") == Reference("", "data.aws_region.current", "region")


def test_unknown_function_and_arithmetic_on_references_name_the_place(
    tmp_path: Path,
) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'resource "aws_kms_key" "k" {}\n'
                'resource "aws_thing" "a" {\n'
                '  body = file("policy.json")\n'
                "  sum  = aws_kms_key.k.count + 1\n}\n"
            ),
        },
    )
    thing = stack.resource("aws_thing.a")
    assert thing is not None
    assert thing.value("body") == Unknown(
        f"file(...) ({ENV}/main.tf:3) calls file(), which is evaluated only at apply"
    )
    assert thing.value("sum") == Unknown(
        f"binary ({ENV}/main.tf:4) applies + to a value known at apply"
    )


def test_count_and_for_each_expand_instances(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'resource "aws_a" "n" {\n  count = 2\n  i = count.index\n}\n'
                'resource "aws_b" "m" {\n  for_each = toset(["y", "x"])\n'
                "  k = each.key\n}\n"
                'resource "aws_c" "u" {\n  count = length(aws_a.n[0].ids)\n'
                "  i = count.index\n}\n"
            ),
        },
    )
    addresses = [r.address for r in stack.resources]
    assert addresses == [
        "aws_a.n[0]",
        "aws_a.n[1]",
        'aws_b.m["x"]',
        'aws_b.m["y"]',
        "aws_c.u",
    ]
    assert stack.resources[1].value("i") == 1
    assert stack.resources[3].value("k") == "y"
    unknown_count = stack.resources[4]
    assert unknown_count.count_unknown is not None
    assert unknown_count.count_unknown.reason.startswith(
        f"{ENV}/main.tf:10: length(...) ({ENV}/main.tf:10) passes a value known only"
    )
    assert isinstance(unknown_count.value("i"), Unknown)


def test_dynamic_blocks_expand_from_a_known_collection(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'resource "aws_security_group" "g" {\n'
                '  dynamic "ingress" {\n    for_each = [22, 443]\n'
                "    content {\n      from_port = ingress.value\n    }\n  }\n}\n"
            ),
        },
    )
    ingress = stack.resources[0].blocks_of("ingress")
    assert [block.value("from_port") for block in ingress] == [22, 443]


def test_missing_attribute_points_at_its_block(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": 'resource "aws_x" "a" {\n  outer {\n    b = 1\n  }\n}\n',
        },
    )
    missing = stack.resources[0].attr("outer", "c")
    assert isinstance(missing, Missing)
    assert not missing
    assert missing.location == Location(f"{ENV}/main.tf", 2)


def test_non_local_module_is_recorded_and_never_fetched(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{ENV}/main.tf": (
                'module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n'
                '  version = "5.0.0"\n}\n'
                'resource "aws_x" "a" { vpc = module.vpc.vpc_id }\n'
            ),
        },
    )
    call = stack.module_calls[0]
    assert call.local_dir is None
    assert call.source.location == Location(f"{ENV}/main.tf", 2)
    vpc = stack.resources[0].value("vpc")
    assert isinstance(vpc, Unknown)
    assert "comes from a non-local module" in vpc.reason


def test_every_file_is_an_input_of_the_run_and_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        f"{MODULE}/main.tf": 'resource "aws_box" "this" {}\n',
        f"{ENV}/main.tf": 'module "a" { source = "../../modules/box" }\n'
        'module "b" { source = "../../modules/box" }\n',
        f"{ENV}/terraform.tfvars": "x = 1\n",
    }
    write(tmp_path, files)
    parsed: list[str] = []
    original = hcl.parse_bytes

    def counting(data: bytes, path: str) -> hcl.HclFile:
        parsed.append(path)
        return original(data, path)

    monkeypatch.setattr(hcl, "parse_bytes", counting)
    evidence = Evidence(Options(root=tmp_path))
    tree = terraform.model(evidence)
    terraform.model(evidence)
    assert sorted(parsed) == sorted(files)
    assert sorted(evidence.inputs) == sorted(files)
    stack = tree.stack("prod")
    assert stack is not None
    assert [r.address for r in stack.resources] == [
        "module.a.aws_box.this",
        "module.b.aws_box.this",
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {f"{ENV}/main.tf": 'resource "aws_x" "a" {\n  b = \n}\n'},
            rf"^{ENV}/main\.tf:2: expected an expression",
            id="syntax-error",
        ),
        pytest.param(
            {f"{ENV}/main.tf": 'module "m" {\n  source = "../../modules/none"\n}\n'},
            rf"^{ENV}/main\.tf:1: module source infra/terraform/modules/none does not",
            id="missing-module",
        ),
        pytest.param(
            {f"{ENV}/main.tf": 'resource "aws_x" "a" {}\n\nresource "aws_x" "a" {}\n'},
            rf"^{ENV}/main\.tf:3: aws_x\.a is declared twice",
            id="duplicate-resource",
        ),
        pytest.param(
            {
                f"{ENV}/a.tf": "locals { x = 1 }\n",
                f"{ENV}/b.tf": "locals {\n x = 2\n}\n",
            },
            rf"^{ENV}/b\.tf:2: local 'x' defined twice",
            id="duplicate-local",
        ),
        pytest.param(
            {f"{ENV}/main.tf": "", f"{ENV}/terraform.tfvars": 'a = "ok"\nb = "\x00"\n'},
            rf"^{ENV}/terraform\.tfvars:2: binary content",
            id="binary-tfvars",
        ),
    ],
)
def test_malformed_input_is_a_load_error_at_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    write(tmp_path, files)
    with pytest.raises(LoadError, match=message):
        load(tmp_path)


def test_a_symlink_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"evil.tf": 'resource "aws_x" "a" {}\n'})
    root = write(tmp_path / "repo", {f"{ENV}/main.tf": ""})
    os.symlink(outside / "evil.tf", root / ENV / "evil.tf")
    with pytest.raises(
        LoadError, match=rf"^{ENV}/evil\.tf: is a symlink that points outside"
    ):
        load(root)


def test_a_symlinked_module_directory_leaving_the_repository_is_refused(
    tmp_path: Path,
) -> None:
    outside = write(tmp_path / "outside", {"main.tf": ""})
    root = write(tmp_path / "repo", {f"{ENV}/main.tf": ""})
    (root / "infra/terraform/modules").mkdir(parents=True)
    os.symlink(outside, root / MODULE)
    with pytest.raises(LoadError, match=rf"^{MODULE}: is a symlink that points"):
        load(root)


def test_discovers_env_stacks_bootstrap_and_modules(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            f"{MODULE}/main.tf": "",
            "infra/terraform/envs/dev/main.tf": "",
            f"{ENV}/main.tf": "",
            "infra/terraform/bootstrap/main.tf": "",
        },
    )
    tree = load(tmp_path)
    assert [s.name for s in tree.stacks] == ["dev", "prod", "bootstrap"]
    assert [s.name for s in tree.environment_stacks] == ["dev", "prod"]
    assert [m.name for m in tree.modules] == ["box"]


def test_the_real_repository_resolves_its_environment_stacks() -> None:
    root = Path(__file__).resolve().parents[2]
    if not (root / "infra/terraform/envs").is_dir():
        pytest.skip("the repository has no environment stacks yet")
    tree = load(root)
    for stack in tree.environment_stacks:
        cluster = stack.resources_of("aws_eks_cluster")
        assert cluster, stack.name
        assert cluster[0].value("name") == f"tenon-{stack.name}"


def test_a_value_passed_through_keeps_its_origin(tmp_path: Path) -> None:
    stack = prod(
        tmp_path,
        {
            f"{MODULE}/main.tf": (
                'variable "size" {}\nvariable "name" { default = "box" }\n'
                'resource "aws_box" "this" {\n  size = var.size\n  name = var.name\n}\n'
            ),
            f"{ENV}/main.tf": (
                'variable "size" {}\n'
                'module "box" {\n  source = "../../modules/box"\n'
                "  size   = var.size\n}\n"
            ),
            f"{ENV}/terraform.tfvars": "\nsize = 3\n",
        },
    )
    box = stack.resources[0]
    assert box.attr("size").origin == Location(f"{ENV}/terraform.tfvars", 2)
    assert box.attr("name").origin == Location(f"{MODULE}/main.tf", 2)
