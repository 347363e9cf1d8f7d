import { useI18n } from '../i18n';
import type { Job } from '../types/api';
import { Badge } from './ui';

/** State badges of a job: enabled|disabled, paused (with why, when the job paused itself), primary. */
export function JobBadges({ job }: { job: Pick<Job, 'isEnabled' | 'isPaused' | 'isPrimary' | 'pausedReason'> }) {
  const { t } = useI18n();
  return (
    <span className="badges" data-testid="job-badges">
      {job.isEnabled ? (
        <Badge tone="green" testId="badge-enabled">
          {t.badgeEnabled}
        </Badge>
      ) : (
        <Badge tone="grey" testId="badge-disabled">
          {t.badgeDisabled}
        </Badge>
      )}
      {job.isPaused && (
        <Badge tone="amber" testId="badge-paused" title={job.pausedReason}>
          {t.badgePaused}
        </Badge>
      )}
      {job.isPrimary && (
        <Badge tone="purple" testId="badge-primary">
          {t.badgePrimary}
        </Badge>
      )}
    </span>
  );
}
