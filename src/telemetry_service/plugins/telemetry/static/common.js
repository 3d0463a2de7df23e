// Shared by the telemetry pages: the injected page config, the API key, JSON calls, toasts.

/** The config the server injected into the page (channel URLs, version, name…). */
export const pageConfig = JSON.parse(
  document.getElementById('telemetry-page-config').textContent,
);

const API_KEY_STORAGE = 'telemetry.apiKey';

export function storedApiKey() {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

/** False when the server needs an API key and the user has not given one. */
export function hasCredentials() {
  return !pageConfig.authRequired || storedApiKey() !== '';
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls one of the host's routes: JSON in and out, the `kbn-xsrf` header on writes and
 * `Authorization: ApiKey …` when the user gave a key. Throws an ApiError with the server's
 * message on a non-2xx answer.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['kbn-xsrf'] = 'true';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const key = storedApiKey();
  if (key) headers.Authorization = `ApiKey ${key}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const message = (data && data.message) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

/** A short message in the page's live region; it goes away by itself. */
export function toast(message, kind = 'success') {
  const region = document.getElementById('toasts');
  const item = document.createElement('div');
  item.className = `toast toast-${kind}`;
  item.textContent = message;
  region.append(item);
  setTimeout(() => item.remove(), 6000);
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

/** The API key form in the top bar (shown when the server has API keys). */
function initApiKeyForm() {
  const form = document.getElementById('api-key-form');
  if (!form) return;
  const signedIn = document.getElementById('api-key-signed-in');
  if (storedApiKey()) {
    form.hidden = true;
    signedIn.hidden = false;
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('api-key-input').value.trim();
    if (!value) return;
    sessionStorage.setItem(API_KEY_STORAGE, value);
    window.location.reload();
  });
  document.getElementById('api-key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(API_KEY_STORAGE);
    window.location.reload();
  });
}

/** Shows who the key belongs to, from the status route's `principal`. */
export function showPrincipal(principal) {
  const who = document.getElementById('api-key-who');
  if (who && principal) who.textContent = `Signed in as ${principal.name} (${principal.role})`;
}

/** Marks the page as initialised (tests and screenshots wait for it). */
export function markReady() {
  document.body.dataset.ready = 'true';
}

initApiKeyForm();
