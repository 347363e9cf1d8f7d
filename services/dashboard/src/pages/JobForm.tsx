import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useApi } from '../api/context';
import { ParamFields } from '../components/ParamFields';
import { SchedulePreview } from '../components/SchedulePreview';
import { ErrorBanner, Field, FormErrors, Loading } from '../components/ui';
import { buildPayload, createBody, emptyForm, FORM_FIELDS, formFromJob, INTERVAL_FIELDS, paramInputs, scheduleFromForm, type JobFormState } from '../forms/jobForm';
import { fallbackFields, paramFields, type ParamInput } from '../forms/schema';
import { describeSchedule } from '../format/schedule';
import { useTaskFunctions } from '../hooks/data';
import { useForgetReads } from '../hooks/live';
import { useAsync } from '../hooks/useAsync';
import { jobName, taskName, useI18n } from '../i18n';
import { navigate } from '../router';
import { OVERLAP_POLICIES, type Job, type OverlapPolicy } from '../types/api';

type NumberFieldName =
  | 'priority'
  | 'maxInstances'
  | 'misfireGraceTime'
  | 'timeoutSeconds'
  | 'maxRetries'
  | 'retryDelaySeconds'
  | 'retryBackoffFactor'
  | 'retryMaxDelaySeconds'
  | 'pauseAfterFailures';

function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

/** #/jobs/new and #/jobs/:id/edit */
export function JobFormPage({ jobId }: { jobId?: number }) {
  const api = useApi();
  const { t } = useI18n();
  const tasks = useTaskFunctions();
  const job = useAsync((signal) => (jobId === undefined ? Promise.resolve(undefined) : api.getJob(jobId, signal)), [jobId]);

  if (tasks.loading || job.loading) {
    return (
      <section data-testid="page-job-form">
        <Loading />
      </section>
    );
  }
  if (job.error) {
    return (
      <section data-testid="page-job-form">
        <ErrorBanner error={job.error} onRetry={job.reload} />
      </section>
    );
  }
  return (
    <section data-testid="page-job-form">
      <ErrorBanner error={tasks.error} onRetry={tasks.reload} testId="tasks-error" title={t.taskFunction} />
      <JobFormBody key={jobId ?? 'new'} job={job.data} tasks={tasks.data ?? []} />
    </section>
  );
}

