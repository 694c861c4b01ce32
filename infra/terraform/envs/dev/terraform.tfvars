# dev: names, sizes, counts and address ranges only. Security settings are
# not inputs; they are the same in every environment (see main.tf).

environment = "dev"

# TENON's dev account. The provider refuses to plan or apply in any other
# account, so a dev plan can never touch another environment.
aws_account_id = "204817365941"
region         = "eu-central-1"

# The runtime's NetworkPolicy in k8s/overlays/dev allows egress to exactly
# this range; change both together.
vpc_cidr = "10.10.0.0/16"
subnets = {
  "eu-central-1a" = {
    private_cidr = "10.10.0.0/19"
    public_cidr  = "10.10.192.0/24"
  }
  "eu-central-1b" = {
    private_cidr = "10.10.32.0/19"
    public_cidr  = "10.10.193.0/24"
  }
  "eu-central-1c" = {
    private_cidr = "10.10.64.0/19"
    public_cidr  = "10.10.194.0/24"
  }
}

kubernetes_version  = "1.33"
node_instance_types = ["m7i.large"]
node_scaling = {
  min     = 2
  desired = 2
  max     = 4
}
node_volume_size_gib = 40

database_instance_class = "db.t4g.medium"
database_storage_gib = {
  allocated = 20
  max       = 100
}
