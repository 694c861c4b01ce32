# prod: names, sizes, counts and address ranges only. Security settings are
# not inputs; they are the same in every environment (see main.tf).

environment = "prod"

# TENON's prod account. The provider refuses to plan or apply in any other
# account, so a prod plan can never touch another environment.
aws_account_id = "861047293518"
region         = "eu-central-1"

# The runtime's NetworkPolicy in k8s/overlays/prod allows egress to exactly
# this range; change both together.
vpc_cidr = "10.30.0.0/16"
subnets = {
  "eu-central-1a" = {
    private_cidr = "10.30.0.0/19"
    public_cidr  = "10.30.192.0/24"
  }
  "eu-central-1b" = {
    private_cidr = "10.30.32.0/19"
    public_cidr  = "10.30.193.0/24"
  }
  "eu-central-1c" = {
    private_cidr = "10.30.64.0/19"
    public_cidr  = "10.30.194.0/24"
  }
}

kubernetes_version  = "1.33"
node_instance_types = ["m7i.xlarge"]
node_scaling = {
  min     = 3
  desired = 3
  max     = 9
}
node_volume_size_gib = 80

database_instance_class = "db.m7g.xlarge"
database_storage_gib = {
  allocated = 100
  max       = 1000
}
