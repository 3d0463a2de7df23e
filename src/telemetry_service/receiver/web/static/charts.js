// Chart.js (the vendored UMD build, loaded before the page modules) with the dashboard's look.

const Chart = window.Chart;

export const COLORS = {
  blue: '#0b64dd',
  teal: '#00a3a3',
  green: '#2e9e5b',
  red: '#d0443a',
  amber: '#e0a100',
  purple: '#7b61c7',
  pink: '#d4569b',
  slate: '#6b7689',
  sky: '#5fa2ff',
  olive: '#8a9a2b',
};
/** Series colours, in order; "other" is always slate. */
export const PALETTE = [
  COLORS.blue, COLORS.teal, COLORS.amber, COLORS.purple, COLORS.pink,
  COLORS.green, COLORS.sky, COLORS.olive, COLORS.red, '#3f8f8f',
];

Chart.defaults.animation = false; // drawn at once: faster, and screenshots are stable
Chart.defaults.font.family =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = '#5a6270';
Chart.defaults.borderColor = '#e3e8f0';
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.plugins.legend.labels.boxWidth = 12;
Chart.defaults.plugins.tooltip.mode = 'index';
Chart.defaults.plugins.tooltip.intersect = false;

/** "2026-03-14" → "Mar 14" (UTC). */
export function shortDate(text) {
  const date = new Date(`${text}T00:00:00Z`);
  return date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** Draws (or redraws) a chart on a canvas. */
export function draw(canvas, config) {
  const existing = Chart.getChart(canvas);
  if (existing) existing.destroy();
  return new Chart(canvas, config);
}

function timeAxis(stacked = false) {
  return { stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } };
}

function countAxis(stacked = false, extra = {}) {
  return { stacked, beginAtZero: true, ticks: { precision: 0 }, ...extra };
}

export function lineChart(canvas, dates, datasets, { legend = true, yTitle = '' } = {}) {
  return draw(canvas, {
    type: 'line',
    data: {
      labels: dates.map(shortDate),
      datasets: datasets.map((set, index) => ({
        borderColor: PALETTE[index % PALETTE.length],
        backgroundColor: `${PALETTE[index % PALETTE.length]}22`,
        pointRadius: dates.length > 45 ? 0 : 2,
        borderWidth: 2,
        tension: 0.25,
        ...set,
      })),
    },
    options: {
      plugins: { legend: { display: legend, position: 'bottom' } },
      scales: {
        x: timeAxis(),
        y: countAxis(false, yTitle ? { title: { display: true, text: yTitle } } : {}),
      },
    },
  });
}

export function stackedBars(canvas, dates, datasets, { percent = false } = {}) {
  return draw(canvas, {
    type: 'bar',
    data: {
      labels: dates.map(shortDate),
      datasets: datasets.map((set, index) => ({
        backgroundColor: PALETTE[index % PALETTE.length],
        borderWidth: 0,
        ...set,
      })),
    },
    options: {
      plugins: { legend: { position: 'bottom' } },
      scales: {
        x: timeAxis(true),
        y: percent
          ? { stacked: true, beginAtZero: true, max: 100, ticks: { callback: (v) => `${v}%` } }
          : countAxis(true),
      },
    },
  });
}

export function groupedBars(canvas, dates, datasets) {
  return draw(canvas, {
    type: 'bar',
    data: { labels: dates.map(shortDate), datasets },
    options: {
      plugins: { legend: { position: 'bottom' } },
      scales: { x: timeAxis(), y: countAxis() },
    },
  });
}

/** Horizontal bars of labelled counts (a distribution); `onPick(label)` on a click. */
export function horizontalBars(canvas, labels, values, { color = COLORS.blue, onPick } = {}) {
  return draw(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: [{ data: values, backgroundColor: color, borderWidth: 0, barPercentage: 0.8 }],
    },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false }, tooltip: { mode: 'nearest', intersect: true } },
      scales: { x: countAxis(), y: { grid: { display: false } } },
      onClick: onPick
        ? (event, elements) => {
            if (elements.length) onPick(labels[elements[0].index], elements[0].index);
          }
        : undefined,
      onHover: onPick
        ? (event, elements) => {
            event.native.target.style.cursor = elements.length ? 'pointer' : 'default';
          }
        : undefined,
    },
  });
}
