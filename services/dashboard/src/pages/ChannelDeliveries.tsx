import { useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { Badge, Empty, ErrorBanner, Loading, Ltr, Pager, type BadgeTone } from '../components/ui';
import { useLive } from '../hooks/live';
import { useI18n } from '../i18n';
import { href } from '../router';
import type { NotificationDelivery } from '../types/api';

export const DELIVERIES_PER_PAGE = 20;

const DELIVERY_TONES: Record<NotificationDelivery['status'], BadgeTone> = { pending: 'amber', delivered: 'green', failed: 'red' };

/** #/channels/:id: the channel and its deliveries, newest first, refreshed live (a pending one retries on its own). */
export function ChannelDeliveries({ channelId }: { channelId: number }) {
  const api = useApi();
  const { t, time } = useI18n();
  const [page, setPage] = useState(1);
  const channel = useLive(['channel', channelId], (signal) => api.getChannel(channelId, signal));
  const deliveries = useLive(['channel-deliveries', channelId, page], (signal) =>
    api.channelDeliveries(channelId, { page, perPage: DELIVERIES_PER_PAGE }, signal),
  );
  const name = channel.data?.name ?? `#${channelId}`;

  return (
    <section data-testid="page-channel" data-channel-id={channelId}>
      <div className="page-header">
        <h1>
          <bdi>{t.deliveriesTitle(name)}</bdi>
        </h1>
        <div className="header-actions">
          <a className="btn" href={href('/channels')} data-testid="back-to-channels">
            {t.backToChannels}
          </a>
          <a className="btn" href={href(`/channels/${channelId}/edit`)} data-testid="channel-edit">
            {t.channelEdit}
          </a>
        </div>
      </div>
      <ErrorBanner error={channel.error} onRetry={channel.reload} testId="channel-error" />
      {channel.data && (
        <p className="muted channel-url" data-testid="channel-summary">
          <Ltr>{channel.data.url}</Ltr> · <Ltr>{channel.data.events.join(', ')}</Ltr>
        </p>
      )}
      <ErrorBanner error={deliveries.error} onRetry={deliveries.reload} testId="deliveries-error" />
      {deliveries.loading ? (
        <Loading />
      ) : deliveries.data && deliveries.data.items.length === 0 ? (
        <Empty testId="deliveries-empty">{t.deliveriesEmpty}</Empty>
      ) : deliveries.data ? (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="deliveries-table">
              <thead>
                <tr>
                  <th>{t.colEvent}</th>
                  <th>{t.colJob}</th>
                  <th>{t.colDeliveryStatus}</th>
                  <th className="num">{t.colAttempts}</th>
                  <th>{t.colLastError}</th>
                  <th>{t.colCreated}</th>
                  <th>{t.colNextAttempt}</th>
                  <th>{t.colDelivered}</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.data.items.map((delivery) => (
                  <tr key={delivery.id} data-testid="delivery-row" data-status={delivery.status} data-event-type={delivery.eventType} title={delivery.eventId}>
                    <td>
                      <code className="small" dir="ltr">
                        {delivery.eventType}
                      </code>
                    </td>
                    <td>{delivery.jobId !== undefined ? <a href={href(`/jobs/${delivery.jobId}`)}>#{delivery.jobId}</a> : t.none}</td>
                    <td>
                      <Badge tone={DELIVERY_TONES[delivery.status]} testId="delivery-status">
                        {t[`delivery_${delivery.status}`]}
                      </Badge>
                    </td>
                    <td className="num" data-testid="delivery-attempts">
                      <Ltr>{delivery.attempts}</Ltr>
                    </td>
                    <td className="delivery-error" dir="auto" data-testid="delivery-last-error">
                      {delivery.lastStatusCode !== undefined && <Ltr>HTTP {delivery.lastStatusCode} </Ltr>}
                      {delivery.lastError ?? (delivery.lastStatusCode === undefined ? t.none : '')}
                    </td>
                    <td>{time(delivery.createdAt)}</td>
                    <td>{time(delivery.nextAttemptAt)}</td>
                    <td data-testid="delivery-delivered-at">{time(delivery.deliveredAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager page={page} pages={pageCount(deliveries.data, DELIVERIES_PER_PAGE)} total={deliveries.data.total} onPage={setPage} />
        </>
      ) : null}
    </section>
  );
}
