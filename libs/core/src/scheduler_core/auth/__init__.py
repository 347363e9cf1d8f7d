"""Super Admin tokens: minting (CLI, embedded mode) and the shared HS256 secret of a local deployment.
Verification lives in the API service."""
