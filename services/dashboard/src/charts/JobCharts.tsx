// Per-job charts on the job detail page: runs by status over time, durations and start lateness, drawn with
// uPlot (loaded on demand, so the other pages do not pay for it) from the job's last CHART_RUNS runs.
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useApi } from '../api/context';
import { ErrorBanner, Loading } from '../components/ui';
import { formatDuration } from '../format/time';
import { useLive } from '../hooks/live';
import { useI18n } from '../i18n';
import type { Execution } from '../types/api';
import { percentiles, runPoints, seriesOf, statusBuckets, STATUS_GROUPS, type StatusGroup } from './runStats';

/** How many of the job's latest runs the charts cover (the history API pages by at most 100). */
export const CHART_RUNS = 300;
const PAGE = 100;
/** The charts refetch less often than the rest of the page, in milliseconds: three requests each time. */
export const CHART_REFRESH_MS = 15_000;

const COLORS: Record<StatusGroup, string> = { success: '#2e9d5b', failed: '#d64545', other: '#8a94a6' };

/** The job's latest runs, newest first, up to CHART_RUNS. */
async function recentRuns(load: (page: number) => Promise<{ items: Execution[]; total: number }>): Promise<Execution[]> {
  const runs: Execution[] = [];
  for (let page = 1; runs.length < CHART_RUNS; page += 1) {
    const result = await load(page);
    runs.push(...result.items);
    if (result.items.length < PAGE || runs.length >= result.total) break;
  }
  return runs.slice(0, CHART_RUNS);
}

export function JobCharts({ jobId }: { jobId: number }) {
  const api = useApi();
  const { t, lang } = useI18n();
  const runs = useLive(['job-charts', jobId], (signal) => recentRuns((page) => api.jobHistory(jobId, { page, perPage: PAGE }, signal)), {
    intervalMs: CHART_REFRESH_MS,
  });
  const points = useMemo(() => runPoints(runs.data ?? []), [runs.data]);
  const buckets = useMemo(() => statusBuckets(points), [points]);
  const durations = useMemo(() => seriesOf(points, 'durationS'), [points]);
  const lateness = useMemo(() => seriesOf(points, 'latenessS'), [points]);
  const totals = Object.fromEntries(STATUS_GROUPS.map((g) => [g, buckets.counts[g].reduce((a, b) => a + b, 0)])) as Record<StatusGroup, number>;
  const d = percentiles(durations[1].filter((v): v is number => v !== null));
  const l = percentiles(lateness[1].filter((v): v is number => v !== null));
  const ms = (s: number): string => formatDuration(s * 1000, lang);
  // Stacked bars: each group is drawn as the sum of itself and the groups under it, widest first, so the bars
  // stack; the legend shows each group's own count.
  const stacked = useMemo((): { data: uPlot.AlignedData; series: SeriesSpec[] } => {
    const order = [...STATUS_GROUPS].reverse();
    const data = order.map((group) => buckets.starts.map((_, i) => STATUS_GROUPS.slice(0, STATUS_GROUPS.indexOf(group) + 1).reduce((sum, g) => sum + (buckets.counts[g][i] ?? 0), 0)));
    return {
      data: [buckets.starts, ...data],
      series: order.map((group) => ({ label: t[`chartGroup_${group}`], color: COLORS[group], value: (i: number) => String(buckets.counts[group][i] ?? 0) })),
    };
  }, [buckets, t]);
  const durationSeries = useMemo(() => [{ label: t.chartDurationSeries, color: '#3a6fd8' }], [t]);
  const latenessSeries = useMemo(() => [{ label: t.chartLatenessSeries, color: '#c07a12' }], [t]);

  if (runs.loading) return <Loading />;
  if (runs.error && !runs.data) return <ErrorBanner error={runs.error} onRetry={runs.reload} testId="charts-error" />;
  if (points.length === 0) return <p className="muted" data-testid="charts-empty">{t.chartsEmpty}</p>;
  return (
    <div className="charts" data-testid="job-charts" data-runs={points.length}>
      <Chart
        testId="chart-status"
        title={t.chartStatusTitle}
        caption={t.chartStatusCaption(points.length, totals.success, totals.failed, totals.other)}
        points={buckets.starts.length}
        data={stacked.data}
        series={stacked.series}
        bars
      />
      <Chart
        testId="chart-duration"
        title={t.chartDurationTitle}
        caption={d ? t.chartPercentiles(ms(d.p50), ms(d.p95)) : t.none}
        points={durations[0].length}
        data={durations}
        series={durationSeries}
      />
      <Chart
        testId="chart-lateness"
        title={t.chartLatenessTitle}
        caption={l ? t.chartPercentiles(ms(l.p50), ms(l.p95)) : t.none}
        points={lateness[0].length}
        data={lateness}
        series={latenessSeries}
      />
    </div>
  );
}

interface SeriesSpec {
  label: string;
  color: string;
  /** The legend's value at index i (default: the plotted value). */
  value?: (i: number) => string;
}

function Chart({ testId, title, caption, points, data, series, bars = false }: {
  testId: string;
  title: string;
  caption: string;
  points: number;
  data: uPlot.AlignedData;
  series: SeriesSpec[];
  bars?: boolean;
}) {
  const { utc } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    let plot: uPlot | undefined;
    let cancelled = false;
    // Canvas-less environments (jsdom) draw nothing; the caption still says what the chart shows.
    if (!document.createElement('canvas').getContext?.('2d')) return undefined;
    void import('uplot').then(({ default: UPlot }) => {
      if (cancelled) return;
      const width = Math.max(240, element.clientWidth);
      plot = new UPlot(
        {
          width,
          height: 180,
          tzDate: utc ? (ts) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : undefined,
          legend: { show: true },
          scales: { x: { time: true } },
          series: [
            {},
            ...series.map((s) => ({
              label: s.label,
              stroke: s.color,
              fill: bars ? `${s.color}88` : undefined,
              width: bars ? 0 : 1,
              points: { show: !bars, size: 4 },
              value: s.value ? (_self: uPlot, _raw: number | null, _series: number, i: number | null) => (i === null ? '' : (s.value?.(i) ?? '')) : undefined,
              paths: bars ? UPlot.paths.bars?.({ size: [0.6, 40], align: 1 }) : UPlot.paths.linear?.(),
            })),
          ],
        },
        data,
        element,
      );
      setDrawn(true);
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [data, series, bars, utc]);
  return (
    <figure className="chart" data-testid={testId} data-points={points} data-drawn={drawn}>
      <h3>{title}</h3>
      <div ref={box} className="chart-canvas" dir="ltr" />
      <figcaption className="muted small" data-testid={`${testId}-caption`}>
        {caption}
      </figcaption>
    </figure>
  );
}
