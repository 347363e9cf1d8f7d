import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useI18n } from '../i18n';

export function Loading({ label, testId = 'loading' }: { label?: string; testId?: string }) {
  const { t } = useI18n();
  return (
    <div className="loading" role="status" aria-live="polite" data-testid={testId}>
      <span className="spinner" aria-hidden="true" />
      {label ?? t.loading}
    </div>
  );
}

export function Empty({ children, testId = 'empty' }: { children: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId}>
      {children}
    </div>
  );
}

/** Any error, shown in full: never swallowed. ApiErrors show their HTTP status, call and field errors. */
export function ErrorBanner({ error, onRetry, onDismiss, title, testId = 'error-banner' }: {
  error: unknown;
  onRetry?: () => void;
  onDismiss?: () => void;
  title?: string;
  testId?: string;
}) {
  const { t } = useI18n();
  if (error === undefined || error === null) return null;
  const apiError = error instanceof ApiError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const fieldErrors = apiError ? Object.entries(apiError.fieldErrors) : [];
  return (
    <div className="banner banner-error" role="alert" data-testid={testId} data-status={apiError?.status}>
      <div className="banner-body">
        <strong>{title ?? t.errorTitle}</strong>
        {apiError && (
          <span className="muted small">
            {' '}
            ({t.errorStatus(apiError.status)} · <bdi dir="ltr">{apiError.method} {apiError.path}</bdi>)
          </span>
        )}
        {message && (
          <div dir="auto" data-testid={`${testId}-message`}>
            {message}
          </div>
        )}
        {fieldErrors.length > 0 && (
          <ul className="field-error-list">
            {fieldErrors.map(([field, text]) => (
              <li key={field}>
                <code>{field}</code>: <bdi>{text}</bdi>
              </li>
            ))}
          </ul>
        )}
      </div>
      <div className="banner-actions">
        {onRetry && (
          <button type="button" className="btn btn-small" onClick={onRetry} data-testid={`${testId}-retry`}>
            {t.retry}
          </button>
        )}
        {onDismiss && (
          <button type="button" className="btn btn-small btn-ghost" onClick={onDismiss} aria-label={t.dismiss}>
            ×
          </button>
        )}
      </div>
    </div>
  );
}

export type BadgeTone = 'green' | 'grey' | 'amber' | 'blue' | 'red' | 'purple' | 'teal' | 'slate';

export function Badge({ tone, children, testId, title }: { tone: BadgeTone; children: ReactNode; testId?: string; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId} title={title}>
      {children}
    </span>
  );
}

const STATUS_TONES: Record<string, BadgeTone> = {
  success: 'green',
  failed: 'red',
  running: 'blue',
  pending: 'grey',
  missed: 'amber',
  skipped: 'amber',
  cancelled: 'slate',
  waiting: 'teal',
};

export function statusTone(statusName: string): BadgeTone {
  return STATUS_TONES[statusName] ?? 'grey';
}

export function Pager({ page, pages, total, estimated = false, onPage, testId = 'pager' }: {
  page: number;
  pages: number;
  total: number;
  /** The total is the database's estimate (the API's totalIsEstimate): shown as "about". */
  estimated?: boolean;
  onPage: (page: number) => void;
  testId?: string;
}) {
  const { t } = useI18n();
  return (
    <nav className="pager" aria-label="pagination" data-testid={testId}>
      <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => onPage(page - 1)} data-testid={`${testId}-prev`}>
        {t.previous}
      </button>
      <span className="muted" data-testid={`${testId}-info`}>
        {t.pageOf(page, pages, total, estimated)}
      </span>
      <button type="button" className="btn btn-small" disabled={page >= pages} onClick={() => onPage(page + 1)} data-testid={`${testId}-next`}>
        {t.next}
      </button>
    </nav>
  );
}

/** A labelled form control with its hint and its error (from the API or the client), error id wired up. */
export function Field({ label, hint, error, field, children, className }: {
  label: ReactNode;
  hint?: ReactNode;
  error?: string;
  /** API field name: error element gets data-testid="error-<field>". */
  field: string;
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby': string | undefined }) => ReactNode;
  className?: string;
}) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': Boolean(error), 'aria-describedby': [hintId, errorId].filter(Boolean).join(' ') || undefined })}
      {hint && (
        <div className="hint" id={hintId}>
          {hint}
        </div>
      )}
      {error && (
        <div className="field-error" id={errorId} role="alert" dir="auto" data-testid={`error-${field}`}>
          {error}
        </div>
      )}
    </div>
  );
}

export function ConfirmDialog({ title, children, confirmLabel, dismissLabel, tone = 'danger', busy, onConfirm, onCancel, testId = 'confirm-dialog' }: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** The button that closes the dialog without acting (default "Cancel"). */
  dismissLabel?: string;
  tone?: 'danger' | 'primary';
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  testId?: string;
}) {
  const { t } = useI18n();
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);
  const titleId = useId();
  return (
    <div className="modal-backdrop">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid={testId}>
        <h2 id={titleId}>{title}</h2>
        <div>{children}</div>
        <div className="modal-actions">
          <button type="button" className="btn" ref={cancelRef} onClick={onCancel} data-testid={`${testId}-cancel`}>
            {dismissLabel ?? t.cancel}
          </button>
          <button type="button" className={`btn btn-${tone}`} onClick={onConfirm} disabled={busy} data-testid={`${testId}-confirm`}>
            {confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Left-to-right island inside Arabic text: cron expressions, ids, host names. */
export function Ltr({ children }: { children: ReactNode }) {
  return <bdi dir="ltr">{children}</bdi>;
}

/**
 * One figure in a row of cards (.cards): its label above, its value below. The status page's summary and the
 * overview's runs by status both draw theirs with it. `testId` marks the value, `cardTestId` the card.
 */
export function Stat({ label, value, title, testId, cardTestId, data, wide }: {
  label: ReactNode;
  value: ReactNode;
  title?: string;
  testId?: string;
  cardTestId?: string;
  /** data-* attributes of the card (e.g. { status: 'failed' } -> data-status="failed"). */
  data?: Record<string, string>;
  wide?: boolean;
}) {
  const dataAttributes = Object.fromEntries(Object.entries(data ?? {}).map(([key, v]) => [`data-${key}`, v]));
  return (
    <div className={`stat${wide ? ' stat-wide' : ''}`} title={title} data-testid={cardTestId} {...dataAttributes}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/** The banner above a form the API refused: "fix these fields", the API's message, and the field errors that
 * belong to no input of the form (each beside its field otherwise). */
export function FormErrors({ message, unplaced }: { message?: string; unplaced: [string, string][] }) {
  const { t } = useI18n();
  return (
    <div className="banner banner-error" role="alert" data-testid="form-errors">
      <div className="banner-body">
        {t.fixFields}
        {message && (
          <div dir="auto" data-testid="form-errors-message">
            {message}
          </div>
        )}
        {unplaced.length > 0 && (
          <ul className="field-error-list">
            {unplaced.map(([field, reason]) => (
              <li key={field}>
                <code>{field}</code>: <bdi>{reason}</bdi>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
