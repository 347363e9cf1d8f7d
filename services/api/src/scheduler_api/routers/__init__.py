"""HTTP routes, one module per resource. Each calls the service layer and declares its response model and
its error responses (the app adds 401/403 to every route under /api/v1/scheduler)."""
