// Real OAuth 2.0 / OIDC authorization server for tokcli integration tests.
//
//   node tests/oidc/server.mjs [--port N] [--no-rfc8414]
//
// Listens on 127.0.0.1 only. When ready prints exactly one JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT}
// Everything else (oidc-provider warnings, request errors) goes to stderr.
// See README.md in this directory for clients, knobs and the /__test control API.

import * as http from 'node:http';
import * as util from 'node:util';

// oidc-provider prints its dev-mode warnings with console.info; keep stdout for the ready line.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
console.debug = console.error;

const { default: Provider } = await import('oidc-provider');

function usage(msg) {
  process.stderr.write(`server.mjs: ${msg}\nusage: node server.mjs [--port N] [--no-rfc8414]\n`);
  process.exit(2);
}

let port = 0;
let rfc8414 = true;
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a === '--port') {
      if (i + 1 >= args.length) usage('--port needs a value');
      port = Number(args[i += 1]);
    } else if (a.startsWith('--port=')) {
      port = Number(a.slice('--port='.length));
    } else if (a === '--no-rfc8414') {
      rfc8414 = false;
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('bad --port value');
}

function ttlFromEnv(name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) usage(`${name} must be a positive integer (seconds), got ${JSON.stringify(raw)}`);
  return n;
}
const AT_TTL = ttlFromEnv('AT_TTL', 3600);
const DEVICE_TTL = ttlFromEnv('DEVICE_TTL', 600);
const RT_TTL = ttlFromEnv('RT_TTL', 14 * 24 * 60 * 60);

// ---------------------------------------------------------------------------------------------
// Counters for GET /__test/stats (POST /__test/reset zeroes them).
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
function freshStats() {
  return {
    token: {
      authorization_code: 0,
      refresh_token: 0,
      client_credentials: 0,
      [DEVICE_GRANT]: 0,
    },
    revocation: 0,
    device_authorization: 0,
    introspection: 0,
    token_errors: {},
    token_ms: {},
    // from the accepted connection (or parsed request) to the response handed to the socket
    token_full_ms: {},
    // extra, informational
    authorization: 0,
    userinfo: 0,
  };
}
let stats = freshStats();
const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1; };

// ---------------------------------------------------------------------------------------------
// Listen first so the issuer can carry the real (possibly ephemeral) port.
const server = http.createServer();
// Long keep-alive: a client connection pool must never race an idle-close by the server
// (shutdown uses closeAllConnections(), so this does not delay SIGTERM).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
});
const { port: boundPort } = server.address();
const issuer = `http://127.0.0.1:${boundPort}`;

