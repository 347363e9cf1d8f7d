"""REST API service of the job scheduler."""
