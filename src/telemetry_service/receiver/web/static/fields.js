// The field explorer: pick a payload field (the paths of the latest reports are offered), see
// its distribution over active clusters and its trend per day, download both as CSV.

import {
  $,
  api,
  cell,
  currentRange,
  formatNumber,
  percent,
  runPage,
  saveCsv,
} from './dashboard.js';
import { COLORS, PALETTE, horizontalBars, lineChart, stackedBars } from './charts.js';

const range = currentRange();
const field = new URLSearchParams(window.location.search).get('field') || '';
const KIND_ORDER = ['number', 'string', 'boolean', 'array', 'object', 'null', 'missing'];
const NO_VALUE = '#c9d1dc';
let distribution = null;
let trend = null;

function kindsText(kinds) {
  return KIND_ORDER.filter((kind) => kinds[kind])
    .map((kind) => `${kind === 'string' ? 'keyword' : kind} ${formatNumber(kinds[kind])}`)
    .join(' · ');
}

function mainKind(kinds) {
  const present = KIND_ORDER.filter((kind) => kind !== 'missing' && kinds[kind]);
  present.sort((a, b) => kinds[b] - kinds[a]);
  return present[0] || 'missing';
}

async function loadFieldList() {
  const list = await api('/api/stats/fields', { active_days: range.activeDays, sample: 500 });
  const options = $('field-options');
  options.replaceChildren(
    ...list.fields.map((item) => {
      const option = document.createElement('option');
      option.value = item.path;
      option.label = `${mainKind(item.kinds).replace('string', 'keyword')} · ${percent(
        item.count,
        list.sampled,
      )}`;
      return option;
    }),
  );
  const fields = formatNumber(list.fields.length);
  const more = list.truncated ? ' (the first ones only)' : '';
  $('field-help').textContent = list.sampled
    ? `${fields} fields in the latest snapshots of ${formatNumber(list.sampled)} active ` +
      `clusters${more}: start typing to pick one.`
    : 'No active cluster has sent a snapshot in this range.';
  return list;
}

function valueRows(dist) {
  if (dist.keyword) {
    const rows = dist.keyword.buckets.map((bucket) => [bucket.value, bucket.count]);
    if (dist.keyword.other) rows.push(['(other values)', dist.keyword.other]);
    return rows;
  }
  if (dist.boolean) return [['true', dist.boolean.true], ['false', dist.boolean.false]];
  return [];
}

