// The browser sender (Kibana's TelemetrySender, spec 9.5), for `telemetry.sendUsageFrom: browser`.
//
// Every 60 s, on every window focus and once when the page loads, it sends the encrypted snapshot
// if a report is due: the window has focus, the local and the server's `lastReported` are both
// older than 24 h - 2 min, and the effective config says opted in and sendUsageFrom browser.
// Sending: POST /internal/telemetry/clusters/_stats, POST each encrypted string to the snapshot
// channel, then PUT /internal/telemetry/last_reported. A failure is retried after
// 60 s * min(2^n, 64), up to 20 tries.

import { api, hasCredentials, pageConfig } from './telemetry.js';

const LOCAL_STORAGE_KEY = 'telemetry.data';
const REPORT_INTERVAL_MS = 24 * 60 * 60 * 1000;
const REPORT_INTERVAL_BUFFER_MS = 2 * 60 * 1000;
const CHECK_INTERVAL_MS = 60 * 1000;
const RETRY_BASE_MS = 60 * 1000;
const MAX_RETRIES = 20;

export function isReportIntervalExpired(lastReport, now = Date.now()) {
  return (
    !Number.isFinite(lastReport) || now - lastReport > REPORT_INTERVAL_MS - REPORT_INTERVAL_BUFFER_MS
  );
}

/** The four report headers (spec 3.4). */
export function reportHeaders(clusterUuid) {
  return {
    'Content-Type': 'application/json',
    'X-Elastic-Stack-Version': pageConfig.version,
    'X-Elastic-Cluster-ID': clusterUuid,
    'X-Elastic-Content-Encoding': 'aes256gcm',
  };
}

/** POSTs one encrypted report to a channel URL; throws unless the answer is a 2xx. */
export async function postToChannel(url, clusterUuid, encrypted) {
  const response = await fetch(url, {
    method: 'POST',
    mode: 'cors',
    credentials: 'omit',
    headers: reportHeaders(clusterUuid),
    body: encrypted,
  });
  if (!response.ok) throw new Error(`the telemetry endpoint answered ${response.status}`);
}

function readLocalLastReport() {
  try {
    const stored = JSON.parse(localStorage.getItem(LOCAL_STORAGE_KEY) || '{}');
    return stored && stored.lastReport !== undefined ? Number(stored.lastReport) : NaN;
  } catch {
    return NaN;
  }
}

function writeLocalLastReport(ms) {
  try {
    localStorage.setItem(LOCAL_STORAGE_KEY, JSON.stringify({ lastReport: String(ms) }));
  } catch {
    // storage full or disabled: the server's value still guards against double reports
  }
}

/** The sender's state, on <html data-telemetry-sender> and as a `telemetry:sender` event. */
function setState(state) {
  document.documentElement.dataset.telemetrySender = state;
  window.dispatchEvent(new CustomEvent('telemetry:sender', { detail: state }));
}

class TelemetrySender {
  constructor() {
    this.retryCount = 0;
    this.checking = false;
    this.checks = 0;
    this.started = false;
  }

  start() {
    if (this.started) return;
    this.started = true;
    setState('idle');
    window.setInterval(() => this.sendIfDue(), CHECK_INTERVAL_MS);
    window.addEventListener('focus', () => this.sendIfDue());
    // Each page load starts a new sender: check now rather than one interval later.
    this.sendIfDue();
  }

  async canSendTelemetry() {
    const config = await api('GET', '/internal/telemetry/config');
    return config.optIn === true && config.sendUsageFrom === 'browser';
  }

  async shouldSendReport() {
    if (!document.hasFocus()) return false;
    if (!isReportIntervalExpired(readLocalLastReport())) return false;
    const { lastReported } = await api('GET', '/internal/telemetry/last_reported');
    if (Number.isFinite(lastReported)) writeLocalLastReport(lastReported);
    if (!isReportIntervalExpired(lastReported)) return false;
    return this.canSendTelemetry();
  }

  /** Like rxjs's exhaustMap: a trigger while a check is running is dropped. */
  async sendIfDue() {
    if (this.checking) return;
    this.checking = true;
    try {
      if (!(await this.shouldSendReport())) return;
      // Optimistic: no other trigger sends in this interval, retries go through setTimeout.
      writeLocalLastReport(Date.now());
      this.retryCount = 0;
      await this.sendUsageData();
    } catch {
      // The checks failed (server unreachable, key revoked): try again at the next trigger.
    } finally {
      this.checking = false;
      this.checks += 1;
      document.documentElement.dataset.telemetryChecks = String(this.checks);
    }
  }

  async sendUsageData() {
    setState('sending');
    try {
      const clusters = await api('POST', '/internal/telemetry/clusters/_stats', {
        unencrypted: false,
        refreshCache: false,
      });
      if (!Array.isArray(clusters) || clusters.length === 0) {
        throw new Error('the server returned no telemetry to send');
      }
      await Promise.all(
        clusters.map(({ clusterUuid, stats }) =>
          postToChannel(pageConfig.snapshotUrl, clusterUuid, stats),
        ),
      );
      await api('PUT', '/internal/telemetry/last_reported').catch(() => {});
      this.retryCount = 0;
      setState('sent');
    } catch (error) {
      this.retryCount += 1;
      if (this.retryCount < MAX_RETRIES) {
        setState('retrying');
        const delay = RETRY_BASE_MS * Math.min(2 ** this.retryCount, 64);
        window.setTimeout(() => this.sendUsageData(), delay);
      } else {
        setState('failed');
        console.warn(`telemetry: giving up after ${MAX_RETRIES} attempts: ${error.message}`);
      }
    }
  }
}

export const sender = new TelemetrySender();

// Only where a report may leave from the browser: a configured endpoint and a user who can
// read the (encrypted) stats. Whether the deployment is opted in and sends from the browser
// is asked again at every check.
if (pageConfig.endpointConfigured && hasCredentials()) {
  sender.start();
}
