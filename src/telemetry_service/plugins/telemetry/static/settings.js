// The settings page: the "Share usage" toggle (spec 9.3, 9.4), the reporting facts, the send
// history and the example payload.

import {
  ApiError,
  api,
  formatTime,
  hasCredentials,
  markReady,
  pageConfig,
  showPrincipal,
  toast,
} from './telemetry.js';
import { postToChannel } from './sender.js';

const $ = (id) => document.getElementById(id);
const toggle = $('share-usage');
let current = null; // the last status answer

function lockExplanation(consent) {
  const [kind, variable] = consent.source.split(':');
  if (kind === 'environment') {
    return (
      `This setting is locked: the server's environment sets ${variable}, which turns usage ` +
      'collection off. Remove it from the environment and restart the server to choose here.'
    );
  }
  if (consent.source === 'config:telemetry.enabled') {
    return 'This setting is locked: telemetry.enabled is false in the server\u2019s config.';
  }
  return `This setting is locked: ${consent.reason}.`;
}

function renderToggle(status) {
  const { consent, principal } = status;
  toggle.checked = consent.optIn === true;
  const state = $('share-usage-state');
  state.textContent = { true: 'On', false: 'Off', null: 'Not decided' }[String(consent.optIn)];
  state.dataset.state = String(consent.optIn);
  const locked = $('share-usage-locked');
  if (consent.locked) {
    locked.textContent = lockExplanation(consent);
    locked.hidden = false;
  } else if (principal.role !== 'admin') {
    locked.textContent = 'Only administrators can change this setting.';
    locked.hidden = false;
  } else {
    locked.hidden = true;
  }
  toggle.disabled = consent.locked || principal.role !== 'admin';
}

function renderFacts(status) {
  $('fact-source').textContent = `${status.consent.reason} (${status.consent.source})`;
  $('fact-send-from').textContent =
    status.sendUsageFrom === 'browser' ? 'the browser (these pages)' : 'the server';
  $('fact-endpoint').textContent = status.endpointConfigured
    ? status.endpoint
    : `${status.endpoint} (a placeholder: nothing is sent until telemetry.endpoints is set)`;
  $('fact-last-reported').textContent = formatTime(status.lastReported);
  const { count, version } = status.failures;
  $('fact-failures').textContent = count ? `${count} (on version ${version})` : 'none';
  $('history-browser-note').hidden = status.sendUsageFrom !== 'browser';
}

function renderHistory(history) {
  const rows = $('history-rows');
  rows.replaceChildren(
    ...history.map((entry) => {
      const row = document.createElement('tr');
      const cells = [
        formatTime(entry.timestamp),
        entry.channel,
        entry.status,
        String(entry.size),
        entry.payload_sha256.replace(/^sha256:/, '').slice(0, 16) + '\u2026',
      ];
      cells.forEach((text, index) => {
        const cell = document.createElement('td');
        cell.textContent = text;
        if (index === 3) cell.className = 'num';
        if (index === 4) {
          cell.className = 'mono';
          cell.title = entry.payload_sha256;
        }
        row.append(cell);
      });
      return row;
    }),
  );
  $('history-table').hidden = history.length === 0;
  $('history-empty').hidden = history.length !== 0;
}

async function refresh() {
  current = await api('GET', '/internal/telemetry/status');
  showPrincipal(current.principal);
  renderToggle(current);
  renderFacts(current);
  renderHistory(current.history);
}

/** Kibana's setOptIn: store the choice, then (only when the browser reports) post the
 * returned encrypted opt-in stats to the opt-in channel; those errors are swallowed. */
async function setOptIn(enabled) {
  const clusters = await api('POST', '/internal/telemetry/optIn', { enabled });
  const config = await api('GET', '/internal/telemetry/config');
  if (config.sendUsageFrom === 'browser' && pageConfig.endpointConfigured) {
    await Promise.all(
      (clusters || []).map(({ clusterUuid, stats }) =>
        postToChannel(pageConfig.optInStatusUrl, clusterUuid, stats).catch(() => {}),
      ),
    );
  }
}

async function onToggle() {
  const enabled = toggle.checked;
  toggle.disabled = true;
  try {
    await setOptIn(enabled);
    toast(
      enabled
        ? `Sharing usage with the ${pageConfig.name} team is enabled.`
        : `No longer sharing usage with the ${pageConfig.name} team.`,
    );
  } catch (error) {
    toast(
      `An error occurred while trying to set the usage statistics preference: ${error.message}`,
      'danger',
    );
  }
  try {
    await refresh();
  } catch (error) {
    showLoadError(error);
  }
}

// -- the example payload ----------------------------------------------------------------------
let exampleText = '';

async function loadExample() {
  const error = $('example-error');
  const pre = $('example-json');
  error.hidden = true;
  $('example-load').disabled = true;
  try {
    const clusters = await api('POST', '/internal/telemetry/clusters/_stats', {
      unencrypted: true,
      refreshCache: true,
    });
    const payloads = (clusters || []).map(({ stats }) => stats);
    exampleText = JSON.stringify(payloads.length === 1 ? payloads[0] : payloads, null, 2);
    pre.textContent = exampleText;
    pre.hidden = false;
    $('example-copy').hidden = false;
    $('example-download').hidden = false;
  } catch (err) {
    pre.hidden = true;
    $('example-copy').hidden = true;
    $('example-download').hidden = true;
    error.textContent =
      err instanceof ApiError && err.status === 403
        ? err.message
        : `Error loading the example: ${err.message}`;
    error.hidden = false;
  } finally {
    $('example-load').disabled = false;
  }
}

async function copyExample() {
  try {
    await navigator.clipboard.writeText(exampleText);
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('example-json'));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand('copy');
  }
  toast('Copied the example to the clipboard.');
}

function downloadExample() {
  const blob = new Blob([exampleText + '\n'], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = 'telemetry-example.json';
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// -- start ------------------------------------------------------------------------------------
function showLoadError(error) {
  const box = $('load-error');
  if (error === null) {
    box.textContent = 'This server needs an API key: enter one above.';
  } else if (error instanceof ApiError && error.status === 401) {
    box.textContent = 'That API key is not valid: enter another one above.';
  } else {
    box.textContent = `Could not read the usage collection state: ${error.message}`;
  }
  box.hidden = false;
}

async function init() {
  toggle.addEventListener('change', onToggle);
  $('example-load').addEventListener('click', loadExample);
  $('example-copy').addEventListener('click', copyExample);
  $('example-download').addEventListener('click', downloadExample);
  window.addEventListener('telemetry:sender', (event) => {
    if (event.detail === 'sent') refresh().catch(() => {});
  });
  if (!hasCredentials()) {
    showLoadError(null);
    markReady();
    return;
  }
  try {
    await refresh();
  } catch (error) {
    showLoadError(error);
  }
  if (window.location.hash === '#example') await loadExample();
  markReady();
}

init();
