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

function drawActive() {
  // From the first day with a published count (the days before it had no data, or too little).
  const first = doc.active_per_day.findIndex((day) => day.deployments !== null);
  const days = first < 0 ? doc.active_per_day : doc.active_per_day.slice(first);
  lineChart(
    show(document.getElementById('chart-active')),
    days.map((day) => day.date),
    [{ label: 'Active deployments', data: days.map((day) => day.deployments), fill: true }],
    { legend: false },
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
drawDistribution(document.getElementById('chart-versions'), doc.versions, COLORS.blue);
for (const canvas of document.querySelectorAll('canvas[data-field]')) drawField(canvas);
document.body.dataset.ready = 'true';
