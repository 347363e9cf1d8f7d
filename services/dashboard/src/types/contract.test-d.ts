// Type-level contract test, checked by `tsc --noEmit` (part of `npm test` and `npm run build`).
//
// It proves that what the API's OpenAPI document says it returns (api.generated.ts, from `npm run gen:types`)
// is assignable to the reference's interfaces (scheduler.ts) and to the app's assumptions (api.ts), and that
// what the app sends is assignable to what the API accepts. Regenerating the types from an API whose contract
// changed makes this file fail to compile.
//
// Paths, not schema names, are the anchor: schema names are an implementation detail of the API.
// The one liberty taken: the API writes "no value" as JSON null (pydantic Optional), the reference as an
// absent property (`field?: T`); the client turns nulls into absent properties, so Denull<> does the same here.

import type { paths } from './api.generated';
import type {
  BackfillRequest,
  BackfillResponse,
  ExecutionActionRequest,
  ExecutionActionResponse,
  JobActionRequest,
  JobActionResponse,
  ScheduledJob,
  ScheduledJobExecution,
  SchedulerStatus,
} from './scheduler';
import type { CreateJobBody, Denull, JobWritePayload, NotificationChannelCreate, NotificationChannelUpdate, ParsableErrorBody, SchedulePreviewRequest } from './api';

// ---------------------------------------------------------------------------------------------------------
// Helpers

type Expect<T extends true> = T;
/** A is assignable to B, and A is not `never` (never would make every check pass vacuously). */
type Satisfies<A, B> = [A] extends [never] ? false : [A] extends [B] ? true : false;


type P = paths;
type Prefix = '/api/v1/scheduler';
type Method = 'get' | 'post' | 'put' | 'delete';
type Op<Path extends keyof P, M extends Method> = NonNullable<P[Path][M & keyof P[Path]]>;
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;
/** Body of the success response (200, else 201). */
type Ok<O> = O extends { responses: infer R }
  ? R extends { 200: infer S }
    ? Json<S>
    : R extends { 201: infer S }
      ? Json<S>
      : never
  : never;
type ErrorBody<O, Code extends number> = O extends { responses: infer R }
  ? R extends { [C in Code]: infer S }
    ? Json<S>
    : never
  : never;
type RequestBody<O> = O extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;
type QueryKeys<O> = O extends { parameters: { query?: infer Q } } ? keyof NonNullable<Q> : never;
type Item<L> = L extends { items: (infer I)[] } ? I : never;
/** A is assignable to B and has no property B does not know (the parser would ignore it). */
type Understood<A, B> = Satisfies<A, B> extends true ? ([Exclude<keyof A, keyof B>] extends [never] ? true : false) : false;

type ListJobs = Op<`${Prefix}/jobs`, 'get'>;
type CreateJob = Op<`${Prefix}/jobs`, 'post'>;
type GetJob = Op<`${Prefix}/jobs/{job_id}`, 'get'>;
type UpdateJob = Op<`${Prefix}/jobs/{job_id}`, 'put'>;
type DeleteJob = Op<`${Prefix}/jobs/{job_id}`, 'delete'>;
type JobAction = Op<`${Prefix}/jobs/{job_id}/action`, 'post'>;
type JobHistory = Op<`${Prefix}/jobs/{job_id}/history`, 'get'>;
type AllHistory = Op<`${Prefix}/history`, 'get'>;
type Status = Op<`${Prefix}/status`, 'get'>;
type Preview = Op<`${Prefix}/schedule/preview`, 'post'>;
type JobPreview = Op<`${Prefix}/jobs/{job_id}/preview`, 'get'>;
type RunAction = Op<`${Prefix}/jobs/{job_id}/executions/{execution_id}/action`, 'post'>;
type Backfill = Op<`${Prefix}/jobs/{job_id}/backfill`, 'post'>;
type CreateChannel = Op<`${Prefix}/notification-channels`, 'post'>;
type UpdateChannel = Op<`${Prefix}/notification-channels/{channel_id}`, 'put'>;

// ---------------------------------------------------------------------------------------------------------
// Responses satisfy the reference's interfaces

