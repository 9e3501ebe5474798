// Self-test of the harness: plays tokcli's role (public PKCE client etc.) against server.mjs,
// driving the real fakebrowser / device-approve executables.
//   node lib/selftest.mjs <issuer> <issuer-started-with---no-rfc8414>
// Driven by ../selftest.sh. Ends with "N passed, N failed"; exit code 1 on any failure.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FAKEBROWSER = path.join(HERE, 'fakebrowser');
const DEVICE_APPROVE = path.join(HERE, 'device-approve');
const [ISSUER, ISSUER_NO8414] = process.argv.slice(2);
const AT_TTL = Number(process.env.AT_TTL || 3600);
const DEVICE_TTL = Number(process.env.DEVICE_TTL || 600);
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tokcli-oidc-selftest-'));

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    process.stdout.write(`ok   - ${name}\n`);
  } catch (err) {
    failed += 1;
    process.stdout.write(`FAIL - ${name}\n  ${String(err && err.stack ? err.stack : err).replace(/\n/g, '\n  ')}\n`);
  }
}

// expected counters, mirrored from every request this script makes
const expected = {
  token: {
    authorization_code: 0, refresh_token: 0, client_credentials: 0, [DEVICE_GRANT]: 0,
  },
  revocation: 0,
  device_authorization: 0,
  introspection: 0,
  token_errors: {},
};

const b64url = (buf) => buf.toString('base64url');
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function getJSON(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json().catch(() => null), headers: res.headers };
}

async function postForm(url, form, { auth } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth) headers.authorization = auth;
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}

let disco;
async function token(form, opts) {
  const res = await postForm(disco.token_endpoint, form, opts);
  expected.token[form.grant_type] = (expected.token[form.grant_type] || 0) + 1;
  if (res.status >= 400) {
    const e = res.body && res.body.error;
    expected.token_errors[e] = (expected.token_errors[e] || 0) + 1;
  }
  return res;
}
async function introspect(tok, hint) {
  expected.introspection += 1;
  const form = { token: tok };
  if (hint) form.token_type_hint = hint;
  return postForm(disco.introspection_endpoint, form, { auth: basic('tokcli-confidential', 'tokcli-confidential-secret') });
}
async function revoke(form, opts) {
  expected.revocation += 1;
  return postForm(disco.revocation_endpoint, form, opts);
}

// --- loopback redirect listener (behaves like tokcli: 303 to /done, /done 200) -----------------
function startLoopback() {
  const hits = [];
  let waiter = null;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    hits.push({ path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers });
    if (u.pathname === '/callback') {
      res.writeHead(303, { location: '/done', 'content-length': '0' });
      res.end();
      if (waiter) waiter(u);
    } else if (u.pathname === '/done') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('done\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      resolve({
        port,
        hits,
        redirectUri: `http://127.0.0.1:${port}/callback`,
        close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
      });
    });
  });
}

