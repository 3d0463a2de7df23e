// Shared by the host's telemetry pages and the receiver's dashboard: the config the server
// injected into the page, the tab's API key, JSON calls, toasts and the ready mark.

export const $ = (id) => document.getElementById(id);

/** What the server injected into the page (never data of the deployment). */
export const pageConfig = JSON.parse($('page-config').textContent);

const API_KEY_STORAGE = 'telemetry-service.apiKey';

export function storedApiKey() {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

/** Keeps `value` as this tab's API key (or session credential) for the pages' calls. */
export function rememberApiKey(value) {
  sessionStorage.setItem(API_KEY_STORAGE, value);
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

/** `path?params` with the null/undefined/'' params left out. */
export function withParams(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Calls a route of this server with `Authorization: ApiKey …` when the user gave a key and
 * `body` as JSON; throws an ApiError with the server's message on a non-2xx answer.
 */
export async function request(method, path, { params, body, headers = {} } = {}) {
  const key = storedApiKey();
  const response = await fetch(withParams(path, params), {
    method,
    headers: {
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(key ? { Authorization: `ApiKey ${key}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && data.message) message = data.message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

/** The JSON answer of `request` (null when empty). */
export async function requestJson(method, path, options) {
  const text = await (await request(method, path, options)).text();
  return text ? JSON.parse(text) : null;
}

/** A short message in the page's live region; it goes away by itself. */
export function toast(message, kind = 'success') {
  const item = document.createElement('div');
  item.className = `toast toast-${kind}`;
  item.textContent = message;
  $('toasts').append(item);
  setTimeout(() => item.remove(), 6000);
}

/** Shows who the key belongs to (`{name, role}`) in the top bar. */
export function showPrincipal(principal) {
  const who = $('api-key-who');
  if (who && principal) who.textContent = `Signed in as ${principal.name} (${principal.role})`;
}

/** Marks the page as drawn (tests, screenshots and the benchmark wait for it). */
export function markReady() {
  document.body.dataset.ready = 'true';
}

/** The API key form in the top bar (there when the server has API keys). */
function initApiKeyForm() {
  const form = $('api-key-form');
  if (!form) return;
  if (storedApiKey()) {
    form.hidden = true;
    $('api-key-signed-in').hidden = false;
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('api-key-input').value.trim();
    if (!value) return;
    rememberApiKey(value);
    window.location.reload();
  });
  $('api-key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(API_KEY_STORAGE);
    window.location.reload();
  });
}

initApiKeyForm();
