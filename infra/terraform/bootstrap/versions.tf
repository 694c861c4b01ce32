# Bootstrap of one environment's AWS account: applied once per account by the
# account's administrator, before any stack (see ../README.md). Its own state
# then moves into the bucket it created; the bucket name is given at init
# (-backend-config=backend/<env>.s3.tfbackend) because it differs per account.
terraform {
  required_version = "1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.27.0"
    }
  }

  backend "s3" {
    key          = "bootstrap/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    kms_key_id   = "alias/tenon-terraform-state"
    use_lockfile = true
  }
}
