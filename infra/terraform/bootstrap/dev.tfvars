# terraform apply -var-file=dev.tfvars (one-time bootstrap of the dev account)
environment    = "dev"
aws_account_id = "204817365941"
