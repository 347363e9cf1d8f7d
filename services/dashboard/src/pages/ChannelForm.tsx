import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useApi } from '../api/context';
import { ErrorBanner, Field, FormErrors, Loading } from '../components/ui';
import {
  buildChannel,
  CHANNEL_EVENTS,
  CHANNEL_FORMATS,
  emptyChannelForm,
  formFromChannel,
  placeChannelErrors,
  type ChannelFormState,
} from '../forms/channelForm';
import { useForgetReads } from '../hooks/live';
import { useAsync } from '../hooks/useAsync';
import { useI18n } from '../i18n';
import { navigate } from '../router';
import type { ChannelEvent, NotificationChannel } from '../types/api';

/** #/channels/new and #/channels/:id/edit */
export function ChannelFormPage({ channelId }: { channelId?: number }) {
  const api = useApi();
  const channel = useAsync((signal) => (channelId === undefined ? Promise.resolve(undefined) : api.getChannel(channelId, signal)), [channelId]);
  return (
    <section data-testid="page-channel-form">
      {channel.loading ? <Loading /> : channel.error ? <ErrorBanner error={channel.error} onRetry={channel.reload} /> : <ChannelFormBody channel={channel.data} />}
    </section>
  );
}

function ChannelFormBody({ channel }: { channel: NotificationChannel | undefined }) {
  const api = useApi();
  const forgetReads = useForgetReads();
  const { t } = useI18n();
  const mode = channel ? 'edit' : 'create';
  const [state, setState] = useState<ChannelFormState>(() => (channel ? formFromChannel(channel) : emptyChannelForm()));
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [submitError, setSubmitError] = useState<unknown>();
  const [saving, setSaving] = useState(false);

  const set = <K extends keyof ChannelFormState>(key: K, value: ChannelFormState[K]): void => setState((s) => ({ ...s, [key]: value }));
  const toggleEvent = (event: ChannelEvent, on: boolean): void =>
    setState((s) => ({ ...s, events: on ? CHANNEL_EVENTS.filter((e) => e === event || s.events.includes(e)) : s.events.filter((e) => e !== event) }));

  // A 422 names every invalid field at once: each is shown at its field, the others in the summary.
  const fieldError = submitError instanceof ApiError && submitError.hasFieldErrors ? submitError : undefined;
  const { placed, unplaced } = placeChannelErrors(fieldError?.fieldErrors ?? {});
  const errors: Record<string, string> = { ...placed, ...clientErrors };
  const hasErrors = Object.keys(errors).length > 0 || unplaced.length > 0;

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setSubmitError(undefined);
    const built = buildChannel(state, mode, t);
    setClientErrors(built.errors);
    if (Object.keys(built.errors).length > 0) return;
    setSaving(true);
    try {
      const saved = built.mode === 'create' ? await api.createChannel(built.body) : await api.updateChannel((channel as NotificationChannel).id, built.body);
      forgetReads();
      navigate(`/channels/${saved.id}`);
    } catch (e) {
      setSubmitError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="channel-form" onSubmit={submit} noValidate data-testid="channel-form" data-mode={mode}>
      <div className="page-header">
        <h1>{channel ? t.editChannelTitle(channel.name) : t.createChannelTitle}</h1>
      </div>

      {hasErrors && <FormErrors message={fieldError?.message} unplaced={unplaced} />}
      {submitError !== undefined && !fieldError && <ErrorBanner error={submitError} testId="submit-error" onDismiss={() => setSubmitError(undefined)} />}

      <fieldset className="card">
        <Field field="name" label={t.channelName} error={errors.name}>
          {(props) => <input {...props} type="text" dir="auto" value={state.name} onChange={(e) => set('name', e.target.value)} data-testid="field-name" />}
        </Field>
        <Field field="url" label={t.channelUrl} hint={t.channelUrlHint} error={errors.url}>
          {(props) => (
            <input {...props} type="text" dir="ltr" inputMode="url" value={state.url} onChange={(e) => set('url', e.target.value)} data-testid="field-url" placeholder="https://hooks.example.com/scheduler" />
          )}
        </Field>
        <div className={`field${errors.events ? ' field-invalid' : ''}`} role="group" aria-labelledby="channel-events-label" data-testid="field-events">
          <span className="field-label" id="channel-events-label">
            {t.channelEvents}
          </span>
          <div className="check-grid">
            {CHANNEL_EVENTS.map((name) => (
              <label key={name} className="check">
                <input type="checkbox" checked={state.events.includes(name)} onChange={(e) => toggleEvent(name, e.target.checked)} data-testid={`field-event-${name}`} />
                <bdi dir="ltr">{name}</bdi>
              </label>
            ))}
          </div>
          {errors.events && (
            <div className="field-error" role="alert" dir="auto" data-testid="error-events">
              {errors.events}
            </div>
          )}
        </div>
        <Field field="jobIds" label={t.channelJobIds} hint={t.channelJobIdsHint} error={errors.jobIds}>
          {(props) => <input {...props} type="text" dir="ltr" inputMode="numeric" value={state.jobIds} onChange={(e) => set('jobIds', e.target.value)} data-testid="field-jobIds" placeholder="3, 7" />}
        </Field>
        <Field field="secret" label={t.channelSecret} hint={channel?.hasSecret ? `${t.channelSecretHint} ${t.channelSecretKeep}` : t.channelSecretHint} error={errors.secret}>
          {(props) => (
            <input {...props} type="password" dir="ltr" autoComplete="new-password" value={state.secret} disabled={state.removeSecret} onChange={(e) => set('secret', e.target.value)} data-testid="field-secret" />
          )}
        </Field>
        {channel?.hasSecret && (
          <label className="check">
            <input type="checkbox" checked={state.removeSecret} onChange={(e) => set('removeSecret', e.target.checked)} data-testid="field-removeSecret" />
            {t.channelSecretRemove}
          </label>
        )}
        <Field field="format" label={t.channelFormat} error={errors.format}>
          {(props) => (
            <select {...props} value={state.format} onChange={(e) => set('format', CHANNEL_FORMATS.find((f) => f === e.target.value) ?? 'json')} data-testid="field-format">
              {CHANNEL_FORMATS.map((format) => (
                <option key={format} value={format}>
                  {t[`format_${format}`]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field field="enabled" label={t.channelEnabled} error={errors.enabled} className="field-check">
          {(props) => <input {...props} type="checkbox" checked={state.enabled} onChange={(e) => set('enabled', e.target.checked)} data-testid="field-enabled" />}
        </Field>
      </fieldset>

      <div className="form-actions">
        <a className="btn" href={channel ? `#/channels/${channel.id}` : '#/channels'} data-testid="form-cancel">
          {t.cancel}
        </a>
        <button type="submit" className="btn btn-primary" disabled={saving} data-testid="form-submit">
          {saving ? t.saving : t.save}
        </button>
      </div>
    </form>
  );
}
