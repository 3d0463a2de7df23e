// The overview: active clusters, reports and opt-in changes per day, versions of active
// clusters, and downloads of what is shown.

import {
  $,
  api,
  currentRange,
  initExportButtons,
  formatNumber,
  pageConfig,
  percent,
  runPage,
  saveCsv,
  withParams,
} from './dashboard.js';
import { COLORS, groupedBars, horizontalBars, lineChart, stackedBars } from './charts.js';

const range = currentRange();
let shown = null; // what the page drew, for the CSV downloads

function drawStats(data) {
  const { active, reports, optIn, versions, clusters } = data;
  $('stat-active').textContent = formatNumber(versions.clusters);
  $('stat-active-note').textContent =
    `latest snapshot in the last ${range.activeDays} day${range.activeDays === 1 ? '' : 's'}`;
  $('stat-known').textContent = formatNumber(clusters.total);
  const snapshots = reports.days.reduce((sum, day) => sum + day.snapshots, 0);
  $('stat-snapshots').textContent = formatNumber(snapshots);
  const peak = Math.max(0, ...active.days.map((day) => day.clusters));
  $('stat-snapshots-note').textContent = `${range.from} → ${range.to}, peak ${formatNumber(
    peak,
  )} clusters a day`;
  const optedIn = optIn.days.reduce((sum, day) => sum + day.opted_in, 0);
  const optedOut = optIn.days.reduce((sum, day) => sum + day.opted_out, 0);
  $('stat-opt-in').textContent = `+${formatNumber(optedIn)} / −${formatNumber(optedOut)}`;
}

function drawCharts(data) {
  const { active, reports, optIn, versions } = data;
  const dates = active.days.map((day) => day.date);
  lineChart(
    $('chart-active'),
    dates,
    [{ label: 'Active clusters', data: active.days.map((day) => day.clusters), fill: true }],
    { legend: false },
  );
  stackedBars($('chart-reports'), dates, [
    { label: 'Snapshots', data: reports.days.map((day) => day.snapshots) },
    {
      label: 'Opt-in reports',
      data: reports.days.map((day) => day.opt_in),
      backgroundColor: COLORS.amber,
    },
  ]);
  groupedBars($('chart-opt-in'), dates, [
    {
      label: 'Opted in',
      data: optIn.days.map((day) => day.opted_in),
      backgroundColor: COLORS.green,
    },
    {
      label: 'Opted out',
      data: optIn.days.map((day) => day.opted_out),
      backgroundColor: COLORS.red,
    },
  ]);
  const labels = versions.versions.map((item) => item.version ?? 'unknown');
  const counts = versions.versions.map((item) => item.clusters);
  if (versions.other) {
    labels.push('other');
    counts.push(versions.other);
  }
  horizontalBars($('chart-versions'), labels, counts, {
    onPick: (label, index) => {
      const version = versions.versions[index]?.version;
      if (!version) return;
      window.location.href = withParams(pageConfig.paths.clusters, {
        version,
        active: range.activeDays,
      });
    },
  });
}

function initDownloads() {
  initExportButtons({ from: range.from, to: range.to }, `reports-${range.from}-${range.to}`);
  $('download-figures').addEventListener('click', () => {
    if (!shown) return;
    const rows = shown.active.days.map((day, index) => [
      day.date,
      day.clusters,
      shown.reports.days[index].snapshots,
      shown.reports.days[index].opt_in,
      shown.optIn.days[index].opted_in,
      shown.optIn.days[index].opted_out,
    ]);
    saveCsv(
      `overview-${range.from}-${range.to}.csv`,
      ['date', 'active_clusters', 'snapshots', 'opt_in_reports', 'opted_in', 'opted_out'],
      rows,
    );
  });
  $('download-versions').addEventListener('click', () => {
    if (!shown) return;
    const { versions } = shown;
    const rows = versions.versions.map((item) => [
      item.version ?? '',
      item.clusters,
      percent(item.clusters, versions.clusters),
    ]);
    if (versions.other) rows.push(['(other)', versions.other, '']);
    saveCsv(`versions-active-${range.activeDays}d.csv`, ['version', 'clusters', 'share'], rows);
  });
}

initDownloads();
runPage(async () => {
  const span = { from: range.from, to: range.to };
  const [active, reports, optIn, versions, clusters] = await Promise.all([
    api('/api/stats/active-clusters', span),
    api('/api/stats/reports-per-day', span),
    api('/api/stats/opt-in', { ...span, limit: 1 }),
    api('/api/stats/versions', { active_days: range.activeDays, size: 12 }),
    api('/api/clusters', { limit: 1 }),
  ]);
  shown = { active, reports, optIn, versions, clusters };
  drawStats(shown);
  drawCharts(shown);
});
