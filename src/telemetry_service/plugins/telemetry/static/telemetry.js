// The host's pages: the shared module, `api` with the host's `kbn-xsrf` header on writes, and
// times in the browser's time zone.

import { requestJson } from '../common/base.js';

export * from '../common/base.js';

/** Calls one of the host's routes (JSON in and out); throws an ApiError on a non-2xx answer. */
export function api(method, path, body) {
  const headers = method === 'GET' ? {} : { 'kbn-xsrf': 'true' };
  return requestJson(method, path, { body, headers });
}

/** "2024-05-01 12:00:00 (3 hours ago)" in the browser's time zone, or "never". */
export function formatTime(value) {
  if (value === null || value === undefined || value === '') return 'never';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const pad = (n) => String(n).padStart(2, '0');
  const text =
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${text} (${relative(date)})`;
}

function relative(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const steps = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [Infinity, 'day'],
  ];
  let amount = Math.abs(seconds);
  for (const [size, unit] of steps) {
    if (amount < size) {
      const rounded = Math.max(1, Math.floor(amount));
      const label = `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
      return seconds >= 0 ? `${label} ago` : `in ${label}`;
    }
    amount /= size;
  }
  return '';
}
