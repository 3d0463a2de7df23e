// The public statistics page: draws the charts from the published document that the page
// holds (its figures are also in the page's tables, which work without JavaScript).

import { COLORS, horizontalBars, lineChart } from './charts.js';

const doc = JSON.parse(document.getElementById('public-stats').textContent);

function show(canvas) {
  canvas.closest('.chart-box').hidden = false;
  return canvas;
}

/** Labels and counts of a folded distribution; "other" last when it is published. */
function bars(item) {
  const labels = item.buckets.map((bucket) => bucket.value);
  const counts = item.buckets.map((bucket) => bucket.deployments);
  if (item.other) {
    labels.push('other');
    counts.push(item.other);
  }
  return [labels, counts];
}

/** The days from the first one with a published count in any of `series` (the days before
 * it had no data, or too little). */
function firstShown(series) {
  const starts = series
    .map((days) => days.findIndex((day) => day.deployments !== null))
    .filter((index) => index >= 0);
  return starts.length ? Math.min(...starts) : 0;
}

function drawActive() {
  const days = doc.active_per_day.slice(firstShown([doc.active_per_day]));
  lineChart(
    show(document.getElementById('chart-active')),
    days.map((day) => day.date),
    [{ label: 'Active deployments', data: days.map((day) => day.deployments), fill: true }],
    { legend: false },
  );
}

function drawEvents() {
  const canvas = document.getElementById('chart-events');
  if (!canvas) return;
  const first = firstShown(doc.events.map((item) => item.days));
  lineChart(
    show(canvas),
    doc.active_per_day.slice(first).map((day) => day.date),
    doc.events.map((item) => ({
      label: item.event_type,
      data: item.days.slice(first).map((day) => day.deployments),
    })),
  );
}

function drawDistribution(canvas, item, color) {
  const [labels, counts] = bars(item);
  if (labels.length) horizontalBars(show(canvas), labels, counts, { color });
}

function drawField(canvas) {
  const field = doc.fields[Number(canvas.dataset.field)];
  if (field.kind !== 'number') {
    drawDistribution(canvas, field, COLORS.teal);
    return;
  }
  const { quantiles } = field.numbers;
  horizontalBars(
    show(canvas),
    Object.keys(quantiles).map((q) => `${q}th percentile`),
    Object.values(quantiles),
    { color: COLORS.purple },
  );
}

drawActive();
drawEvents();
drawDistribution(document.getElementById('chart-versions'), doc.versions, COLORS.blue);
for (const canvas of document.querySelectorAll('canvas[data-field]')) drawField(canvas);
document.body.dataset.ready = 'true';