function run(cmd, args, env = {}, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} timed out; stderr: ${stderr}`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

function pkce() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

function authorizeUrl({
  clientId = 'tokcli-public', redirectUri, scope, state, challenge, extraParams = {},
}) {
  const u = new URL(disco.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extraParams,
  }).toString();
  return u.href;
}

// Full browser leg: returns { callback query, fakebrowser result, log record }.
async function browse({
  scope = 'openid offline_access', env = {}, clientId, extraParams,
} = {}) {
  const lb = await startLoopback();
  const state = b64url(crypto.randomBytes(12));
  const p = pkce();
  const logFile = path.join(TMP, `fb-${crypto.randomUUID()}.log`);
  const url = authorizeUrl({
    clientId, redirectUri: lb.redirectUri, scope, state, challenge: p.challenge, extraParams,
  });
  try {
    const r = await run(FAKEBROWSER, [url], { FAKEBROWSER_LOG: logFile, ...env });
    const log = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
    const cb = lb.hits.find((h) => h.path === '/callback');
    return {
      url, state, pkce: p, lb, run: r, log, cb: cb && cb.query, hits: lb.hits,
    };
  } finally {
    await lb.close();
  }
}

async function codeFlowTokens(scope = 'openid offline_access', env = {}) {
  const b = await browse({ scope, env });
  assert.equal(b.run.code, 0, b.run.stderr);
  assert.ok(b.cb && b.cb.code, `no code in callback: ${JSON.stringify(b.cb)}`);
  const t = await token({
    grant_type: 'authorization_code',
    code: b.cb.code,
    redirect_uri: b.lb.redirectUri,
    code_verifier: b.pkce.verifier,
    client_id: 'tokcli-public',
  });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body;
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// ---------------------------------------------------------------------------------------------
async function main() {
  await check('discovery document (openid-configuration)', async () => {
    const r = await getJSON(`${ISSUER}/.well-known/openid-configuration`);
    assert.equal(r.status, 200);
    disco = r.body;
    assert.equal(disco.issuer, ISSUER);
    assert.ok(!ISSUER.endsWith('/'));
    assert.equal(disco.authorization_response_iss_parameter_supported, true);
    for (const k of ['revocation_endpoint', 'device_authorization_endpoint', 'introspection_endpoint', 'token_endpoint', 'authorization_endpoint']) {
      assert.equal(typeof disco[k], 'string', k);
      assert.ok(disco[k].startsWith(`${ISSUER}/`), k);
    }
    assert.deepEqual(disco.code_challenge_methods_supported, ['S256']);
    for (const s of ['openid', 'offline_access', 'email', 'profile', 'api:read', 'api:write']) {
      assert.ok(disco.scopes_supported.includes(s), s);
    }
  });
  if (!disco) return;

  await check('RFC 8414 /.well-known/oauth-authorization-server equals openid-configuration', async () => {
    const r = await getJSON(`${ISSUER}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.deepEqual(r.body, disco);
  });

  await check('--no-rfc8414 server: oauth-authorization-server 404, openid-configuration 200', async () => {
    const r = await fetch(`${ISSUER_NO8414}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 404);
    await r.text();
    const o = await getJSON(`${ISSUER_NO8414}/.well-known/openid-configuration`);
    assert.equal(o.status, 200);
    assert.equal(o.body.issuer, ISSUER_NO8414);
  });

  await check('POST /__test/reset zeroes, GET /__test/stats shape', async () => {
    const r = await postForm(`${ISSUER}/__test/reset`, {});
    assert.equal(r.status, 200);
    const s = await getJSON(`${ISSUER}/__test/stats`);
    assert.equal(s.status, 200);
    assert.deepEqual(s.body.token, expected.token);
    assert.equal(s.body.revocation, 0);
    assert.equal(s.body.device_authorization, 0);
    assert.equal(s.body.introspection, 0);
    assert.deepEqual(s.body.token_errors, {});
  });

  // --- authorization code + PKCE, public client ----------------------------------------------
  let b;
  await check('fakebrowser approves: callback has code, state, iss; 303 -> /done followed', async () => {
    b = await browse({ env: { FAKEBROWSER_USER: 'alice', SECRET_LOOKING_VAR: 'hunter2' } });
    assert.equal(b.run.code, 0, b.run.stderr);
    assert.equal(b.run.stdout, '');
    assert.ok(b.cb, 'callback not hit');
    assert.deepEqual(Object.keys(b.cb).sort(), ['code', 'iss', 'state']);
    assert.equal(b.cb.state, b.state);
    assert.equal(b.cb.iss, ISSUER);
    assert.deepEqual(b.hits.map((h) => h.path), ['/callback', '/done']);
  });

  await check('FAKEBROWSER_LOG records argv, env and statuses', async () => {
    assert.equal(b.log.length, 1);
    const [rec] = b.log;
    assert.deepEqual(rec.argv, [b.url]);
    assert.equal(rec.env.SECRET_LOOKING_VAR, 'hunter2');
    assert.equal(rec.env.FAKEBROWSER_USER, 'alice');
    const cbEv = rec.events.find((e) => e.kind === 'callback');
    assert.equal(cbEv.status, 303);
    assert.equal(cbEv.headers.location, '/done');
    const doneEv = rec.events.find((e) => e.kind === 'done');
    assert.equal(doneEv.status, 200);
    assert.equal(rec.exit, 0);
  });

  let tok1;
  await check('code exchange (client_id in body, no auth header) returns AT/RT/id_token', async () => {
    const t = await token({
      grant_type: 'authorization_code',
      code: b.cb.code,
      redirect_uri: b.lb.redirectUri,
      code_verifier: b.pkce.verifier,
      client_id: 'tokcli-public',
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    tok1 = t.body;
    assert.equal(tok1.token_type, 'Bearer');
    assert.ok(tok1.access_token && tok1.refresh_token && tok1.id_token);
    assert.ok(tok1.expires_in > AT_TTL - 5 && tok1.expires_in <= AT_TTL, String(tok1.expires_in));
    // oidc-provider drops offline_access from the grant unless prompt=consent was requested;
    // a refresh token is issued anyway (issueRefreshToken override).
    assert.equal(tok1.scope, 'openid');
    const idt = JSON.parse(Buffer.from(tok1.id_token.split('.')[1], 'base64url'));
    assert.equal(idt.iss, ISSUER);
    assert.equal(idt.sub, 'alice');
    assert.equal(idt.aud, 'tokcli-public');
  });

  await check('wrong code_verifier -> invalid_grant', async () => {
    const b2 = await browse();
    const t = await token({
      grant_type: 'authorization_code',
      code: b2.cb.code,
      redirect_uri: b2.lb.redirectUri,
      code_verifier: pkce().verifier,
      client_id: 'tokcli-public',
    });
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_grant');
  });

  let tok2;
  await check('refresh rotates the refresh token', async () => {
    const t = await token({ grant_type: 'refresh_token', refresh_token: tok1.refresh_token, client_id: 'tokcli-public' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    tok2 = t.body;
    assert.ok(tok2.refresh_token && tok2.refresh_token !== tok1.refresh_token);
    assert.ok(tok2.access_token && tok2.access_token !== tok1.access_token);
    assert.ok(tok2.id_token);
  });

  await check('userinfo with refreshed AT', async () => {
    const r = await fetch(disco.userinfo_endpoint, { headers: { authorization: `Bearer ${tok2.access_token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { sub: 'alice' });
  });

  await check('reuse of spent RT -> invalid_grant and grant revoked (new RT + AT dead)', async () => {
    const t = await token({ grant_type: 'refresh_token', refresh_token: tok1.refresh_token, client_id: 'tokcli-public' });
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_grant');
    const t2 = await token({ grant_type: 'refresh_token', refresh_token: tok2.refresh_token, client_id: 'tokcli-public' });
    assert.equal(t2.status, 400);
    assert.equal(t2.body.error, 'invalid_grant');
    const i = await introspect(tok2.access_token);
    assert.equal(i.status, 200);
    assert.deepEqual(i.body, { active: false });
  });

  await check('authorization code replay -> invalid_grant and tokens from it revoked', async () => {
    const br = await browse();
    const form = {
      grant_type: 'authorization_code',
      code: br.cb.code,
      redirect_uri: br.lb.redirectUri,
      code_verifier: br.pkce.verifier,
      client_id: 'tokcli-public',
    };
    const t = await token(form);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const again = await token(form);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    const rt = await token({ grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: 'tokcli-public' });
    assert.equal(rt.body.error, 'invalid_grant');
  });

  await check('offline_access is kept in the granted scope only with prompt=consent', async () => {
    const bc = await browse({ scope: 'openid offline_access', extraParams: { prompt: 'consent' } });
    assert.equal(bc.run.code, 0, bc.run.stderr);
    const t = await token({
      grant_type: 'authorization_code',
      code: bc.cb.code,
      redirect_uri: bc.lb.redirectUri,
      code_verifier: bc.pkce.verifier,
      client_id: 'tokcli-public',
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.scope, 'openid offline_access');
    assert.ok(t.body.refresh_token);
  });

  await check('scopes email profile + FAKEBROWSER_USER=bob: claims via userinfo', async () => {
    const t = await codeFlowTokens('openid email profile', { FAKEBROWSER_USER: 'bob' });
    assert.ok(t.refresh_token, 'RT issued without offline_access');
    const r = await fetch(disco.userinfo_endpoint, { headers: { authorization: `Bearer ${t.access_token}` } });
    const ui = await r.json();
    assert.equal(ui.sub, 'bob');
    assert.equal(ui.email, 'bob@example.test');
    assert.equal(typeof ui.name, 'string');
  });

  await check('introspection (tokcli-confidential creds) + revocation of AT and RT', async () => {
    const t = await codeFlowTokens();
    let i = await introspect(t.access_token, 'access_token');
    assert.equal(i.status, 200);
    assert.equal(i.body.active, true);
    assert.equal(i.body.client_id, 'tokcli-public');
    assert.equal(i.body.sub, 'alice');
    assert.equal(i.body.token_type, 'Bearer');
    assert.equal(i.body.scope, 'openid');
    assert.equal(i.body.iss, ISSUER);
    i = await introspect(t.refresh_token, 'refresh_token');
    assert.equal(i.body.active, true);
    let r = await revoke({ token: t.access_token, token_type_hint: 'access_token', client_id: 'tokcli-public' });
    assert.equal(r.status, 200);
    i = await introspect(t.access_token);
    assert.deepEqual(i.body, { active: false });
    i = await introspect(t.refresh_token);
    assert.equal(i.body.active, true, 'revoking the AT must not kill the RT');
    r = await revoke({ token: t.refresh_token, token_type_hint: 'refresh_token', client_id: 'tokcli-public' });
    assert.equal(r.status, 200);
    i = await introspect(t.refresh_token);
    assert.deepEqual(i.body, { active: false });
    const rt = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'tokcli-public' });
    assert.equal(rt.body.error, 'invalid_grant');
    r = await revoke({ token: 'not-a-real-token', client_id: 'tokcli-public' });
    assert.equal(r.status, 200, 'unknown token revocation is 200 per RFC 7009');
  });

  await check('public client cannot introspect (no auth) tokens of others', async () => {
    expected.introspection += 1;
    const r = await postForm(disco.introspection_endpoint, { token: 'x', client_id: 'tokcli-public' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { active: false });
  });

  await check('confidential client: code flow with client_secret_basic', async () => {
    const bc = await browse({ clientId: 'tokcli-confidential' });
    assert.equal(bc.run.code, 0, bc.run.stderr);
    const form = {
      grant_type: 'authorization_code', code: bc.cb.code, redirect_uri: bc.lb.redirectUri, code_verifier: bc.pkce.verifier,
    };
    const bad = await token(form, { auth: basic('tokcli-confidential', 'wrong') });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    const t = await token(form, { auth: basic('tokcli-confidential', 'tokcli-confidential-secret') });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.ok(t.body.refresh_token);
  });

  await check('client credentials (tokcli-cc, Basic)', async () => {
    const t = await token({ grant_type: 'client_credentials', scope: 'api:read' }, { auth: basic('tokcli-cc', 'tokcli-cc-secret') });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(t.body.scope, 'api:read');
    assert.ok(t.body.expires_in > AT_TTL - 5 && t.body.expires_in <= AT_TTL);
    assert.equal(t.body.refresh_token, undefined);
    const i = await introspect(t.body.access_token);
    assert.equal(i.body.active, true);
    assert.equal(i.body.client_id, 'tokcli-cc');
    assert.equal(i.body.scope, 'api:read');
    const t2 = await token({ grant_type: 'client_credentials' }, { auth: basic('tokcli-cc', 'tokcli-cc-secret') });
    assert.equal(t2.status, 200);
    const bad = await token({ grant_type: 'client_credentials' }, { auth: basic('tokcli-cc', 'nope') });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    const unauthorized = await token({ grant_type: 'client_credentials' }, { auth: basic('tokcli-confidential', 'tokcli-confidential-secret') });
    // oidc-provider 8.8.1 answers a grant_type the client is not registered for with
    // invalid_request (not RFC 6749's unauthorized_client)
    assert.equal(unauthorized.status, 400);
    assert.equal(unauthorized.body.error, 'invalid_request');
  });

  async function deviceAuth(scope = 'openid offline_access') {
    expected.device_authorization += 1;
    const r = await postForm(disco.device_authorization_endpoint, { client_id: 'tokcli-public', scope });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }
  const pollDevice = (dc) => token({ grant_type: DEVICE_GRANT, device_code: dc, client_id: 'tokcli-public' });

  await check('device flow approve (device-approve with verification_uri + user_code)', async () => {
    const d = await deviceAuth();
    assert.equal(d.verification_uri, `${ISSUER}/device`);
    assert.ok(d.user_code && d.device_code && d.verification_uri_complete);
    assert.equal(d.expires_in, DEVICE_TTL);
    assert.equal(d.interval, undefined, 'oidc-provider 8.8.1 omits interval (RFC 8628 default 5 s)');
    let p = await pollDevice(d.device_code);
    assert.equal(p.status, 400);
    assert.equal(p.body.error, 'authorization_pending');
    const r = await run(DEVICE_APPROVE, [d.verification_uri, d.user_code, 'approve']);
    assert.equal(r.code, 0, r.stderr);
    p = await pollDevice(d.device_code);
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(p.body.access_token && p.body.refresh_token && p.body.id_token);
    const rt = await token({ grant_type: 'refresh_token', refresh_token: p.body.refresh_token, client_id: 'tokcli-public' });
    assert.equal(rt.status, 200);
    p = await pollDevice(d.device_code);
    assert.equal(p.body.error, 'invalid_grant', 'device code reuse');
  });

  await check('device flow approve via verification_uri_complete, user from FAKEBROWSER_USER', async () => {
    const d = await deviceAuth('openid');
    const r = await run(DEVICE_APPROVE, [d.verification_uri_complete], { FAKEBROWSER_USER: 'carol' });
    assert.equal(r.code, 0, r.stderr);
    const p = await pollDevice(d.device_code);
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const idt = JSON.parse(Buffer.from(p.body.id_token.split('.')[1], 'base64url'));
    assert.equal(idt.sub, 'carol');
  });

  await check('device flow deny -> access_denied', async () => {
    const d = await deviceAuth();
    const r = await run(DEVICE_APPROVE, [d.verification_uri, d.user_code, 'deny']);
    assert.equal(r.code, 0, r.stderr);
    const p = await pollDevice(d.device_code);
    assert.equal(p.status, 400);
    assert.equal(p.body.error, 'access_denied');
  });

  await check('device-approve with a wrong user code exits non-zero', async () => {
    const r = await run(DEVICE_APPROVE, [`${ISSUER}/device`, 'BCDF-GHJK']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /device-approve:/);
  });

  // --- fakebrowser knobs -----------------------------------------------------------------------
  await check('FAKEBROWSER_ACTION=deny -> callback error=access_denied with state and iss', async () => {
    const bd = await browse({ env: { FAKEBROWSER_ACTION: 'deny' } });
    assert.equal(bd.run.code, 0, bd.run.stderr);
    assert.equal(bd.cb.error, 'access_denied');
    assert.equal(bd.cb.state, bd.state);
    assert.equal(bd.cb.iss, ISSUER);
    assert.equal(bd.cb.code, undefined);
    assert.deepEqual(bd.hits.map((h) => h.path), ['/callback', '/done']);
  });

  await check('FAKEBROWSER_TAMPER=state / iss', async () => {
    const bs = await browse({ env: { FAKEBROWSER_TAMPER: 'state' } });
    assert.equal(bs.run.code, 0, bs.run.stderr);
    assert.notEqual(bs.cb.state, bs.state);
    assert.equal(bs.cb.iss, ISSUER);
    const bi = await browse({ env: { FAKEBROWSER_TAMPER: 'iss' } });
    assert.equal(bi.run.code, 0, bi.run.stderr);
    assert.equal(bi.cb.state, bi.state);
    assert.notEqual(bi.cb.iss, ISSUER);
    assert.ok(bi.cb.code);
  });

  await check('FAKEBROWSER_PRINT_REDIRECT=1 prints the redirect, does not hit the callback', async () => {
    const bp = await browse({ env: { FAKEBROWSER_PRINT_REDIRECT: '1' } });
    assert.equal(bp.run.code, 0, bp.run.stderr);
    assert.equal(bp.hits.length, 0);
    const lines = bp.run.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const u = new URL(lines[0]);
    assert.equal(`${u.origin}${u.pathname}`, bp.lb.redirectUri);
    assert.equal(u.searchParams.get('state'), bp.state);
    assert.equal(u.searchParams.get('iss'), ISSUER);
    const t = await token({
      grant_type: 'authorization_code',
      code: u.searchParams.get('code'),
      redirect_uri: bp.lb.redirectUri,
      code_verifier: bp.pkce.verifier,
      client_id: 'tokcli-public',
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
  });

  await check('FAKEBROWSER_NEVER=1 logs argv/env and does not touch anything', async () => {
    const logFile = path.join(TMP, 'never.log');
    const child = spawn(FAKEBROWSER, ['http://127.0.0.1:9/never'], {
      env: { ...process.env, FAKEBROWSER_NEVER: '1', FAKEBROWSER_LOG: logFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const closed = new Promise((r) => { child.stdout.on('end', r); });
    for (let i = 0; i < 50 && !fs.existsSync(logFile); i += 1) await sleep(100);
    const [rec] = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rec.argv, ['http://127.0.0.1:9/never']);
    assert.equal(rec.env.FAKEBROWSER_NEVER, '1');
    assert.equal(rec.never, true);
    await closed; // stdio released even though the process keeps sleeping
    assert.equal(child.exitCode, null, 'still sleeping');
    child.kill('SIGTERM');
  });

  await check('fakebrowser errors: bad redirect_uri -> non-zero exit with diagnostic', async () => {
    const u = authorizeUrl({
      redirectUri: 'http://evil.example.test/callback', scope: 'openid', state: 's', challenge: pkce().challenge,
    });
    const r = await run(FAKEBROWSER, [u]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /fakebrowser: .*redirect_uri/);
  });

  await check('fakebrowser errors: unreachable loopback callback -> non-zero exit', async () => {
    const lb = await startLoopback();
    await lb.close(); // port now closed
    const u = authorizeUrl({
      redirectUri: lb.redirectUri, scope: 'openid', state: 's', challenge: pkce().challenge,
    });
    const r = await run(FAKEBROWSER, [u]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /fakebrowser: .*ECONNREFUSED/);
  });

  await check('missing PKCE -> authorization error (fakebrowser reports it)', async () => {
    const u = new URL(authorizeUrl({ redirectUri: 'http://127.0.0.1:9/callback', scope: 'openid', state: 's', challenge: 'x' }));
    u.searchParams.delete('code_challenge');
    u.searchParams.delete('code_challenge_method');
    const r = await run(FAKEBROWSER, [u.href], { FAKEBROWSER_PRINT_REDIRECT: '1' });
    assert.equal(r.code, 0, r.stderr);
    const cb = new URL(r.stdout.trim());
    assert.equal(cb.searchParams.get('error'), 'invalid_request');
    assert.match(cb.searchParams.get('error_description'), /PKCE/);
  });

  // --- a separately spawned server: --port, TTL env knobs, stdout discipline, SIGTERM -----------
  await check('server.mjs --port N + AT_TTL/DEVICE_TTL/RT_TTL env, one stdout line, SIGTERM exits 0', async () => {
    const free = await new Promise((r) => {
      const s0 = http.createServer().listen(0, '127.0.0.1', () => { const { port } = s0.address(); s0.close(() => r(port)); });
    });
    const child = spawn(process.execPath, [path.join(HERE, 'server.mjs'), '--port', String(free)], {
      env: {
        ...process.env, AT_TTL: '2', DEVICE_TTL: '3', RT_TTL: '4',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((r) => { child.on('exit', (code, sig) => r({ code, sig })); });
    try {
      for (let i = 0; i < 100 && !out.includes('\n'); i += 1) await sleep(50);
      assert.equal(out, `{"issuer":"http://127.0.0.1:${free}","port":${free}}\n`, err);
      const iss = `http://127.0.0.1:${free}`;
      const saved = disco;
      disco = (await getJSON(`${iss}/.well-known/openid-configuration`)).body;
      const counts = JSON.parse(JSON.stringify(expected));
      try {
        const t = await codeFlowTokens();
        assert.ok(t.expires_in <= 2, String(t.expires_in));
        const cc = await token({ grant_type: 'client_credentials' }, { auth: basic('tokcli-cc', 'tokcli-cc-secret') });
        assert.ok(cc.body.expires_in <= 2);
        expected.device_authorization += 1;
        const d = (await postForm(disco.device_authorization_endpoint, { client_id: 'tokcli-public', scope: 'openid' })).body;
        assert.equal(d.expires_in, 3);
        await sleep(4300);
        assert.deepEqual((await introspect(t.access_token)).body, { active: false }, 'AT expired');
        assert.deepEqual((await introspect(cc.body.access_token)).body, { active: false }, 'CC token expired');
        const p = await pollDevice(d.device_code);
        assert.equal(p.body.error, 'expired_token');
        const rt = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'tokcli-public' });
        assert.equal(rt.body.error, 'invalid_grant', 'RT expired');
      } finally {
        disco = saved;
        Object.assign(expected, counts); // those requests went to the other server
      }
      assert.equal(out.split('\n').length, 2, `extra stdout: ${out}`);
    } finally {
      child.kill('SIGTERM');
    }
    const { code, sig } = await exited;
    assert.equal(sig, null);
    assert.equal(code, 0);
  });

  await check('/__test/stats counts match', async () => {
    const s = await getJSON(`${ISSUER}/__test/stats`);
    const got = {
      token: s.body.token,
      revocation: s.body.revocation,
      device_authorization: s.body.device_authorization,
      introspection: s.body.introspection,
      token_errors: s.body.token_errors,
    };
    assert.deepEqual(got, expected);
    process.stdout.write(`  stats: ${JSON.stringify(s.body)}\n`);
  });

  await check('POST /__test/reset zeroes counters', async () => {
    await postForm(`${ISSUER}/__test/reset`, {});
    const s = await getJSON(`${ISSUER}/__test/stats`);
    assert.deepEqual(Object.values(s.body.token), [0, 0, 0, 0]);
    assert.equal(s.body.revocation + s.body.device_authorization + s.body.introspection, 0);
    assert.deepEqual(s.body.token_errors, {});
  });
}

try {
  await main();
} catch (err) {
  failed += 1;
  process.stdout.write(`FAIL - harness crashed: ${err && err.stack}\n`);
}
fs.rmSync(TMP, { recursive: true, force: true });
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
