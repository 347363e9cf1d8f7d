import { useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { Badge, ConfirmDialog, Empty, ErrorBanner, Loading, Ltr, Pager } from '../components/ui';
import { useForgetReads, useLive } from '../hooks/live';
import { useI18n } from '../i18n';
import { href } from '../router';
import type { NotificationChannel } from '../types/api';

export const CHANNELS_PER_PAGE = 20;

/** #/channels: the notification channels, each with its deliveries, edit and delete (after a confirmation). */
export function ChannelsList() {
  const api = useApi();
  const { t, time } = useI18n();
  const forgetReads = useForgetReads();
  const [page, setPage] = useState(1);
  const channels = useLive(['channels', page], (signal) => api.listChannels({ page, perPage: CHANNELS_PER_PAGE }, signal));
  const [confirming, setConfirming] = useState<NotificationChannel | undefined>();
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();
  const [deleted, setDeleted] = useState<string | undefined>();

  const remove = async (channel: NotificationChannel): Promise<void> => {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await api.deleteChannel(channel.id);
      forgetReads();
      setDeleted(channel.name);
      channels.reload();
    } catch (e) {
      setDeleteError(e);
    } finally {
      setDeleting(false);
      setConfirming(undefined);
    }
  };

  return (
    <section data-testid="page-channels">
      <div className="page-header">
        <h1>{t.channelsTitle}</h1>
        <div className="header-actions">
          <a className="btn btn-primary" href="#/channels/new" data-testid="channel-new">
            {t.channelNew}
          </a>
        </div>
      </div>
      <p className="muted">{t.channelsIntro}</p>
      {deleted && (
        <div className="banner banner-ok" role="status" data-testid="channel-deleted">
          {t.channelDeleted(deleted)}
        </div>
      )}
      <ErrorBanner error={deleteError} testId="delete-error" onDismiss={() => setDeleteError(undefined)} />
      <ErrorBanner error={channels.error} onRetry={channels.reload} />
      {channels.loading ? (
        <Loading />
      ) : channels.data && channels.data.items.length === 0 ? (
        <Empty testId="channels-empty">{t.channelsEmpty}</Empty>
      ) : channels.data ? (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="channels-table">
              <thead>
                <tr>
                  <th>{t.colChannelName}</th>
                  <th>{t.colChannelUrl}</th>
                  <th>{t.colChannelEvents}</th>
                  <th>{t.colChannelJobs}</th>
                  <th>{t.colChannelFormat}</th>
                  <th>{t.colChannelState}</th>
                  <th>{t.colCreated}</th>
                  <th>{t.colActions}</th>
                </tr>
              </thead>
              <tbody>
                {channels.data.items.map((channel) => (
                  <tr key={channel.id} data-testid="channel-row" data-channel-id={channel.id}>
                    <td>
                      <a href={href(`/channels/${channel.id}`)} data-testid="channel-name">
                        <bdi>{channel.name}</bdi>
                      </a>
                    </td>
                    <td className="channel-url">
                      <Ltr>{channel.url}</Ltr>
                    </td>
                    <td>
                      <span className="event-list">
                        {channel.events.map((event) => (
                          <code key={event} className="small" dir="ltr">
                            {event}
                          </code>
                        ))}
                      </span>
                    </td>
                    <td>{channel.jobIds ? <Ltr>{channel.jobIds.join(', ')}</Ltr> : t.channelAllJobs}</td>
                    <td>{channel.format}</td>
                    <td>
                      {channel.enabled ? <Badge tone="green">{t.channelEnabled}</Badge> : <Badge tone="grey">{t.channelDisabled}</Badge>}{' '}
                      {channel.hasSecret && <Badge tone="blue">{t.channelSigned}</Badge>}
                    </td>
                    <td>{time(channel.createdAt)}</td>
                    <td>
                      <span className="row-actions">
                        <a className="btn btn-small" href={href(`/channels/${channel.id}`)} data-testid="channel-deliveries">
                          {t.channelDeliveries}
                        </a>
                        <a className="btn btn-small" href={href(`/channels/${channel.id}/edit`)} data-testid="channel-edit">
                          {t.channelEdit}
                        </a>
                        <button type="button" className="btn btn-small btn-danger" onClick={() => setConfirming(channel)} data-testid="channel-delete">
                          {t.channelDelete}
                        </button>
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager page={page} pages={pageCount(channels.data, CHANNELS_PER_PAGE)} total={channels.data.total} onPage={setPage} />
        </>
      ) : null}
      {confirming && (
        <ConfirmDialog
          title={t.channelDeleteTitle}
          confirmLabel={t.channelDelete}
          busy={deleting}
          onConfirm={() => void remove(confirming)}
          onCancel={() => setConfirming(undefined)}
        >
          <p dir="auto">{t.channelDeleteBody(confirming.name)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
