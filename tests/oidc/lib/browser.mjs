// Minimal scripted "browser" shared by fakebrowser and device-approve: fetch with manual
// redirects, an RFC 6265-ish cookie jar (host + path matching, ports ignored like real browsers),
// and just enough HTML form parsing for oidc-provider 8.8.1's built-in pages:
//   - devInteractions login page  (lib/views/login.js + layout.js)
//   - devInteractions consent page (lib/views/interaction.js + layout.js)
//   - device flow user code input / confirm pages (lib/helpers/user_code_form.js, defaults.js)

export class CookieJar {
  constructor() {
    this.cookies = []; // { name, value, host, path, expires (ms epoch | null) }
  }

  static defaultPath(url) {
    const p = url.pathname;
    if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
    return p.slice(0, p.lastIndexOf('/'));
  }

  store(url, setCookieHeaders) {
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = CookieJar.defaultPath(url);
      let expires = null;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const k = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const v = i === -1 ? '' : attr.slice(i + 1).trim();
        if (k === 'path' && v.startsWith('/')) path = v;
        if (k === 'expires' && expires === null) {
          const t = Date.parse(v);
          if (!Number.isNaN(t)) expires = t;
        }
        if (k === 'max-age' && /^-?\d+$/.test(v)) expires = Date.now() + Number(v) * 1000;
      }
      this.cookies = this.cookies.filter(
        (c) => !(c.name === name && c.host === url.hostname && c.path === path),
      );
      if (expires === null || expires > Date.now()) {
        this.cookies.push({
          name, value, host: url.hostname, path, expires,
        });
      }
    }
  }

  header(url) {
    const now = Date.now();
    const matches = this.cookies.filter((c) => (c.expires === null || c.expires > now)
      && c.host === url.hostname
      && (url.pathname === c.path
        || (url.pathname.startsWith(c.path)
          && (c.path.endsWith('/') || url.pathname.charAt(c.path.length) === '/'))));
    matches.sort((a, b) => b.path.length - a.path.length);
    return matches.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

const ENTITIES = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0',
};
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

export function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(s))) {
    const value = m[2] ?? m[3] ?? m[4];
    attrs[m[1].toLowerCase()] = value === undefined ? '' : decodeEntities(value);
  }
  return attrs;
}

// Returns [{ id, action, method, fields: [[name, value]], inputs: [attrs], buttons: [attrs] }].
// Buttons/inputs outside a <form> that name it via form="id" are attached to it.
export function parseForms(html) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const attrs = parseAttrs(m[1]);
    const inner = m[2];
    const inputs = [...inner.matchAll(/<input\b([^>]*)>/gi)].map((x) => parseAttrs(x[1]));
    const buttons = [...inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)]
      .map((x) => ({ ...parseAttrs(x[1]), text: x[2].trim() }));
    forms.push({
      id: attrs.id,
      action: attrs.action ?? '',
      method: (attrs.method || 'get').toLowerCase(),
      inputs,
      buttons,
    });
  }
  const outside = html.replace(formRe, '');
  for (const x of outside.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
    const b = { ...parseAttrs(x[1]), text: x[2].trim() };
    const f = b.form && forms.find((form) => form.id === b.form);
    if (f) f.buttons.push(b);
  }
  for (const f of forms) {
    f.fields = f.inputs
      .filter((i) => i.name !== undefined && !['submit', 'button', 'image', 'reset'].includes((i.type || 'text').toLowerCase()))
      .map((i) => [i.name, i.value ?? '']);
    f.get = (name) => f.fields.find(([n]) => n === name)?.[1];
  }
  return forms;
}

export function parseLinks(html) {
  return [...html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi)]
    .map((x) => ({ ...parseAttrs(x[1]), text: x[2].replace(/<[^>]*>/g, '').trim() }));
}

export function pageSummary(html) {
  const title = html.match(/<title>([\s\S]*?)<\/title>/i)?.[1]?.trim();
  const text = html
    .replace(/<style[\s\S]*?<\/style>/gi, '')
    .replace(/<script[\s\S]*?<\/script>/gi, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return `${title ? `[${decodeEntities(title)}] ` : ''}${decodeEntities(text).slice(0, 600)}`;
}

export class Browser {
  constructor({ timeoutMs = 15000 } = {}) {
    this.jar = new CookieJar();
    this.events = [];
    this.timeoutMs = timeoutMs;
  }

  // One HTTP exchange, never following redirects. Returns { url, status, headers, location, body }.
  async request(method, url, { form, kind = 'as', recordHeaders = false } = {}) {
    const u = new URL(url);
    const headers = {
      'user-agent': 'tokcli-fakebrowser/1.0',
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    };
    const cookie = this.jar.header(u);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const event = { kind, method, url: u.href };
    this.events.push(event);
    let res;
    try {
      res = await fetch(u, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      event.error = String(err?.cause?.code || err?.cause?.message || err?.message || err);
      throw new Error(`${method} ${u.href} failed: ${event.error}`);
    }
    this.jar.store(u, res.headers.getSetCookie());
    const text = await res.text();
    const location = res.headers.get('location');
    event.status = res.status;
    if (location) event.location = location;
    if (recordHeaders) {
      event.headers = Object.fromEntries(res.headers.entries());
      event.set_cookie = res.headers.getSetCookie();
      event.body = text.slice(0, 2000);
    }
    return {
      url: u,
      status: res.status,
      headers: res.headers,
      location: location ? new URL(location, u) : null,
      body: text,
    };
  }

  // Submit a parsed form (relative action resolved against the page URL).
  submit(pageUrl, form, extra = {}) {
    const action = new URL(form.action || pageUrl.href, pageUrl);
    const fields = form.fields.filter(([n]) => !(n in extra));
    for (const [k, v] of Object.entries(extra)) fields.push([k, v]);
    return this.request(form.method === 'post' ? 'POST' : 'GET', action, { form: fields });
  }
}

// Handles one oidc-provider devInteractions page (login or consent) and returns the next
// response, or null if the page is not a devInteractions page.
//   action: 'approve' | 'deny' (deny follows the "[ Cancel ]" abort link of the first page)
export async function handleInteractionPage(browser, res, { user, action }) {
  const forms = parseForms(res.body);
  const form = forms.find((f) => f.method === 'post' && (f.get('prompt') === 'login' || f.get('prompt') === 'consent'));
  if (!form) return null;
  if (action === 'deny') {
    const links = parseLinks(res.body);
    const abort = links.find((l) => /cancel/i.test(l.text)) || links.find((l) => /\/abort$/.test(l.href || ''));
    if (!abort) throw new Error(`no cancel/abort link on interaction page ${res.url.href}`);
    return browser.request('GET', new URL(abort.href, res.url));
  }
  if (form.get('prompt') === 'login') {
    return browser.submit(res.url, form, { login: user, password: 'fakebrowser-password' });
  }
  return browser.submit(res.url, form);
}

export function die(prog, msg, code = 1) {
  process.stderr.write(`${prog}: ${msg}\n`);
  process.exit(code);
}
