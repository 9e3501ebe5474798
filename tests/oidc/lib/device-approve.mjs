// device-approve <verification_uri> <user_code> [approve|deny]
// Plays the End-User on oidc-provider's device flow pages: user code form -> confirm page ->
// devInteractions login -> consent -> "Sign-in Success". deny = the confirm page's [ Abort ]
// button (the pending device code then yields access_denied at the token endpoint).
// `<user_code>` may be omitted (or empty) when verification_uri_complete is given.
import {
  Browser, handleInteractionPage, parseForms, pageSummary, die,
} from './browser.mjs';

const PROG = 'device-approve';
const [uriArg, userCodeArg, actionArg = 'approve'] = process.argv.slice(2);
const user = process.env.FAKEBROWSER_USER || 'alice';
const action = actionArg.toLowerCase();
const verbose = !!process.env.DEVICE_APPROVE_VERBOSE;

if (!uriArg || !['approve', 'deny'].includes(action) || process.argv.length > 5) {
  die(PROG, 'usage: device-approve <verification_uri> <user_code> [approve|deny]', 2);
}

const browser = new Browser();

async function main() {
  const start = new URL(uriArg);
  let res = await browser.request('GET', start);
  let typedCode = false;
  for (let hops = 0; hops < 40; hops += 1) {
    if (res.status >= 300 && res.status < 400) {
      if (!res.location) throw new Error(`${res.status} without Location from ${res.url.href}`);
      res = await browser.request('GET', res.location);
      continue;
    }
    const summary = pageSummary(res.body);
    if (/Sign-in Success/.test(summary)) {
      if (action === 'deny') throw new Error('device flow succeeded although deny was requested');
      return 0;
    }
    if (/The Sign-in request was interrupted/.test(summary)) {
      if (action === 'deny') return 0;
      throw new Error(`device flow aborted: ${summary}`);
    }
    if (/The code you entered is incorrect/.test(summary) && typedCode) {
      throw new Error(`user code rejected: ${summary}`);
    }
    const forms = parseForms(res.body);
    const input = forms.find((f) => f.id === 'op.deviceInputForm');
    const confirm = forms.find((f) => f.id === 'op.deviceConfirmForm');
    if (input) {
      if (typedCode || !userCodeArg) throw new Error(`user code form shown again: ${summary}`);
      typedCode = true;
      res = await browser.submit(res.url, input, { user_code: userCodeArg });
      continue;
    }
    if (confirm) {
      if (action === 'deny') {
        const abort = confirm.buttons.find((b) => b.name === 'abort');
        if (!abort) throw new Error('no abort button on the device confirm page');
        res = await browser.submit(res.url, confirm, { abort: abort.value ?? '' });
      } else {
        res = await browser.submit(res.url, confirm);
      }
      continue;
    }
    if (res.status === 200) {
      // devInteractions login/consent (deny is done on the confirm page, so always approve here)
      const next = await handleInteractionPage(browser, res, { user, action: 'approve' });
      if (next) { res = next; continue; }
      // verification_uri_complete renders an auto-submitting form_post page
      const auto = forms.length === 1 && forms[0].method === 'post' && forms[0].get('xsrf') !== undefined ? forms[0] : null;
      if (auto) { typedCode = true; res = await browser.submit(res.url, auto); continue; }
    }
    throw new Error(`unexpected ${res.status} at ${res.url.href}: ${summary}`);
  }
  throw new Error('too many redirects / pages');
}

main().then((code) => {
  if (verbose) process.stderr.write(`${JSON.stringify(browser.events)}\n`);
  process.exit(code);
}, (err) => {
  if (verbose) process.stderr.write(`${JSON.stringify(browser.events)}\n`);
  die(PROG, err.message || String(err));
});
