# terraform apply -var-file=stage.tfvars (one-time bootstrap of the stage account)
environment    = "stage"
aws_account_id = "573920184562"
