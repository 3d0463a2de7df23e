// The sign-in page of a one-time link (`/signin#token=…`): the token leaves the address bar at
// once, is spent with POST /api/signin, and the session credential it buys goes where a typed
// API key would (the tab's sessionStorage); then the page the link names opens.

import { $, ApiError, markReady, rememberApiKey, requestJson } from '../common/base.js';

/** A path of this receiver (never another origin). */
function localPath(next) {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/';
}

function fail(message) {
  $('signin-status').hidden = true;
  $('signin-error').textContent = message;
  $('signin-failed').hidden = false;
  document.title = 'Sign-in link refused · Telemetry receiver';
  markReady();
}

async function signIn() {
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  window.history.replaceState(null, '', window.location.pathname); // the token leaves the URL
  if (!token) {
    fail('This address holds no sign-in token.');
    return;
  }
  try {
    const answer = await requestJson('POST', '/api/signin', {
      body: { token },
      headers: { 'kbn-xsrf': 'true' },
    });
    rememberApiKey(answer.credential);
    window.location.replace(localPath(answer.next));
  } catch (error) {
    fail(
      error instanceof ApiError && error.status === 410
        ? 'This sign-in link was already used or has expired.'
        : `Could not sign in: ${error.message}`,
    );
  }
}

signIn();
