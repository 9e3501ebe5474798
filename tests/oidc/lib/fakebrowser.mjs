// fakebrowser <authorization-URL>
// Plays the End-User for tokcli's authorization-code flow against tests/oidc/server.mjs.
// See README.md for the FAKEBROWSER_* knobs.
import * as fs from 'node:fs';

import {
  Browser, handleInteractionPage, pageSummary, die,
} from './browser.mjs';

const PROG = 'fakebrowser';
const env = process.env;
const user = env.FAKEBROWSER_USER || 'alice';
const action = (env.FAKEBROWSER_ACTION || 'approve').toLowerCase();
const tamper = (env.FAKEBROWSER_TAMPER || 'none').toLowerCase();
const never = !!env.FAKEBROWSER_NEVER && env.FAKEBROWSER_NEVER !== '0';
const printRedirect = !!env.FAKEBROWSER_PRINT_REDIRECT && env.FAKEBROWSER_PRINT_REDIRECT !== '0';
const logFile = env.FAKEBROWSER_LOG;

const browser = new Browser();
const record = {
  argv: process.argv.slice(2),
  env: { ...process.env },
  events: browser.events,
};
let logged = false;
function writeLog(extra = {}) {
  if (logged || !logFile) return;
  logged = true;
  try {
    fs.appendFileSync(logFile, `${JSON.stringify({ ...record, ...extra })}\n`);
  } catch (err) {
    process.stderr.write(`${PROG}: cannot write FAKEBROWSER_LOG ${logFile}: ${err.message}\n`);
  }
}
process.on('exit', (code) => writeLog({ exit: code }));

function fail(msg, code = 1) {
  browser.events.push({ kind: 'error', message: msg });
  die(PROG, msg, code);
}

if (!['approve', 'deny'].includes(action)) fail(`FAKEBROWSER_ACTION must be approve|deny, got ${action}`, 2);
if (!['state', 'iss', 'none'].includes(tamper)) fail(`FAKEBROWSER_TAMPER must be state|iss|none, got ${tamper}`, 2);
if (process.argv.length !== 3) fail(`expected exactly one argument (the authorization URL), got ${process.argv.length - 2}`, 2);

let startUrl;
try {
  startUrl = new URL(process.argv[2]);
} catch {
  fail(`not a URL: ${process.argv[2]}`, 2);
}

if (never) {
  writeLog({ never: true });
  // Detach from whatever pipes tokcli (or the test) handed us so nobody waits on our stdio.
  for (const fd of [0, 1, 2]) { try { fs.closeSync(fd); } catch { /* ignore */ } }
  const secs = Number(env.FAKEBROWSER_NEVER_SECONDS || 600);
  setTimeout(() => process.exit(0), secs * 1000);
} else {
  main().then((code) => process.exit(code), (err) => fail(err.message || String(err)));
}

async function main() {
  const asOrigin = startUrl.origin;
  let res = await browser.request('GET', startUrl);
  let redirect = null;
  for (let hops = 0; hops < 40; hops += 1) {
    if (res.status >= 300 && res.status < 400) {
      if (!res.location) fail(`${res.status} without Location from ${res.url.href}`);
      if (res.location.origin !== asOrigin) { redirect = res.location; break; }
      res = await browser.request('GET', res.location);
      continue;
    }
    if (res.status === 200) {
      const next = await handleInteractionPage(browser, res, { user, action });
      if (next) { res = next; continue; }
    }
    fail(`unexpected ${res.status} at ${res.url.href}: ${pageSummary(res.body)}`);
  }
  if (!redirect) fail('too many redirects / pages');

  const cb = new URL(redirect.href);
  browser.events.push({ kind: 'redirect', url: redirect.href });
  if (tamper === 'state') cb.searchParams.set('state', `tampered-${cb.searchParams.get('state') || 'state'}`);
  if (tamper === 'iss') cb.searchParams.set('iss', 'http://127.0.0.1:1/tampered-issuer');
  if (tamper !== 'none') browser.events.push({ kind: 'tampered', param: tamper, url: cb.href });

  if (printRedirect) {
    process.stdout.write(`${cb.href}\n`);
    return 0;
  }

  const cbRes = await browser.request('GET', cb, { kind: 'callback', recordHeaders: true });
  if (cbRes.status >= 300 && cbRes.status < 400 && cbRes.location) {
    const done = cbRes.location;
    if (done.hostname === cb.hostname && done.port === cb.port) {
      await browser.request('GET', done, { kind: 'done', recordHeaders: true });
    } else {
      browser.events.push({ kind: 'not-followed', url: done.href, reason: 'different host' });
    }
  }
  return 0;
}