export type ContractChecks = [
  // Jobs
  Expect<Satisfies<Denull<Ok<GetJob>>, ScheduledJob>>,
  Expect<Satisfies<Denull<Ok<CreateJob>>, ScheduledJob>>,
  Expect<Satisfies<Denull<Ok<UpdateJob>>, ScheduledJob>>,
  Expect<Satisfies<Denull<Item<Ok<ListJobs>>>, ScheduledJob>>,
  Expect<Satisfies<Denull<Ok<ListJobs>>, { total: number; page: number; perPage: number; totalPages: number }>>,
  // Actions
  Expect<Satisfies<JobActionRequest, RequestBody<JobAction>>>,
  Expect<Satisfies<Denull<Ok<JobAction>>, JobActionResponse>>,
  // History
  Expect<Satisfies<Denull<Item<Ok<JobHistory>>>, ScheduledJobExecution>>,
  Expect<Satisfies<Denull<Item<Ok<AllHistory>>>, ScheduledJobExecution>>,
  Expect<Satisfies<Denull<Ok<JobHistory>>, { total: number }>>,
  Expect<Satisfies<Denull<Ok<AllHistory>>, { total: number }>>,
  // Status
  Expect<Satisfies<Denull<Ok<Status>>, SchedulerStatus>>,
  // Run control (issue 18): a run's cancel and re-run, backfill
  Expect<Satisfies<ExecutionActionRequest, RequestBody<RunAction>>>,
  Expect<Satisfies<RequestBody<RunAction>, ExecutionActionRequest>>,
  Expect<Satisfies<Denull<Ok<RunAction>>, ExecutionActionResponse>>,
  Expect<Satisfies<BackfillRequest, RequestBody<Backfill>>>,
  Expect<Satisfies<RequestBody<Backfill>, BackfillRequest>>,
  Expect<Satisfies<Denull<Ok<Backfill>>, BackfillResponse>>,
];

// ---------------------------------------------------------------------------------------------------------
// Responses satisfy the app's own assumptions (api.ts), including the endpoints the reference leaves open

export type AppChecks = [
  // Error bodies of validated endpoints are in a format api/errors.ts parses
  Expect<Understood<ErrorBody<CreateJob, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<UpdateJob, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<Preview, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<GetJob, 404>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<GetJob, 401>, ParsableErrorBody>>,
  // Run control: the refusals the screens show (409 with the reason, 422 naming the field)
  Expect<Understood<ErrorBody<RunAction, 409>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<RunAction, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<Backfill, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<JobPreview, 422>, ParsableErrorBody>>,
  // Notification channels: the form shows each field error of a 422
  Expect<Understood<ErrorBody<CreateChannel, 422>, ParsableErrorBody>>,
  Expect<Understood<ErrorBody<UpdateChannel, 422>, ParsableErrorBody>>,
];

// ---------------------------------------------------------------------------------------------------------
// What the app sends is accepted

// buildPayload (forms/jobForm.ts) sends one kind of schedule on create: interval fields or a cron expression.
type CreatePayload = CreateJobBody;

export type RequestChecks = [
  Expect<Satisfies<CreatePayload, RequestBody<CreateJob>>>,
  Expect<Satisfies<JobWritePayload, RequestBody<UpdateJob>>>,
  Expect<Satisfies<SchedulePreviewRequest, RequestBody<Preview>>>,
  // Query parameters the client sends (snake_case, as in the reference)
  Expect<Satisfies<'page' | 'per_page' | 'is_enabled' | 'job_type_id', QueryKeys<ListJobs>>>,
  Expect<Satisfies<'page' | 'per_page' | 'status_id', QueryKeys<JobHistory>>>,
  Expect<Satisfies<'page' | 'per_page' | 'status_id', QueryKeys<AllHistory>>>,
  Expect<Satisfies<'count' | 'from', QueryKeys<JobPreview>>>,
  Expect<Satisfies<NotificationChannelCreate, RequestBody<CreateChannel>>>,
  Expect<Satisfies<NotificationChannelUpdate, RequestBody<UpdateChannel>>>,
  // DELETE exists (its success body is not used)
  Expect<Satisfies<DeleteJob, object>>,
];
