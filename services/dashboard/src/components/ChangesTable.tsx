import { useEffect, useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { formatDateTime } from '../format/time';
import { useAsync } from '../hooks/useAsync';
import { useI18n } from '../i18n';
import type { AuditPage } from '../types/api';
import { Empty, ErrorBanner, Loading, Pager } from './ui';

type AuditEntry = AuditPage['items'][number];

export const CHANGES_PER_PAGE = 20;

/** A value of a change as short text (the API's JSON; absent = null). */
function shown(value: unknown): string {
  const text = value === undefined ? 'null' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** The job's audit trail (GET /jobs/{id}/audit): who changed what and when, newest first. */
export function ChangesTable({ jobId, refreshKey = 0 }: { jobId: number; refreshKey?: number }) {
  const { t, lang } = useI18n();
  const api = useApi();
  const [page, setPage] = useState(1);
  const changes = useAsync((signal) => api.jobAudit(jobId, { page, perPage: CHANGES_PER_PAGE }, signal), [jobId, page]);
  const { reload } = changes;
  useEffect(() => {
    if (refreshKey !== 0) reload();
  }, [refreshKey, reload]);

  const who = (entry: AuditEntry): string => {
    const { actorName: name, actorSubject: subject } = entry;
    if (name && subject && name !== subject) return `${name} (${subject})`;
    return name ?? subject ?? t.none;
  };

  if (changes.loading) return <Loading />;
  if (!changes.data) return <ErrorBanner error={changes.error} onRetry={reload} testId="changes-error" />;
  if (changes.data.items.length === 0) return <Empty testId="changes-empty">{t.noChanges}</Empty>;
  return (
    <>
      <ErrorBanner error={changes.error} onRetry={reload} testId="changes-error" />
      <div className="table-wrap">
        <table className="table" data-testid="changes-table">
          <thead>
            <tr>
              <th>{t.colWhen}</th>
              <th>{t.colWho}</th>
              <th>{t.colAction}</th>
              <th>{t.colWhat}</th>
            </tr>
          </thead>
          <tbody>
            {changes.data.items.map((entry) => (
              <tr key={entry.id} data-testid="change-row" data-action={entry.action}>
                <td>{formatDateTime(entry.occurredAt, lang)}</td>
                <td data-testid="change-who" title={entry.clientAddress ?? undefined}>
                  <bdi>{who(entry)}</bdi>
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td data-testid="change-what">
                  <div dir="ltr">
                    {entry.target && <div className="muted small">{entry.target}</div>}
                    {Object.entries(entry.changes ?? {}).map(([field, change]) => (
                      <div key={field}>
                        <code>{field}</code>: {shown(change.before)} → {shown(change.after)}
                      </div>
                    ))}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager page={page} pages={pageCount(changes.data, CHANGES_PER_PAGE)} total={changes.data.total} onPage={setPage} testId="changes-pager" />
    </>
  );
}
