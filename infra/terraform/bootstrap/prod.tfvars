# terraform apply -var-file=prod.tfvars (one-time bootstrap of the prod account)
environment    = "prod"
aws_account_id = "861047293518"