const configuration = {
  clients: [
    {
      client_id: 'tokcli-public',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      response_types: ['code'],
    },
    {
      client_id: 'tokcli-confidential',
      client_secret: 'tokcli-confidential-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'tokcli-cc',
      client_secret: 'tokcli-cc-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'api:read api:write',
    },
  ],
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read', 'api:write'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(ctx, id) {
    if (!id) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `${id.charAt(0).toUpperCase()}${id.slice(1)} Example`,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any client that authenticated (i.e. not auth method "none") may introspect any token;
      // a public client may still introspect its own tokens (library default).
      async allowedPolicy(ctx, client, token) {
        if (client.clientAuthMethod === 'none' && token.clientId !== client.clientId) return false;
        return true;
      },
    },
    // RFC 9207 `iss` in the authorization response is always on in oidc-provider 8.x
    // (there is no issAuthResp feature flag any more).
  },
  pkce: {
    methods: ['S256'],
    required: () => true,
  },
  rotateRefreshToken: true,
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Token lifetime is governed by the TTLs only, never by the (in-memory) browser session.
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: AT_TTL,
    ClientCredentials: AT_TTL,
    DeviceCode: DEVICE_TTL,
    RefreshToken: RT_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 60 * 60,
    Grant: Math.max(RT_TTL, 14 * 24 * 60 * 60),
  },
  cookies: {
    keys: ['tokcli-test-cookie-key-1', 'tokcli-test-cookie-key-2'],
    long: { signed: true, httpOnly: true, sameSite: 'lax', secure: false },
    short: { signed: true, httpOnly: true, sameSite: 'lax', secure: false },
  },
  // tokcli is not a browser app; CORS only matters for requests carrying Origin.
  clientBasedCORS: () => true,
  renderError(ctx, out) {
    ctx.type = 'html';
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body>
<h1>oops! something went wrong</h1>
${Object.entries(out).map(([k, v]) => `<pre id="${esc(k)}"><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('\n')}
</body></html>`;
  },
};

const provider = new Provider(issuer, configuration);
// Loopback http issuer: nothing is behind a TLS proxy.
provider.proxy = false;

const route = (name) => provider.pathFor(name);
const TOKEN = route('token');
const REVOCATION = route('revocation');
const INTROSPECTION = route('introspection');
const DEVICE_AUTHORIZATION = route('device_authorization');
const AUTHORIZATION = route('authorization');
const USERINFO = route('userinfo');

function tokenErrorFromEvent(ctx, err) {
  if (ctx.path === TOKEN) ctx.state.tokcliTokenError = err?.error || 'server_error';
}
provider.on('grant.error', tokenErrorFromEvent);
provider.on('server_error', tokenErrorFromEvent);

provider.use(async function testHarness(ctx, next) {
  // --- control API ---------------------------------------------------------------------------
  if (ctx.path === '/__test/stats') {
    if (ctx.method !== 'GET') { ctx.status = 405; ctx.body = { error: 'method_not_allowed' }; return; }
    ctx.set('cache-control', 'no-store');
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/__test/reset') {
    if (ctx.method !== 'POST') { ctx.status = 405; ctx.body = { error: 'method_not_allowed' }; return; }
    stats = freshStats();
    ctx.set('cache-control', 'no-store');
    ctx.body = { ok: true };
    return;
  }
  // --- RFC 8414 metadata: same document as openid-configuration -------------------------------
  if (ctx.path === '/.well-known/oauth-authorization-server' && rfc8414) {
    ctx.path = '/.well-known/openid-configuration';
    return next();
  }

  // --- counters -------------------------------------------------------------------------------
  if (ctx.method !== 'POST') {
    if (ctx.path === AUTHORIZATION) bump(stats, 'authorization');
    if (ctx.path === USERINFO) bump(stats, 'userinfo');
    return next();
  }
  const { path } = ctx;
  const started = process.hrtime.bigint();
  try {
    await next();
  } finally {
    switch (path) {
      case TOKEN: {
        const gt = ctx.oidc?.body?.grant_type;
        bump(stats.token, typeof gt === 'string' && gt ? gt : '(missing)');
        // The server's own handling time per grant (benchmarks subtract it from client timings).
        const key = typeof gt === 'string' && gt ? gt : '(missing)';
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        (stats.token_ms[key] ||= []).push(ms);
        // token_ms covers the provider's handler only; token_full_ms also covers Node accepting
        // the connection and parsing the request, and Koa and Node writing the response: from
        // the accept (first request on a connection) or the 'request' event, until the response
        // is flushed.
        const t0 = ctx.req.tokcliT0 ?? started;
        const full = stats.token_full_ms;
        ctx.res.once('finish', () => { (full[key] ||= []).push(Number(process.hrtime.bigint() - t0) / 1e6); });
        if (ctx.status >= 400) {
          const err = ctx.state.tokcliTokenError
            || (ctx.body && typeof ctx.body === 'object' && ctx.body.error)
            || `http_${ctx.status}`;
          bump(stats.token_errors, err);
        }
        break;
      }
      case REVOCATION: bump(stats, 'revocation'); break;
      case INTROSPECTION: bump(stats, 'introspection'); break;
      case DEVICE_AUTHORIZATION: bump(stats, 'device_authorization'); break;
      case AUTHORIZATION: bump(stats, 'authorization'); break;
      case USERINFO: bump(stats, 'userinfo'); break;
      default: break;
    }
  }
});

// Registered first, so it runs before the provider sees the request (see token_full_ms). The
// first request on a connection is timed from the accept, so accepting the connection and parsing
// the request head count as the server's time too (each tokcli process opens one connection).
server.on('connection', (socket) => { socket.tokcliAccepted = process.hrtime.bigint(); });
server.on('request', (req) => {
  req.tokcliT0 = req.socket.tokcliAccepted ?? process.hrtime.bigint();
  req.socket.tokcliAccepted = undefined;
});
server.on('request', provider.callback());
server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});

let stopping = false;
function stop(sig) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`server.mjs: ${sig}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('unhandledRejection', (err) => {
  process.stderr.write(`server.mjs: unhandled rejection: ${util.inspect(err)}\n`);
});

process.stdout.write(`${JSON.stringify({ issuer, port: boundPort })}\n`);
