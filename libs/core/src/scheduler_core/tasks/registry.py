"""Declaring and finding task functions.

A task module owns a `TaskRouter` named `tasks` and decorates its functions:

    tasks = TaskRouter()

    class SyncParams(BaseModel):
        department: str

    @tasks.task("hris_sync", name_en="HRIS sync", name_ar="مزامنة الموارد البشرية", parameters=SyncParams)
    async def hris_sync(ctx: TaskContext, params: SyncParams) -> str:
        ...
        return "synced 150 records"          # becomes the run's result_summary

`TaskRegistry.from_modules([...])` imports the modules and merges their routers: no global registry, so two
executors in one test process can run different task sets."""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.outbound import OutboundGuard
from scheduler_core.retention import DEFAULT_AUDIT_RETENTION_DAYS
from scheduler_core.settings import SettingsError
from scheduler_core.store import Store, TaskFunctionSpec

# A task returns an optional one-line summary of what it did, recorded as the run's result_summary.
TaskFunction = Callable[..., Awaitable[str | None] | str | None]


class TaskModuleError(SettingsError, ValueError):
    """A module of SCHEDULER_TASK_MODULES does not exist, or declares no task router."""


class UnknownTask(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"task function {key!r} is not registered")
        self.key = key


class NoParameters(BaseModel):
    """Parameters of a task that takes none: any given are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a running task may know and use."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    # The executor's database access, for tasks that maintain the scheduler itself (history cleanup).
    sessionmaker: async_sessionmaker[AsyncSession]
    store: Store
    # Every outbound call to an address the job's parameters name goes through it (SCHEDULER_OUTBOUND_ALLOW).
    outbound: OutboundGuard = field(default_factory=OutboundGuard)
    # Grows with every claim of the job: pass it to an external store with each write, and have the store
    # refuse a write whose token is lower than the highest it has seen, so that a run that lost its lease (a
    # paused executor that resumed) cannot overwrite the work of the run that replaced it.
    fencing_token: int = 0
    # Set when an operator (or a run replacing this one) asked to cancel the run. An async task is cancelled
    # besides (CancelledError at its next await); a task in a worker thread cannot be, so a long one should check
    # this between steps and return early. Either way the run is recorded cancelled.
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    # 1-based: a retry of the slot is its next attempt.
    attempt: int = 1
    # Days the history cleanup keeps audit rows (SCHEDULER_AUDIT_RETENTION_DAYS of the executor).
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    key: str
    name_en: str
    name_ar: str
    function: TaskFunction
    parameters: type[BaseModel] = NoParameters
    description_en: str | None = None
    description_ar: str | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def parse_parameters(self, raw: Mapping[str, Any] | None) -> BaseModel:
        """Validate job parameters against the declared model (raises pydantic.ValidationError)."""
        return self.parameters.model_validate(dict(raw or {}))

    def spec(self) -> TaskFunctionSpec:
        return TaskFunctionSpec(
            key=self.key,
            name_en=self.name_en,
            name_ar=self.name_ar,
            description_en=self.description_en,
            description_ar=self.description_ar,
            parameters_schema=self.parameters.model_json_schema(),
        )


@dataclass
class TaskRouter:
    """The tasks one module declares."""

    definitions: list[TaskDefinition] = field(default_factory=list)

    def task(
        self,
        key: str,
        *,
        name_en: str,
        name_ar: str,
        parameters: type[BaseModel] = NoParameters,
        description_en: str | None = None,
        description_ar: str | None = None,
    ) -> Callable[[TaskFunction], TaskFunction]:
        """Declare `function(ctx, params)` as task `key`. It may be async (runs on the event loop) or a plain
        function (runs in a worker thread, so blocking I/O does not stall other runs)."""

        def register(function: TaskFunction) -> TaskFunction:
            if len(key) > 100:
                raise ValueError(f"task key {key!r} is longer than 100 characters")
            self.definitions.append(
                TaskDefinition(key, name_en, name_ar, function, parameters, description_en, description_ar)
            )
            return function

        return register


class TaskRegistry:
    def __init__(self, definitions: Iterable[TaskDefinition] = ()) -> None:
        self._by_key: dict[str, TaskDefinition] = {}
        for definition in definitions:
            self.add(definition)

    @classmethod
    def from_modules(cls, modules: Iterable[str]) -> TaskRegistry:
        """Import each module and collect its `tasks` router. A module that is not there, or has no router, is a
        configuration error (TaskModuleError); one that fails while importing is a bug in it, raised as it is."""
        registry = cls()
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name is None or not (name == exc.name or name.startswith(f"{exc.name}.")):
                    raise  # the module is there and imports something missing: its own traceback says where
                raise TaskModuleError(
                    f"SCHEDULER_TASK_MODULES: no module named {name!r} (is the package installed, the name right?)"
                ) from None
            router = getattr(module, "tasks", None)
            if not isinstance(router, TaskRouter):
                raise TaskModuleError(f"SCHEDULER_TASK_MODULES: task module {name!r} has no `tasks = TaskRouter()`")
            for definition in router.definitions:
                registry.add(definition)
        return registry

    def add(self, definition: TaskDefinition) -> None:
        if definition.key in self._by_key:
            raise ValueError(f"task {definition.key!r} is declared twice")
        self._by_key[definition.key] = definition

    def runs_in_thread(self, key: str) -> bool:
        """Whether the task `key` runs in a worker thread (a plain function), where it cannot be cancelled."""
        definition = self._by_key.get(key)
        return definition is not None and not definition.is_async

    def get(self, key: str) -> TaskDefinition:
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownTask(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def definitions(self) -> list[TaskDefinition]:
        return list(self._by_key.values())

    def specs(self) -> list[TaskFunctionSpec]:
        return [definition.spec() for definition in self._by_key.values()]
