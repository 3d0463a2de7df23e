// The Events page: the event types of the range (volume, clusters, a trend), and for the type
// in the URL (`?type=`) its events and clusters per day, a breakdown of one of its properties
// (`?property=`) and its latest events; downloads of the events as NDJSON or CSV.

import {
  $,
  api,
  cell,
  initExportButtons,
  formatNumber,
  formatTime,
  pageConfig,
  percent,
  runPage,
  withParams,
} from './dashboard.js';
import { COLORS, draw, horizontalBars, shortDate } from './charts.js';
import { drawRecent, showRecentError, sparkline } from './eventlist.js';

const DAY_MS = 86_400_000;
const DAY_CHOICES = [7, 14, 30, 90];
const params = new URLSearchParams(window.location.search);
const days = DAY_CHOICES.includes(Number(params.get('days'))) ? Number(params.get('days')) : 30;
const selected = params.get('type') || '';
const today = Date.parse(`${pageConfig.today}T00:00:00Z`);
const span = {
  from: new Date(today - (days - 1) * DAY_MS).toISOString().slice(0, 10),
  to: pageConfig.today,
};
const typePath = (type) => `/api/events/types/${encodeURIComponent(type)}`;

/** This page with `changes` applied to its query (null removes a parameter). */
function pageUrl(changes) {
  const next = new URLSearchParams(window.location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) next.delete(name);
    else next.set(name, String(value));
  }
  return withParams(pageConfig.paths.events, Object.fromEntries(next));
}

function typeLink(type) {
  const link = document.createElement('a');
  link.href = pageUrl({ type: type.event_type, property: null });
  link.className = 'mono';
  link.textContent = type.event_type;
  if (type.event_type === selected) link.setAttribute('aria-current', 'true');
  return link;
}

function drawTypes(types) {
  $('types-count').textContent = `(${formatNumber(types.length)} in the last ${days} days)`;
  $('types-empty').hidden = types.length > 0;
  $('types-rows').replaceChildren(
    ...types.map((type) => {
      const row = document.createElement('tr');
      if (type.event_type === selected) row.className = 'selected';
      row.append(
        cell(typeLink(type)),
        cell(formatNumber(type.events), 'num'),
        cell(formatNumber(type.clusters), 'num'),
        cell(sparkline(type.trend || [], `Events of ${type.event_type} per day`)),
        cell(formatTime(type.first_seen)),
        cell(formatTime(type.last_seen)),
      );
      return row;
    }),
  );
}

function drawDaily(daily) {
  const labels = daily.days.map((day) => shortDate(day.day));
  draw($('chart-daily'), {
    type: 'line',
    data: {
      labels,
      datasets: [
        {
          label: 'Events',
          data: daily.days.map((day) => day.events),
          borderColor: COLORS.blue,
          backgroundColor: `${COLORS.blue}22`,
          fill: true,
          yAxisID: 'y',
        },
        {
          label: 'Clusters',
          data: daily.days.map((day) => day.clusters),
          borderColor: COLORS.amber,
          backgroundColor: COLORS.amber,
          yAxisID: 'clusters',
        },
      ],
    },
    options: {
      elements: { point: { radius: labels.length > 45 ? 0 : 2 }, line: { borderWidth: 2 } },
      plugins: { legend: { position: 'bottom' } },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'events' } },
        clusters: {
          position: 'right',
          beginAtZero: true,
          grid: { display: false },
          ticks: { precision: 0 },
          title: { display: true, text: 'clusters' },
        },
      },
    },
  });
}

function headRow(names) {
  $('property-head').replaceChildren(
    ...names.map((name, index) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = name;
      if (index > 0) th.className = 'num';
      return th;
    }),
  );
}

function valueRow(name, value, share) {
  const row = document.createElement('tr');
  row.append(cell(name, 'mono'), cell(value, 'num'));
  if (share !== undefined) row.append(cell(share, 'num'));
  return row;
}

