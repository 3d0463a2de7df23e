// The home page: the opt-in notice banner (spec 9.2) and a one-line telemetry summary.

import {
  ApiError,
  api,
  hasCredentials,
  markReady,
  pageConfig,
  showPrincipal,
  toast,
} from './telemetry.js';
import './sender.js'; // the browser sender runs on every page

/**
 * Kibana's getUserShouldSeeOptInNotice: the banner is on, the privacy statement is not hidden,
 * the user can change settings (an administrator), and either the user should be told that
 * usage collection is on by default or the choice must be asked again (optIn null).
 */
export function userShouldSeeNotice(config, principal) {
  return (
    pageConfig.banner &&
    !pageConfig.hidePrivacyStatement &&
    principal.role === 'admin' &&
    (config.telemetryNotifyUserAboutOptInDefault === true || config.optIn === null)
  );
}

function markNoticeSeen() {
  return api('PUT', '/internal/telemetry/userHasSeenNotice');
}

function showBanner(config, principal) {
  const banner = document.getElementById('notice-banner');
  const enabled = config.optIn === true;
  document.getElementById('notice-status').textContent = enabled
    ? 'Usage collection is enabled.'
    : 'Usage collection is disabled.';
  if (principal.role === 'admin' && config.allowChangingOptInStatus) {
    const link = document.getElementById('notice-change');
    link.textContent = enabled ? 'Disable usage collection.' : 'Enable usage collection.';
    link.addEventListener('click', (event) => {
      // Clicking counts as seeing the notice; wait for it so that the banner stays away.
      event.preventDefault();
      markNoticeSeen()
        .catch(() => {})
        .finally(() => {
          window.location.href = link.href;
        });
    });
    document.getElementById('notice-change-line').hidden = false;
  }
  document.getElementById('notice-dismiss').addEventListener('click', async () => {
    banner.hidden = true;
    try {
      await markNoticeSeen();
    } catch (error) {
      banner.hidden = false;
      document.getElementById('notice-dismiss').focus();
      toast(`Could not save that you have seen the notice: ${error.message}`, 'danger');
    }
  });
  banner.hidden = false;
}

function summary(status) {
  const consent = status.consent;
  const state = { true: 'on', false: 'off', null: 'not decided yet' }[String(consent.optIn)];
  const locked = consent.locked ? ' (locked)' : '';
  const from = status.sendUsageFrom === 'browser' ? 'from the browser' : 'from the server';
  return `Usage collection is ${state}${locked}; reports are sent ${from}.`;
}

async function init() {
  const line = document.getElementById('home-telemetry-summary');
  if (!hasCredentials()) {
    line.textContent = 'Enter an API key to see the usage collection state.';
    markReady();
    return;
  }
  try {
    const [config, status] = await Promise.all([
      api('GET', '/internal/telemetry/config'),
      api('GET', '/internal/telemetry/status'),
    ]);
    showPrincipal(status.principal);
    line.textContent = summary(status);
    if (userShouldSeeNotice(config, status.principal)) showBanner(config, status.principal);
  } catch (error) {
    line.textContent =
      error instanceof ApiError && error.status === 401
        ? 'That API key is not valid: enter another one.'
        : `Could not read the usage collection state: ${error.message}`;
  }
  markReady();
}

init();
