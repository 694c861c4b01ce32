variable "group_path" {
  description = "Full path of the GitLab group that owns the project."
  type        = string
  default     = "tenon"
}

variable "project_name" {
  description = "Name and path of the GitLab project inside the group."
  type        = string
  default     = "runtime"
}

variable "default_branch" {
  description = "The protected branch every change merges into and every deployment starts from."
  type        = string
  default     = "main"
}

variable "merge_approvals" {
  description = "Approvals a merge request into the default branch needs, on top of the code owners' approval."
  type        = number
  default     = 2

  validation {
    condition     = var.merge_approvals >= 1
    error_message = "A merge into the default branch needs at least one approval besides its author."
  }
}
