"""Task functions: what a job runs. Modules declare tasks on a `TaskRouter`; executors load the configured
modules into a `TaskRegistry` and upsert the definitions into `task_function` so the API can list them."""

from scheduler_core.tasks.registry import (
    TaskContext,
    TaskDefinition,
    TaskRegistry,
    TaskRouter,
    UnknownTask,
)

__all__ = ["TaskContext", "TaskDefinition", "TaskRegistry", "TaskRouter", "UnknownTask"]