function drawDistribution(dist) {
  const kinds = dist.kinds;
  const present = dist.clusters - kinds.missing;
  $('stat-clusters').textContent = formatNumber(dist.clusters);
  $('stat-clusters-note').textContent = `latest snapshot in the last ${dist.active_days} days`;
  $('stat-present').textContent = formatNumber(present);
  $('stat-present-note').textContent = `${percent(present, dist.clusters)} of active clusters`;
  const kind = mainKind(kinds);
  $('stat-kind').textContent = kind === 'string' ? 'keyword' : kind;
  $('stat-kinds-note').textContent = kindsText(kinds) || 'no cluster';

  const canvas = $('chart-distribution');
  const head = $('values-head');
  const body = $('values-rows');
  const headers = (names) =>
    head.replaceChildren(
      ...names.map((name, index) => {
        const th = document.createElement('th');
        th.scope = 'col';
        th.textContent = name;
        if (index > 0 && name) th.className = 'num';
        return th;
      }),
    );
  if (dist.number && !dist.keyword) {
    const n = dist.number;
    const stats = [
      ['min', n.min],
      ['p50 (median)', n.percentiles['50']],
      ['p75', n.percentiles['75']],
      ['p90', n.percentiles['90']],
      ['p95', n.percentiles['95']],
      ['p99', n.percentiles['99']],
      ['max', n.max],
    ];
    horizontalBars(
      canvas,
      stats.map(([name]) => name),
      stats.map(([, value]) => value),
      { color: COLORS.teal },
    );
    $('dist-note').textContent =
      `Number statistics over the ${formatNumber(n.count)} active clusters that report a number.`;
    headers(['Statistic', 'Value']);
    const rows = [['count', n.count], ['average', n.avg], ...stats];
    body.replaceChildren(
      ...rows.map(([name, value]) => {
        const tr = document.createElement('tr');
        tr.append(cell(name), cell(formatNumber(value), 'num'));
        return tr;
      }),
    );
    return;
  }
  const rows = valueRows(dist);
  if (rows.length) {
    const color = dist.keyword
      ? keywordColors(rows.map(([value]) => value))
      : [COLORS.green, COLORS.red];
    horizontalBars(
      canvas,
      rows.map(([value]) => value),
      rows.map(([, count]) => count),
      { color },
    );
    $('dist-note').textContent = dist.keyword
      ? `The ${dist.keyword.buckets.length} most common values in each active cluster's ` +
        'latest snapshot.'
      : "The value in each active cluster's latest snapshot.";
  } else {
    const names = KIND_ORDER.filter((name) => kinds[name]);
    horizontalBars(
      canvas,
      names,
      names.map((name) => kinds[name]),
      { color: COLORS.slate },
    );
    $('dist-note').textContent = 'Neither keywords, booleans nor numbers: the kinds of values.';
  }
  headers(['Value', 'Clusters', 'Share', '']);
  const top = Math.max(1, ...rows.map(([, count]) => count));
  body.replaceChildren(
    ...rows.map(([value, count]) => {
      const tr = document.createElement('tr');
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${(100 * count) / top}%`;
      tr.append(
        cell(value),
        cell(formatNumber(count), 'num'),
        cell(percent(count, dist.clusters), 'num'),
        cell(bar, 'bar-cell'),
      );
      return tr;
    }),
  );
}

function trendKind(data) {
  if (data.days.some((day) => day.number)) return 'number';
  if (data.keywords.length) return 'keyword';
  if (data.days.some((day) => day.boolean)) return 'boolean';
  return 'kinds';
}

function share(part, whole) {
  return whole ? Math.round((1000 * part) / whole) / 10 : null;
}

function drawTrend(data) {
  const dates = data.days.map((day) => day.date);
  const canvas = $('chart-trend');
  const kind = trendKind(data);
  const cut = data.days.filter((day) => day.sampled < day.reports);
  $('trend-note').textContent =
    cut.length === 0
      ? 'Every snapshot of each day.'
      : `Sampled on ${formatNumber(cut.length)} of ${formatNumber(data.days.length)} days ` +
        `(${cut.map((day) => `${day.date}: ${formatNumber(day.sampled)} of ` +
        `${formatNumber(day.reports)}`).join(', ')}): a trend reads a bounded number of ` +
        'snapshots of over 10,000 fields (limits.trendWideSnapshots); the shares are of the ' +
        'snapshots read.';
  if (kind === 'number') {
    const series = (pick) => data.days.map((day) => (day.number ? pick(day.number) : null));
    lineChart(
      canvas,
      dates,
      [
        { label: 'average', data: series((n) => n.avg) },
        { label: 'median', data: series((n) => n.percentiles['50']), borderDash: [4, 3] },
        { label: 'p90', data: series((n) => n.percentiles['90']) },
      ],
      { legend: true },
    );
    return;
  }
  const shareSeries = (pick) => data.days.map((day) => share(pick(day), day.sampled));
  let sets = [];
  if (kind === 'keyword') {
    sets = data.keywords.map((value, index) => ({
      label: value,
      data: shareSeries((day) => day.keyword?.counts[index] ?? 0),
    }));
    sets.push({
      label: '(other values)',
      data: shareSeries((day) => day.keyword?.other ?? 0),
      backgroundColor: COLORS.slate,
    });
    sets.push({
      label: '(no keyword)',
      data: shareSeries((day) => day.sampled - (day.kinds.string || 0)),
      backgroundColor: NO_VALUE,
    });
  } else if (kind === 'boolean') {
    sets = [
      {
        label: 'true',
        data: shareSeries((day) => day.boolean?.true ?? 0),
        backgroundColor: COLORS.green,
      },
      {
        label: 'false',
        data: shareSeries((day) => day.boolean?.false ?? 0),
        backgroundColor: COLORS.red,
      },
      {
        label: '(no boolean)',
        data: shareSeries((day) => day.sampled - (day.kinds.boolean || 0)),
        backgroundColor: NO_VALUE,
      },
    ];
  } else {
    sets = KIND_ORDER.map((name) => ({
      label: name,
      data: shareSeries((day) => day.kinds[name] || 0),
    }));
  }
  // Series without any value in the range would only crowd the legend.
  sets = sets.filter((set) => set.data.some((value) => value));
  stackedBars(canvas, dates, sets, { percent: true });
}

/** The trend's colour of each keyword, so that both charts agree. */
function keywordColors(values) {
  return values.map((value) => {
    const index = trend ? trend.keywords.indexOf(value) : -1;
    return index >= 0 ? PALETTE[index % PALETTE.length] : COLORS.slate;
  });
}

function downloadDistribution() {
  if (!distribution) return;
  const dist = distribution;
  const rows = KIND_ORDER.map((kind) => [dist.field, 'kind', kind, dist.kinds[kind]]);
  if (dist.keyword) {
    for (const bucket of dist.keyword.buckets) {
      rows.push([dist.field, 'keyword', bucket.value, bucket.count]);
    }
    rows.push([dist.field, 'keyword', '(other values)', dist.keyword.other]);
  }
  if (dist.boolean) {
    rows.push([dist.field, 'boolean', 'true', dist.boolean.true]);
    rows.push([dist.field, 'boolean', 'false', dist.boolean.false]);
  }
  if (dist.number) {
    const n = dist.number;
    rows.push(
      [dist.field, 'number', 'count', n.count],
      [dist.field, 'number', 'min', n.min],
      [dist.field, 'number', 'max', n.max],
      [dist.field, 'number', 'avg', n.avg],
      ...Object.entries(n.percentiles).map(([q, value]) => [dist.field, 'number', `p${q}`, value]),
    );
  }
  saveCsv(
    `distribution-${dist.field}-active-${dist.active_days}d.csv`,
    ['field', 'group', 'name', 'value'],
    rows,
  );
}

function downloadTrend() {
  if (!trend) return;
  const header = ['date', 'reports', 'sampled'];
  const kind = trendKind(trend);
  if (kind === 'number') header.push('count', 'min', 'max', 'avg', 'p50', 'p90');
  if (kind === 'keyword') header.push(...trend.keywords, '(other values)');
  if (kind === 'boolean') header.push('true', 'false');
  const rows = trend.days.map((day) => {
    const row = [day.date, day.reports, day.sampled];
    if (kind === 'number') {
      const n = day.number;
      const stats = n && [n.count, n.min, n.max, n.avg, n.percentiles['50'], n.percentiles['90']];
      row.push(...(stats || ['', '', '', '', '', '']));
    }
    if (kind === 'keyword') {
      row.push(...(day.keyword ? [...day.keyword.counts, day.keyword.other] : []));
    }
    if (kind === 'boolean') row.push(day.boolean?.true ?? 0, day.boolean?.false ?? 0);
    return row;
  });
  saveCsv(`trend-${trend.field}-${range.from}-${range.to}.csv`, header, rows);
}

$('field-input').value = field;
$('field-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const params = new URLSearchParams(window.location.search);
  params.set('field', $('field-input').value.trim());
  window.location.search = params.toString();
});
$('download-distribution').addEventListener('click', downloadDistribution);
$('download-trend').addEventListener('click', downloadTrend);

runPage(async () => {
  const listed = loadFieldList();
  if (!field) {
    await listed;
    return;
  }
  document.title = `${field} · Field explorer · Telemetry receiver`;
  const [dist, days] = await Promise.all([
    api('/api/stats/distribution', { field, active_days: range.activeDays, size: 20 }),
    api('/api/stats/field-trend', { field, from: range.from, to: range.to, size: 8 }),
    listed,
  ]);
  distribution = dist;
  trend = days;
  $('field-results').hidden = false;
  drawDistribution(dist);
  drawTrend(days);
});
