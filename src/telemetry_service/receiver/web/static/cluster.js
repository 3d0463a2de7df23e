// One cluster: its facts, its report history in the range, its latest payload, and for
// administrators only, the deletion request.

import {
  $,
  ApiError,
  api,
  badge,
  cell,
  currentRange,
  formatNumber,
  formatTime,
  optInBadge,
  pageConfig,
  runPage,
  saveFile,
  toast,
} from './dashboard.js';
import { drawRecent, showRecentError } from './eventlist.js';

const uuid = pageConfig.clusterUuid;
const base = `/api/clusters/${encodeURIComponent(uuid)}`;
const range = currentRange();
const HISTORY_LIMIT = 1000;
const EVENTS_LIMIT = 50;
let latestText = '';

async function orNull(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function drawFacts(cluster) {
  $('cluster-title').textContent = cluster.cluster_name || cluster.cluster_uuid;
  document.title = `${cluster.cluster_name || cluster.cluster_uuid} · Telemetry receiver`;
  $('fact-name').textContent = cluster.cluster_name ?? '–';
  $('fact-uuid').textContent = cluster.cluster_uuid;
  $('fact-version').textContent = cluster.version ?? '–';
  $('fact-last-report').textContent = formatTime(cluster.last_report_at);
  $('fact-first-seen').textContent = formatTime(cluster.first_seen);
  const optIn = $('fact-opt-in');
  optIn.replaceChildren(optInBadge(cluster.opt_in_status));
  if (cluster.opt_in_changed_at) {
    optIn.append(` since ${formatTime(cluster.opt_in_changed_at)}`);
  }
}

function drawHistory(reports) {
  const count = formatNumber(reports.length);
  $('history-count').textContent = `(${count} in ${range.from} → ${range.to})`;
  $('history-empty').hidden = reports.length > 0;
  $('history-truncated').hidden = reports.length < HISTORY_LIMIT;
  $('history-rows').replaceChildren(
    ...reports.map((report) => {
      const row = document.createElement('tr');
      const kind =
        report.kind === 'snapshot'
          ? badge('snapshot', { kind: 'snapshot' })
          : optInBadge(report.opt_in_status);
      row.append(
        cell(formatTime(report.timestamp)),
        cell(kind),
        cell(report.version ?? report.stack_version ?? '–'),
        cell(formatTime(report.received_at)),
        cell(report.id, 'mono small'),
      );
      return row;
    }),
  );
}

function drawPayload(latest) {
  const pre = $('payload-json');
  if (!latest) {
    $('payload-empty').hidden = false;
    pre.hidden = true;
    $('payload-copy').disabled = true;
    $('payload-download').disabled = true;
    return;
  }
  latestText = JSON.stringify(latest.payload, null, 2);
  pre.textContent = latestText;
  $('payload-note').textContent =
    `Snapshot of ${formatTime(latest.timestamp)}, version ${latest.version}, ` +
    `${formatNumber(new Blob([JSON.stringify(latest.payload)]).size)} bytes.`;
}

function initDanger(session) {
  if (session.role !== 'admin') return; // viewers never see the deletion request
  $('danger-zone').hidden = false;
  const dialog = $('delete-dialog');
  $('delete-dialog-uuid').textContent = uuid;
  $('delete-open').addEventListener('click', () => dialog.showModal());
  $('delete-cancel').addEventListener('click', () => dialog.close());
  $('delete-confirm').addEventListener('click', async () => {
    const button = $('delete-confirm');
    button.disabled = true;
    try {
      const result = await api(base, {}, 'DELETE');
      dialog.close();
      $('cluster-body').hidden = true;
      const gone = $('cluster-missing');
      gone.textContent =
        `Deleted: ${formatNumber(result.deleted_reports)} reports of this cluster were removed. ` +
        'It will reappear if it reports again.';
      gone.hidden = false;
      toast(`Cluster deleted (${formatNumber(result.deleted_reports)} reports).`);
    } catch (error) {
      dialog.close();
      toast(`Deletion failed: ${error.message}`, 'danger');
    } finally {
      button.disabled = false;
    }
  });
}

$('payload-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(latestText);
    toast('Payload copied.');
  } catch {
    toast('The browser did not allow copying.', 'danger');
  }
});
$('payload-download').addEventListener('click', () => {
  saveFile(latestText + '\n', `${uuid}-latest.json`, 'application/json');
});
$('download-history').addEventListener('click', async () => {
  try {
    const reports = await api(`${base}/reports`, {
      from: range.from,
      to: range.to,
      limit: HISTORY_LIMIT,
      payload: true,
    });
    const lines = reports.map((report) => JSON.stringify(report)).join('\n');
    saveFile(lines + '\n', `${uuid}-${range.from}-${range.to}.ndjson`, 'application/x-ndjson');
  } catch (error) {
    toast(`Download failed: ${error.message}`, 'danger');
  }
});

/** The cluster's latest events; a failure stays in their section. */
async function loadEvents() {
  try {
    return await api('/api/events', { cluster_uuid: uuid, limit: EVENTS_LIMIT });
  } catch (error) {
    return { error };
  }
}

runPage(async (session) => {
  const [cluster, reports, latest, events] = await Promise.all([
    orNull(api(base)),
    api(`${base}/reports`, {
      from: range.from,
      to: range.to,
      limit: HISTORY_LIMIT,
      payload: false,
    }),
    orNull(api(`${base}/latest`)),
    loadEvents(),
  ]);
  if (!cluster) {
    $('cluster-missing').hidden = false;
    return;
  }
  $('cluster-body').hidden = false;
  drawFacts(cluster);
  drawHistory(reports);
  drawPayload(latest);
  if (events.error) showRecentError(events.error);
  else drawRecent(events.events);
  initDanger(await session);
});
