// Event rows shared by the Events page and the cluster page: the latest events table and the
// small SVG trend of an event type. Every value is attacker-controlled (senders choose event
// types, properties and cluster ids): it reaches the page as text nodes and attributes only.

import { $, cell, formatTime, pageConfig, withParams } from './dashboard.js';

// The SVG namespace (written so that no script of these pages names another origin).
const SVG = ['http:', '', 'www.w3.org', '2000', 'svg'].join('/');

/** A link to a cluster's page (or its id as text when the sender did not know it). */
export function clusterCell(uuid) {
  if (!uuid || uuid === 'UNKNOWN') return cell(uuid || '–', 'mono small');
  const link = document.createElement('a');
  link.href = `${pageConfig.paths.clusters}/${encodeURIComponent(uuid)}`;
  link.className = 'mono small';
  link.textContent = uuid;
  return cell(link);
}

/** A link to the Events page of one event type. */
function typeCell(type) {
  const link = document.createElement('a');
  link.href = withParams(pageConfig.paths.events, { type });
  link.className = 'mono';
  link.textContent = type;
  return cell(link);
}

function jsonCell(value) {
  const code = document.createElement('code');
  code.className = 'event-json';
  code.textContent = JSON.stringify(value ?? {});
  return cell(code);
}

/** Fills the latest events table (`#recent-…`) with `events`, newest first. */
export function drawRecent(events) {
  $('recent-empty').hidden = events.length > 0;
  $('recent-count').textContent = `(${events.length})`;
  $('recent-rows').replaceChildren(
    ...events.map((event) => {
      const row = document.createElement('tr');
      row.append(
        cell(formatTime(event.timestamp)),
        typeCell(event.event_type),
        clusterCell(event.cluster_uuid),
        cell(event.channel),
        jsonCell({ properties: event.properties, context: event.context }),
      );
      return row;
    }),
  );
}

export function showRecentError(error) {
  const box = $('recent-error');
  box.textContent = `Could not load the events: ${error.message}`;
  box.hidden = false;
}

/** A small line of `values` (events per day, oldest first) as an SVG image. */
export function sparkline(values, label) {
  const width = 120;
  const height = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const top = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((value, index) => {
    const x = (index * step).toFixed(1);
    const y = (height - 2 - ((height - 4) * value) / top).toFixed(1);
    return `${x},${y}`;
  });
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#0b64dd');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  return svg;
}
