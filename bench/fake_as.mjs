// A minimal authorization server for benchmarks: discovery plus a rotating refresh-token grant,
// with a fixed added latency per token call. Prints {"issuer":...} once listening on 127.0.0.1.
//   node bench/fake_as.mjs [delay-seconds]
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';

const delayMs = Number(process.argv[2] ?? '0.05') * 1000;
const live = new Set();
const counts = { refresh: 0 };
const tok = () => randomBytes(24).toString('base64url');

const server = http.createServer((req, res) => {
  const iss = `http://127.0.0.1:${server.address().port}`;
  const json = (status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (req.method === 'GET') {
    if (req.url === '/.well-known/oauth-authorization-server' || req.url === '/.well-known/openid-configuration') {
      return json(200, { issuer: iss, token_endpoint: `${iss}/token`, authorization_endpoint: `${iss}/authorize` });
    }
    if (req.url === '/mint') { const rt = tok(); live.add(rt); return json(200, { refresh_token: rt }); }
    if (req.url === '/stats') return json(200, counts);
    return json(404, { error: 'not_found' });
  }
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => setTimeout(() => {
    const form = new URLSearchParams(body);
    const rt = form.get('refresh_token');
    if (form.get('grant_type') !== 'refresh_token' || !live.has(rt)) return json(400, { error: 'invalid_grant' });
    live.delete(rt);
    const next = tok();
    live.add(next);
    counts.refresh += 1;
    return json(200, { access_token: tok(), token_type: 'Bearer', expires_in: 3600, refresh_token: next });
  }, delayMs));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer: `http://127.0.0.1:${server.address().port}` })}\n`);
});
