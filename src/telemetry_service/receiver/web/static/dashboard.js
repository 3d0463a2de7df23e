// The dashboard pages' own helpers beside the shared module: `api`, downloads, CSV, formatting,
// the time range picker and `runPage`.

import {
  $,
  ApiError,
  hasCredentials,
  markReady,
  pageConfig,
  request,
  requestJson,
  showPrincipal,
  toast,
} from '../common/base.js';

export * from '../common/base.js';

const DAY_MS = 86_400_000;

/** GET (or another method) of a JSON route of the receiver; throws ApiError on non-2xx. */
export function api(path, params = {}, method = 'GET') {
  return requestJson(method, path, { params });
}

/** Saves `data` (a Blob or a string) as a file through a temporary link. */
export function saveFile(data, filename, type = 'text/plain') {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Downloads a route's answer with the API key (a plain link could not send it). */
export async function downloadRoute(path, params, fallbackName) {
  const response = await request('GET', path, { params });
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = disposition.match(/filename="([^"]+)"/);
  saveFile(await response.blob(), match ? match[1] : fallbackName);
}

/**
 * Each `[data-export=FORMAT]` button downloads `/api/export` with `params` and its format, as
 * `BASENAME.FORMAT` unless the answer names the file.
 */
export function initExportButtons(params, basename) {
  for (const button of document.querySelectorAll('[data-export]')) {
    button.addEventListener('click', async () => {
      const format = button.dataset.export;
      button.disabled = true;
      try {
        await downloadRoute('/api/export', { ...params, format }, `${basename}.${format}`);
      } catch (error) {
        toast(`Download failed: ${error.message}`, 'danger');
      } finally {
        button.disabled = false;
      }
    });
  }
}

function csvCell(value) {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // no spreadsheet formulas
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text of a header row and rows (arrays of cells). */
export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

export function saveCsv(filename, header, rows) {
  saveFile(toCsv(header, rows), filename, 'text/csv;charset=utf-8');
}

export function showError(error) {
  const box = $('load-error');
  box.textContent =
    error instanceof ApiError && error.status === 401
      ? `The receiver did not accept the API key: ${error.message}`
      : `Could not load the data: ${error.message}`;
  box.hidden = false;
}

// -- formatting -------------------------------------------------------------------------------
const integer = new Intl.NumberFormat('en-US');
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatNumber(value) {
  if (value === null || value === undefined) return '–';
  return Number.isInteger(value) ? integer.format(value) : decimal.format(value);
}

export function percent(part, whole) {
  if (!whole) return '–';
  return `${decimal.format((100 * part) / whole)}%`;
}

/** "2026-03-14 10:05 UTC" (days on these pages are UTC days). */
export function formatTime(value) {
  if (!value) return 'never';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "3 days ago" (from the browser's clock). */
export function ago(value) {
  const ms = Date.now() - new Date(value).getTime();
  if (!Number.isFinite(ms)) return '';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

export function badge(text, attrs = {}) {
  const span = document.createElement('span');
  span.className = 'badge';
  span.textContent = text;
  for (const [name, value] of Object.entries(attrs)) span.dataset[name] = value;
  return span;
}

export function optInBadge(status) {
  const label = { true: 'opted in', false: 'opted out', null: 'unknown' }[String(status)];
  return badge(label, { state: String(status) });
}

/** A table cell holding text, a node or nothing. */
export function cell(content, className = '') {
  const td = document.createElement('td');
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else if (content !== null && content !== undefined) td.textContent = String(content);
  return td;
}

// -- the time range -----------------------------------------------------------------------------
const PRESETS = { '7d': 7, '14d': 14, '30d': 30, '90d': 90, '365d': 365 };

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayMs(text) {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The range of the URL (`?range=30d`, or `?from=YYYY-MM-DD&to=YYYY-MM-DD`), in UTC days from the
 * server's today. `activeDays` is the window of "active" clusters: from `from` to today.
 */
export function currentRange() {
  const params = new URLSearchParams(window.location.search);
  const today = dayMs(pageConfig.today);
  let preset = params.get('range') || '30d';
  let from = dayMs(params.get('from') || '');
  let to = dayMs(params.get('to') || '');
  if (preset !== 'custom' || from === null || to === null || to < from) {
    if (!(preset in PRESETS)) preset = '30d';
    to = today;
    from = today - (PRESETS[preset] - 1) * DAY_MS;
  }
  const days = Math.round((to - from) / DAY_MS) + 1;
  const activeDays = Math.min(3650, Math.max(1, Math.round((today - from) / DAY_MS) + 1));
  return { preset, from: isoDay(from), to: isoDay(to), days, activeDays };
}

/** Fills the picker from the URL; applying it reloads the page with the new range. */
export function initRangePicker() {
  const form = $('range-form');
  if (!form) return;
  const range = currentRange();
  const preset = $('range-preset');
  preset.value = range.preset;
  $('range-from').value = range.from;
  $('range-to').value = range.to;
  const apply = () => {
    const params = new URLSearchParams(window.location.search);
    params.delete('page');
    if (preset.value === 'custom') {
      params.set('range', 'custom');
      params.set('from', $('range-from').value);
      params.set('to', $('range-to').value);
    } else {
      params.set('range', preset.value);
      params.delete('from');
      params.delete('to');
    }
    window.location.search = params.toString();
  };
  preset.addEventListener('change', () => {
    if (preset.value !== 'custom') apply();
  });
  for (const id of ['range-from', 'range-to']) {
    $(id).addEventListener('change', () => {
      preset.value = 'custom';
    });
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (form.reportValidity()) apply();
  });
}

/** Who is asking (`/api/me`), shown in the top bar when the receiver has API keys. */
async function loadSession() {
  const session = await api('/api/me');
  if (session.auth_required) showPrincipal(session);
  return session;
}

/**
 * Runs a page's loader with a promise of the session (`/api/me`, asked at the same time as
 * the page's data): errors are shown in the page, and the page is marked ready at the end.
 * Nothing is asked when the receiver has API keys and the user has not given one.
 */
export async function runPage(load) {
  try {
    if (!hasCredentials()) {
      $('auth-needed').hidden = false;
      return;
    }
    const session = loadSession();
    session.catch(() => {}); // reported below, once
    await load(session);
    await session;
  } catch (error) {
    showError(error);
  } finally {
    markReady();
  }
}

initRangePicker();