function JobFormBody({ job, tasks }: { job: Job | undefined; tasks: NonNullable<ReturnType<typeof useTaskFunctions>['data']> }) {
  const api = useApi();
  const forgetReads = useForgetReads();
  const { t, lang } = useI18n();
  const mode = job ? 'edit' : 'create';

  const [state, setState] = useState<JobFormState>(() => {
    if (!job) return emptyForm();
    const task = tasks.find((candidate) => candidate.id === job.taskFunctionId);
    const fields = task ? paramFields(task.parametersSchema) : fallbackFields(job.parameters);
    return formFromJob(job, fields);
  });
  const task = tasks.find((candidate) => String(candidate.id) === state.taskFunctionId);
  const fields = useMemo(
    () => (task ? paramFields(task.parametersSchema) : job ? fallbackFields(job.parameters) : []),
    [task, job],
  );

  // Choosing another task resets the parameters to that task's defaults (back to the job's own task: its values).
  useEffect(() => {
    setState((s) => ({
      ...s,
      params: paramInputs(fields, job && String(job.taskFunctionId) === s.taskFunctionId ? job.parameters : undefined),
    }));
  }, [fields, job]);

  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [apiErrors, setApiErrors] = useState<Record<string, string>>({});
  const [previewErrors, setPreviewErrors] = useState<Record<string, string>>({});
  const [submitError, setSubmitError] = useState<unknown>();
  const [saving, setSaving] = useState(false);

  const errors = { ...previewErrors, ...apiErrors, ...clientErrors };
  const set = <K extends keyof JobFormState>(name: K, value: JobFormState[K]): void => {
    setState((s) => ({ ...s, [name]: value }));
    // An edited field's old error no longer applies.
    setClientErrors(({ [name]: _c, ...rest }) => rest);
    setApiErrors(({ [name]: _a, ...rest }) => rest);
  };
  const setParam = (name: string, value: ParamInput): void => {
    setState((s) => ({ ...s, params: { ...s.params, [name]: value } }));
    const key = `parameters.${name}`;
    setClientErrors(({ [key]: _c, ...rest }) => rest);
    setApiErrors(({ [key]: _a, ...rest }) => rest);
  };

  const schedule = scheduleFromForm(state);
  const zones = useMemo(timeZones, []);
  const known = new Set<string>([...FORM_FIELDS, 'parameters', ...fields.map((f) => `parameters.${f.name}`)]);
  const unplacedApiErrors = Object.entries(apiErrors).filter(([field]) => !known.has(field));

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setSubmitError(undefined);
    setApiErrors({});
    const built = buildPayload(state, fields, mode, t);
    setClientErrors(built.errors);
    if (Object.keys(built.errors).length > 0) return;
    setSaving(true);
    try {
      const saved =
        mode === 'create'
          ? await api.createJob(createBody(built.payload, Number(state.taskFunctionId)))
          : await api.updateJob((job as Job).id, built.payload);
      forgetReads();
      navigate(`/jobs/${saved.id}`);
    } catch (e) {
      if (e instanceof ApiError && e.hasFieldErrors) setApiErrors(e.fieldErrors);
      setSubmitError(e);
    } finally {
      setSaving(false);
    }
  };

  const textField = (name: 'nameEn' | 'nameAr' | 'descriptionEn' | 'descriptionAr', multiline = false) => (
    <Field field={name} label={t[name]} error={errors[name]}>
      {(props) =>
        multiline ? (
          <textarea {...props} rows={2} dir={name.endsWith('Ar') ? 'rtl' : 'ltr'} value={state[name]} onChange={(e) => set(name, e.target.value)} data-testid={`field-${name}`} />
        ) : (
          <input {...props} type="text" dir={name.endsWith('Ar') ? 'rtl' : 'ltr'} value={state[name]} onChange={(e) => set(name, e.target.value)} data-testid={`field-${name}`} />
        )
      }
    </Field>
  );
  const numberField = (name: NumberFieldName, hint: string, min?: number, max?: number, step = 1) => (
    <Field field={name} label={t[name]} hint={hint} error={errors[name]}>
      {(props) => (
        <input {...props} type="number" dir="ltr" step={step} min={min} max={max} value={state[name]} onChange={(e) => set(name, e.target.value)} data-testid={`field-${name}`} />
      )}
    </Field>
  );
  const hasErrors = Object.keys(errors).length > 0;
  // A 422 with field errors is shown field by field (and its message in the summary), not as a generic banner.
  const fieldError = submitError instanceof ApiError && submitError.hasFieldErrors ? submitError : undefined;

  return (
    <form className="job-form" onSubmit={submit} noValidate data-testid="job-form" data-mode={mode}>
      <div className="page-header">
        <h1>{job ? t.editJobTitle(jobName(job, lang)) : t.createJobTitle}</h1>
      </div>

      {hasErrors && <FormErrors message={fieldError?.message} unplaced={unplacedApiErrors} />}
      {submitError !== undefined && !fieldError && (
        <ErrorBanner error={submitError} testId="submit-error" onDismiss={() => setSubmitError(undefined)} />
      )}

      <fieldset className="card">
        <legend>{t.sectionGeneral}</legend>
        <Field field="taskFunctionId" label={t.taskFunction} error={errors.taskFunctionId} hint={[task ? (lang === 'ar' ? task.descriptionAr : task.descriptionEn) : undefined, job ? t.taskChangeResets : undefined].filter(Boolean).join(' ') || undefined}>
          {(props) => (
            <select {...props} value={state.taskFunctionId} onChange={(e) => set('taskFunctionId', e.target.value)} data-testid="field-taskFunctionId">
              <option value="">{t.chooseTask}</option>
              {job && !task && <option value={String(job.taskFunctionId)}>{job.taskFunctionKey}</option>}
              {tasks
                .filter((candidate) => candidate.isActive !== false || String(candidate.id) === state.taskFunctionId)
                .map((candidate) => (
                  <option key={candidate.id} value={String(candidate.id)} data-key={candidate.key}>
                    {taskName(candidate, lang)} ({candidate.key})
                  </option>
                ))}
            </select>
          )}
        </Field>
        <div className="grid-2">
          {textField('nameEn')}
          {textField('nameAr')}
          {textField('descriptionEn', true)}
          {textField('descriptionAr', true)}
        </div>
      </fieldset>

      <fieldset className="card">
        <legend>{t.sectionSchedule}</legend>
        <div className="segmented" role="radiogroup" aria-label={t.scheduleKind}>
          {(['interval', 'cron'] as const).map((kind) => (
            <label key={kind} className={state.kind === kind ? 'selected' : undefined}>
              <input type="radio" name="kind" value={kind} checked={state.kind === kind} onChange={() => set('kind', kind)} data-testid={`schedule-kind-${kind}`} />
              {kind === 'interval' ? t.interval : t.cron}
            </label>
          ))}
        </div>
        <div className="schedule-row">
          <div className="schedule-inputs">
            {state.kind === 'interval' ? (
              <>
                <div className="grid-4">
                  {[...INTERVAL_FIELDS].map((name) => (
                    <Field key={name} field={name} label={t[name]} error={errors[name]}>
                      {(props) => (
                        <input {...props} type="number" dir="ltr" min={0} step={1} value={state[name]} onChange={(e) => set(name, e.target.value)} data-testid={`field-${name}`} />
                      )}
                    </Field>
                  ))}
                </div>
                <p className="hint">{t.intervalHint}</p>
              </>
            ) : (
              <>
                <Field field="cronExpression" label={t.cronExpression} hint={t.cronHint} error={errors.cronExpression}>
                  {(props) => (
                    <input {...props} type="text" dir="ltr" className="mono" spellCheck={false} placeholder="0 2 * * *" value={state.cronExpression} onChange={(e) => set('cronExpression', e.target.value)} data-testid="field-cronExpression" />
                  )}
                </Field>
                <Field field="timezone" label={t.timezone} hint={t.timezoneHint} error={errors.timezone}>
                  {(props) => (
                    <>
                      <input {...props} type="text" dir="ltr" list="tz-list" value={state.timezone} onChange={(e) => set('timezone', e.target.value)} data-testid="field-timezone" />
                      <datalist id="tz-list">
                        {zones.map((zone) => (
                          <option key={zone} value={zone} />
                        ))}
                      </datalist>
                    </>
                  )}
                </Field>
              </>
            )}
            {schedule && (
              <p className="schedule-words" data-testid="schedule-words">
                {describeSchedule(schedule, lang)}
              </p>
            )}
          </div>
          <SchedulePreview schedule={schedule} onFieldErrors={setPreviewErrors} />
        </div>
      </fieldset>

      <fieldset className="card">
        <legend>{t.sectionExecution}</legend>
        <div className="grid-4">
          {numberField('priority', t.priorityHint)}
          {numberField('maxInstances', t.maxInstancesHint, 1, 10)}
          {numberField('misfireGraceTime', t.misfireGraceTimeHint, 0)}
          {numberField('timeoutSeconds', t.timeoutSecondsHint, 1)}
        </div>
        <Field field="coalesce" label={t.coalesce} hint={t.coalesceHint} error={errors.coalesce} className="field-check">
          {(props) => <input {...props} type="checkbox" checked={state.coalesce} onChange={(e) => set('coalesce', e.target.checked)} data-testid="field-coalesce" />}
        </Field>
        {mode === 'create' && (
          <Field field="isEnabled" label={t.isEnabled} error={errors.isEnabled} className="field-check">
            {(props) => <input {...props} type="checkbox" checked={state.isEnabled} onChange={(e) => set('isEnabled', e.target.checked)} data-testid="field-isEnabled" />}
          </Field>
        )}
      </fieldset>

      <fieldset className="card" data-testid="run-control">
        <legend>{t.sectionRunControl}</legend>
        <div className="grid-4">
          {numberField('maxRetries', t.maxRetriesHint, 0, 10)}
          {numberField('retryDelaySeconds', t.retryDelaySecondsHint, 0)}
          {numberField('retryBackoffFactor', t.retryBackoffFactorHint, 1, 10, 0.1)}
          {numberField('retryMaxDelaySeconds', t.retryMaxDelaySecondsHint, 0)}
        </div>
        <div className="grid-2">
          <Field field="overlapPolicy" label={t.overlapPolicy} error={errors.overlapPolicy} hint={<OverlapHelp selected={state.overlapPolicy} />}>
            {(props) => (
              <select {...props} value={state.overlapPolicy} onChange={(e) => set('overlapPolicy', e.target.value as OverlapPolicy)} data-testid="field-overlapPolicy">
                {OVERLAP_POLICIES.map((policy) => (
                  <option key={policy} value={policy}>
                    {t[`overlap_${policy}`]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {numberField('pauseAfterFailures', t.pauseAfterFailuresHint, 0, 1000)}
        </div>
      </fieldset>

      <fieldset className="card">
        <legend>{t.sectionParameters}</legend>
        {errors.parameters && (
          <div className="field-error" role="alert" data-testid="error-parameters">
            {errors.parameters}
          </div>
        )}
        {!state.taskFunctionId ? (
          <p className="muted">{t.chooseTaskFirst}</p>
        ) : fields.length === 0 ? (
          <p className="muted" data-testid="no-parameters">
            {t.noParameters}
          </p>
        ) : (
          <ParamFields fields={fields} values={state.params} errors={errors} onChange={setParam} />
        )}
      </fieldset>

      <div className="form-actions">
        <a className="btn" href={job ? `#/jobs/${job.id}` : '#/jobs'} data-testid="form-cancel">
          {t.cancel}
        </a>
        <button type="submit" className="btn btn-primary" disabled={saving} data-testid="form-submit">
          {saving ? t.saving : mode === 'create' ? t.createJob : t.saveChanges}
        </button>
      </div>
    </form>
  );
}

/** One line on each overlap policy, the chosen one marked. */
function OverlapHelp({ selected }: { selected: OverlapPolicy }) {
  const { t } = useI18n();
  return (
    <ul className="overlap-help" data-testid="overlap-help">
      {OVERLAP_POLICIES.map((policy) => (
        <li key={policy} className={policy === selected ? 'selected' : undefined} aria-current={policy === selected ? 'true' : undefined} data-testid={`overlap-help-${policy}`}>
          <strong>{t[`overlap_${policy}`]}</strong>: {t[`overlapHelp_${policy}`]}
        </li>
      ))}
    </ul>
  );
}
