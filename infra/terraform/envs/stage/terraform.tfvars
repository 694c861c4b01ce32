# stage: names, sizes, counts and address ranges only. Security settings are
# not inputs; they are the same in every environment (see main.tf).

environment = "stage"

# TENON's stage account. The provider refuses to plan or apply in any other
# account, so a stage plan can never touch another environment.
aws_account_id = "573920184562"
region         = "eu-central-1"

# The runtime's NetworkPolicy in k8s/overlays/stage allows egress to exactly
# this range; change both together.
vpc_cidr = "10.20.0.0/16"
subnets = {
  "eu-central-1a" = {
    private_cidr = "10.20.0.0/19"
    public_cidr  = "10.20.192.0/24"
  }
  "eu-central-1b" = {
    private_cidr = "10.20.32.0/19"
    public_cidr  = "10.20.193.0/24"
  }
  "eu-central-1c" = {
    private_cidr = "10.20.64.0/19"
    public_cidr  = "10.20.194.0/24"
  }
}

kubernetes_version  = "1.33"
node_instance_types = ["m7i.large"]
node_scaling = {
  min     = 3
  desired = 3
  max     = 6
}
node_volume_size_gib = 40

database_instance_class = "db.m7g.large"
database_storage_gib = {
  allocated = 50
  max       = 200
}
