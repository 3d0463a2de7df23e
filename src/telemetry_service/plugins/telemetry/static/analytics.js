// Event-based telemetry in the browser: a small analytics client and Kibana's
// ElasticV3BrowserShipper (spec 2.3), on the `{product}-browser` channel.
//
// The consent gate: the page asks the server (GET /internal/telemetry/config) whether the
// deployment is opted in. Until the answer is `true`, events are neither buffered nor sent; an
// undecided or unreadable state counts as opted out. Opted in, events are buffered for 1 s and
// POSTed as NDJSON with `fetch(..., {keepalive: true})` and the server side's headers. With
// `telemetry.debug` they are printed to the console instead ("printed, not sent").
// The page reports `page_view` and, once loaded, `page_load` (timings of the navigation entry).

import { api, hasCredentials, pageConfig } from './telemetry.js';

const FLUSH_INTERVAL_MS = 1000;
const SESSION_KEY = 'telemetry-service.sessionId';

/** Kibana's `eventsToNDJSON`: one JSON document per line, with a trailing newline. */
export function eventsToNDJSON(events) {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}

/** The headers of an event batch (`build_headers`): lower-case, no encoding header. */
export function eventHeaders(clusterUuid, version) {
  return {
    'content-type': 'application/x-ndjson',
    'x-elastic-cluster-id': clusterUuid || 'UNKNOWN',
    'x-elastic-stack-version': version,
  };
}

export class ElasticV3BrowserShipper {
  static shipperName = 'elastic_v3_browser';

  constructor({ url, version, debug = false }) {
    this.url = url;
    this.version = version;
    this.debug = debug;
    this.isOptedIn = undefined;
    this.clusterUuid = undefined;
    this.buffer = [];
    this.sent = 0;
    this.timer = window.setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  reportEvents(events) {
    if (this.isOptedIn !== true) return; // ours: nothing is buffered without consent
    this.buffer.push(...events);
  }

  optIn(isOptedIn) {
    this.isOptedIn = isOptedIn;
    if (isOptedIn !== true) this.buffer = [];
  }

  extendContext(context) {
    if (context.cluster_uuid) this.clusterUuid = context.cluster_uuid;
  }

  /** Closes the buffer and sends it (when opted in); resolves when the request is done. */
  async flush() {
    const events = this.buffer;
    this.buffer = [];
    if (this.isOptedIn !== true || events.length === 0) return;
    const body = eventsToNDJSON(events);
    if (this.debug) {
      console.info(`telemetry.debug: events printed, not sent:\n${body}`);
      return;
    }
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        keepalive: true, // the request may outlive the page
        headers: eventHeaders(this.clusterUuid, this.version),
        body,
      });
      if (response.ok) this.sent += events.length;
    } catch {
      // Kibana's browser shipper does not retry either: the batch is lost.
    }
  }

  shutdown() {
    window.clearInterval(this.timer);
    return this.flush();
  }
}

export class AnalyticsClient {
  constructor() {
    this.context = {};
    this.eventTypes = new Set();
    this.shippers = [];
    this.isOptedIn = undefined;
  }

  registerEventType(eventType) {
    this.eventTypes.add(eventType);
  }

  registerContextProvider(values) {
    this.context = { ...this.context, ...values };
    for (const shipper of this.shippers) shipper.extendContext(this.context);
  }

  registerShipper(shipper) {
    this.shippers.push(shipper);
    shipper.extendContext(this.context);
    if (this.isOptedIn !== undefined) shipper.optIn(this.isOptedIn);
  }

  optIn(isOptedIn) {
    this.isOptedIn = isOptedIn === true;
    for (const shipper of this.shippers) shipper.optIn(this.isOptedIn);
  }

  reportEvent(eventType, properties) {
    if (this.isOptedIn !== true || !this.eventTypes.has(eventType)) return;
    const event = {
      timestamp: new Date().toISOString(),
      event_type: eventType,
      context: this.context,
      properties,
    };
    for (const shipper of this.shippers) shipper.reportEvents([event]);
  }

  flush() {
    return Promise.all(this.shippers.map((shipper) => shipper.flush()));
  }
}

function sessionId() {
  try {
    let id = sessionStorage.getItem(SESSION_KEY);
    if (!id) {
      id = crypto.randomUUID();
      sessionStorage.setItem(SESSION_KEY, id);
    }
    return id;
  } catch {
    return undefined;
  }
}

/** The page's name: its path, e.g. `/` or `/app/telemetry`. */
function pageName() {
  return window.location.pathname;
}

function loadTimings() {
  const [entry] = performance.getEntriesByType('navigation');
  if (!entry) return null;
  return {
    page_name: pageName(),
    duration_ms: Math.round(entry.loadEventEnd - entry.startTime),
    dom_content_loaded_ms: Math.round(entry.domContentLoadedEventEnd - entry.startTime),
    response_ms: Math.round(entry.responseEnd - entry.startTime),
    transfer_bytes: entry.transferSize || 0,
  };
}

function whenLoaded() {
  if (document.readyState === 'complete') return Promise.resolve();
  return new Promise((resolve) => window.addEventListener('load', resolve, { once: true }));
}

/** Whether the deployment is opted in, as the server says; anything else is `false`. */
async function readConsent() {
  if (!hasCredentials()) return { optIn: false, labels: {} };
  try {
    const config = await api('GET', '/internal/telemetry/config');
    return { optIn: config.optIn === true, labels: config.labels || {} };
  } catch {
    return { optIn: false, labels: {} };
  }
}

export const analytics = new AnalyticsClient();
// Kibana exposes the same for tests that must not lose the last buffer.
window.__telemetryAnalytics = analytics;

async function init() {
  for (const type of ['page_view', 'page_load']) analytics.registerEventType(type);
  analytics.registerContextProvider({
    version: pageConfig.version,
    session_id: sessionId(),
    preferred_language: navigator.language,
    viewport_width: window.innerWidth,
    viewport_height: window.innerHeight,
  });
  if (pageConfig.eventsUrl && pageConfig.endpointConfigured) {
    analytics.registerShipper(
      new ElasticV3BrowserShipper({
        url: pageConfig.eventsUrl,
        version: pageConfig.version,
        debug: pageConfig.debug === true,
      }),
    );
  }
  const consent = await readConsent();
  analytics.registerContextProvider({ labels: consent.labels });
  analytics.optIn(consent.optIn);
  document.documentElement.dataset.telemetryEvents = consent.optIn ? 'opted-in' : 'opted-out';
  analytics.reportEvent('page_view', { page_name: pageName(), referrer_same_origin: sameOrigin() });
  await whenLoaded();
  window.setTimeout(() => {
    const timings = loadTimings();
    if (timings) analytics.reportEvent('page_load', timings);
  }, 0);
}

function sameOrigin() {
  try {
    return document.referrer !== '' && new URL(document.referrer).origin === location.origin;
  } catch {
    return false;
  }
}

init();
