// The cluster list: search by id or name, filter by version and activity, page through.

import {
  $,
  api,
  cell,
  formatNumber,
  formatTime,
  optInBadge,
  pageConfig,
  runPage,
  saveCsv,
} from './dashboard.js';

const PAGE_SIZE = 25;
const params = new URLSearchParams(window.location.search);
const query = {
  q: params.get('q') || '',
  version: params.get('version') || '',
  active: Math.max(0, Math.min(3650, Number.parseInt(params.get('active') || '0', 10) || 0)),
  page: Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1),
};
let shown = [];

function clusterLink(cluster) {
  const link = document.createElement('a');
  link.href = `${pageConfig.paths.clusters}/${encodeURIComponent(cluster.cluster_uuid)}`;
  link.textContent = cluster.cluster_name || cluster.cluster_uuid;
  const wrap = document.createElement('div');
  wrap.append(link);
  const sub = document.createElement('span');
  sub.className = 'sub mono';
  sub.textContent = cluster.cluster_uuid;
  wrap.append(sub);
  return wrap;
}

function draw(page) {
  shown = page.clusters;
  const first = (query.page - 1) * PAGE_SIZE;
  $('list-count').textContent = `(${formatNumber(page.total)})`;
  $('list-empty').hidden = page.total !== 0;
  $('clusters-rows').replaceChildren(
    ...page.clusters.map((cluster) => {
      const row = document.createElement('tr');
      row.append(
        cell(clusterLink(cluster)),
        cell(cluster.version ?? '–'),
        cell(formatTime(cluster.last_report_at)),
        cell(formatTime(cluster.first_seen)),
        cell(optInBadge(cluster.opt_in_status)),
      );
      return row;
    }),
  );
  const last = Math.min(first + page.clusters.length, page.total);
  $('page-info').textContent = page.total
    ? `${formatNumber(first + 1)}–${formatNumber(last)} of ${formatNumber(page.total)}`
    : '';
  $('page-prev').disabled = query.page <= 1;
  $('page-next').disabled = last >= page.total;
}

function go(changes) {
  const next = new URLSearchParams();
  const merged = { ...query, ...changes };
  if (merged.q) next.set('q', merged.q);
  if (merged.version) next.set('version', merged.version);
  if (merged.active) next.set('active', String(merged.active));
  if (merged.page > 1) next.set('page', String(merged.page));
  window.location.search = next.toString();
}

$('search-q').value = query.q;
$('search-version').value = query.version;
const activeWindow = query.active || 30;
$('search-active').checked = query.active > 0;
$('search-active-label').textContent = `Active in the last ${activeWindow} days`;
$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  go({
    q: $('search-q').value.trim(),
    version: $('search-version').value.trim(),
    active: $('search-active').checked ? activeWindow : 0,
    page: 1,
  });
});
$('page-prev').addEventListener('click', () => go({ page: query.page - 1 }));
$('page-next').addEventListener('click', () => go({ page: query.page + 1 }));
$('download-clusters').addEventListener('click', () => {
  saveCsv(
    `clusters-page-${query.page}.csv`,
    [
      'cluster_uuid',
      'cluster_name',
      'version',
      'last_report_at',
      'first_seen',
      'last_seen',
      'opt_in_status',
    ],
    shown.map((c) => [
      c.cluster_uuid,
      c.cluster_name,
      c.version,
      c.last_report_at,
      c.first_seen,
      c.last_seen,
      c.opt_in_status,
    ]),
  );
});

runPage(async () => {
  const page = await api('/api/search/clusters', {
    q: query.q,
    version: query.version,
    active_days: query.active || null,
    limit: PAGE_SIZE,
    offset: (query.page - 1) * PAGE_SIZE,
  });
  draw(page);
});