/** The breakdown of one property: top keywords, number statistics or true/false counts. */
function drawBreakdown(breakdown) {
  const box = $('property-chart-box');
  const count = breakdown.count;
  $('property-note').textContent =
    `${breakdown.kind} · in ${formatNumber(count)} events of the last ${days} days`;
  let rows = [];
  let bars = null;
  if (breakdown.kind === 'keyword') {
    headRow(['Value', 'Events', 'Share']);
    rows = breakdown.top.map((item) =>
      valueRow(item.value, formatNumber(item.count), percent(item.count, count)),
    );
    bars = [breakdown.top.map((item) => String(item.value)), breakdown.top.map((i) => i.count)];
  } else if (breakdown.kind === 'boolean') {
    headRow(['Value', 'Events', 'Share']);
    rows = ['true', 'false'].map((name) =>
      valueRow(name, formatNumber(breakdown[name]), percent(breakdown[name], count)),
    );
    bars = [['true', 'false'], [breakdown.true, breakdown.false]];
  } else {
    headRow(['Statistic', 'Value']);
    const stats = [['count', count], ['min', breakdown.min], ['max', breakdown.max],
      ['avg', breakdown.avg], ['p50', breakdown.p50], ['p90', breakdown.p90],
      ['p99', breakdown.p99]]; // prettier-ignore
    rows = stats.map(([name, value]) => valueRow(name, formatNumber(value)));
  }
  $('property-rows').replaceChildren(...rows);
  box.hidden = bars === null;
  if (bars) horizontalBars($('chart-property'), bars[0], bars[1], { color: COLORS.teal });
}

/** Loads and draws one property; a failure stays in the property's panel. */
async function loadBreakdown(path) {
  const url = `${typePath(selected)}/properties/${encodeURIComponent(path)}`;
  try {
    drawBreakdown(await api(url, { days, top: 10 }));
  } catch (error) {
    $('property-note').textContent = `Could not load this property: ${error.message}`;
    $('property-head').replaceChildren();
    $('property-rows').replaceChildren();
    $('property-chart-box').hidden = true;
  }
}

function drawProperties(properties) {
  const select = $('property-select');
  const list = properties.properties;
  $('property-empty').hidden = list.length > 0;
  $('property-form').hidden = list.length === 0;
  select.replaceChildren(
    ...list.map((item) => {
      const option = document.createElement('option');
      option.value = item.path;
      option.textContent = `${item.path} (${item.kind}, ${formatNumber(item.count)})`;
      return option;
    }),
  );
  const wanted = params.get('property');
  const chosen = list.find((item) => item.path === wanted) || list[0];
  if (!chosen) return null;
  select.value = chosen.path;
  select.addEventListener('change', () => {
    window.history.replaceState(null, '', pageUrl({ property: select.value }));
    loadBreakdown(select.value);
  });
  return loadBreakdown(chosen.path);
}

async function loadType(types) {
  $('type-body').hidden = false;
  $('type-title').textContent = selected;
  document.title = `${selected} · Events · Telemetry receiver`;
  $('type-missing').hidden = types.some((type) => type.event_type === selected);
  const [daily, properties] = await Promise.all([
    api(`${typePath(selected)}/daily`, { days }),
    api(`${typePath(selected)}/properties`, { days }),
  ]);
  drawDaily(daily);
  await drawProperties(properties);
}

async function loadRecent() {
  try {
    const answer = await api('/api/events', { event_type: selected, limit: 50 });
    drawRecent(answer.events);
  } catch (error) {
    showRecentError(error);
  }
}

function initControls() {
  const select = $('events-days');
  select.value = String(days);
  select.addEventListener('change', () => {
    window.location.href = pageUrl({ days: select.value });
  });
  initExportButtons({ kind: 'event', ...span }, `events-${span.from}-${span.to}`);
}

initControls();
runPage(async () => {
  const { types } = await api('/api/events/types', { days });
  drawTypes(types);
  if (selected) await Promise.all([loadType(types), loadRecent()]);
});
