import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KM_BIN, freePort, requireBuiltKm, spooledEvents, startRemoteEverything, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: `km --url` to a remote server behind OAuth. The test plays the authorization server (metadata, dynamic
 * client registration, an authorize endpoint that consents at once, a token endpoint that checks PKCE) and the
 * protected resource (401 with WWW-Authenticate until the token comes, then server-everything behind it); the
 * "browser" is a script that follows the authorization URL's redirects back to km.
 */
describe('km --url with OAuth', () => {
  let remote: ChildProcess;
  let upstreamPort: number;
  beforeAll(async () => {
    requireBuiltKm();
    ({ port: upstreamPort, child: remote } = await startRemoteEverything());
  }, 100_000);
  afterAll(() => remote?.kill());

  it('signs in once through the browser with PKCE, keeps the tokens 0600, and the next session reuses them', async () => {
    const challenges = new Map<string, string>();
    let origin = '';
    const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const body = (req: IncomingMessage) => new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => resolve(text));
    });
    const server = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) return json(res, 200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
      if (url.pathname === '/.well-known/oauth-authorization-server') {
        return json(res, 200, { issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, registration_endpoint: `${origin}/register`, response_types_supported: ['code'], grant_types_supported: ['authorization_code', 'refresh_token'], code_challenge_methods_supported: ['S256'], token_endpoint_auth_methods_supported: ['none'] });
      }
      if (url.pathname === '/register') return json(res, 201, { ...JSON.parse(await body(req)), client_id: 'km-test-client', client_id_issued_at: Math.floor(Date.now() / 1000) });
      if (url.pathname === '/authorize') {
        challenges.set('code-1', url.searchParams.get('code_challenge')!);
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', 'code-1');
        back.searchParams.set('state', url.searchParams.get('state')!);
        return void res.writeHead(302, { location: back.href }).end();
      }
      if (url.pathname === '/token') {
        const form = new URLSearchParams(await body(req));
        const verifier = form.get('code_verifier') ?? '';
        const pkce = createHash('sha256').update(verifier).digest('base64url');
        if (form.get('grant_type') !== 'authorization_code' || challenges.get(form.get('code') ?? '') !== pkce) return json(res, 400, { error: 'invalid_grant' });
        return json(res, 200, { access_token: 'access-token-7f3a', token_type: 'Bearer', expires_in: 3600 });
      }
      if (url.pathname !== '/mcp') return json(res, 404, { error: 'not found' });
      if (req.headers.authorization !== 'Bearer access-token-7f3a') {
        return json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` });
      }
      const forwarded = request({ host: '127.0.0.1', port: upstreamPort, path: '/mcp', method: req.method, headers: { ...req.headers, host: `127.0.0.1:${upstreamPort}` } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(forwarded);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const home = tempHome('km-oauth');
    const opened = join(home, 'browser-opened');
    const browser = join(home, 'browser.js');
    writeFileSync(browser, `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(opened)}, 'x');\nfetch(process.argv[2]).then((r) => r.text()).then((t) => process.stdout.write(t));\n`);
    chmodSync(browser, 0o755);
    const callbackPort = await freePort();
    const env = { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'oauth@example.com', KM_BROWSER: browser, KM_OAUTH_PORT: String(callbackPort) };
    try {
      for (const session of [1, 2]) {
        const client = new Client({ name: 'km-oauth-e2e', version: '1.0.0' });
        await client.connect(new StdioClientTransport({ command: process.execPath, args: [KM_BIN, '--name', 'protected', '--url', `${origin}/mcp`], env, stderr: 'ignore' }));
        expect(await client.callTool({ name: 'echo', arguments: { message: `session ${session}` } })).toMatchObject({ content: [{ text: `Echo: session ${session}` }] });
        await client.close();
      }
      expect(readFileSync(opened, 'utf8')).toBe('x'); // the browser opened for the first session only
      const [stored] = readdirSync(join(home, 'oauth'));
      expect(statSync(join(home, 'oauth', stored!)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(join(home, 'oauth', stored!), 'utf8')).tokens.access_token).toBe('access-token-7f3a');
      const events = await until('both sessions ended', () => {
        const all = spooledEvents(home);
        return all.filter((e) => e.type === 'session.ended').length === 2 ? all : undefined;
      });
      expect(events.filter((e) => e.type === 'mcp.interaction' && e.method === 'tools/call' && e.outcome === 'ok')).toHaveLength(2);
      expect(JSON.stringify(events)).not.toContain('access-token-7f3a');
    } finally {
      server.close();
    }
  }, 90_000);
});
