import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidGrantError, InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { getOAuthProtectedResourceMetadataUrl, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { OAuthClientInformationFull, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as z from 'zod/v4';
import { KM_BIN, freePort, requireBuiltKm, spooledEvents, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: `km --url` to a remote server behind OAuth, the server side built from the MCP SDK's own auth helpers:
 * `mcpAuthRouter` (metadata, dynamic client registration, authorize, token with PKCE checked by the SDK) over the
 * in-memory provider below, the protected-resource metadata for /mcp, and `requireBearerAuth` in front of a
 * Streamable HTTP McpServer. The "browser" is a script that follows the authorization URL's redirects back to km.
 */

/** An authorization server that consents at once, keeps everything in memory and can expire its access tokens. */
class TestAuthProvider implements OAuthServerProvider {
  readonly grants: string[] = [];
  consents = 0;
  private readonly clients = new Map<string, OAuthClientInformationFull>();
  private readonly codes = new Map<string, { clientId: string; params: AuthorizationParams }>();
  private readonly accessTokens = new Map<string, AuthInfo>();
  private readonly refreshTokens = new Map<string, { clientId: string; resource?: URL }>();

  readonly clientsStore: OAuthRegisteredClientsStore = {
    getClient: (clientId) => this.clients.get(clientId),
    registerClient: (client) => {
      this.clients.set(client.client_id, client);
      return client;
    },
  };

  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: { redirect(url: string): void }): Promise<void> {
    this.consents++;
    const code = randomUUID();
    this.codes.set(code, { clientId: client.client_id, params });
    const back = new URL(params.redirectUri);
    back.searchParams.set('code', code);
    if (params.state !== undefined) back.searchParams.set('state', params.state);
    res.redirect(back.href);
  }

  async challengeForAuthorizationCode(_client: OAuthClientInformationFull, code: string): Promise<string> {
    const issued = this.codes.get(code);
    if (!issued) throw new InvalidGrantError('unknown authorization code');
    return issued.params.codeChallenge;
  }

  async exchangeAuthorizationCode(client: OAuthClientInformationFull, code: string): Promise<OAuthTokens> {
    const issued = this.codes.get(code);
    if (!issued || issued.clientId !== client.client_id) throw new InvalidGrantError('unknown authorization code');
    this.codes.delete(code);
    this.grants.push('authorization_code');
    return this.issue(client.client_id, issued.params.resource);
  }

  async exchangeRefreshToken(client: OAuthClientInformationFull, refreshToken: string): Promise<OAuthTokens> {
    const known = this.refreshTokens.get(refreshToken);
    if (!known || known.clientId !== client.client_id) throw new InvalidGrantError('unknown refresh token');
    this.refreshTokens.delete(refreshToken); // rotated: each refresh token works once
    this.grants.push('refresh_token');
    return this.issue(client.client_id, known.resource);
  }

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const info = this.accessTokens.get(token);
    if (!info) throw new InvalidTokenError('unknown or expired access token');
    return info;
  }

  /** The test's clock: every access token issued so far stops working now, the refresh tokens still do. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  isValid(accessToken: string): boolean {
    return this.accessTokens.has(accessToken);
  }

  private issue(clientId: string, resource: URL | undefined): OAuthTokens {
    const access = `access-${randomUUID()}`;
    const refresh = `refresh-${randomUUID()}`;
    this.accessTokens.set(access, { token: access, clientId, scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600, ...(resource ? { resource } : {}) });
    this.refreshTokens.set(refresh, { clientId, ...(resource ? { resource } : {}) });
    return { access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: refresh };
  }
}

/** The protected MCP server: one McpServer and transport per session, behind the SDK's bearer check (express's own types are not installed, hence `any` for its req and res). */
async function startProtectedServer(provider: TestAuthProvider): Promise<{ origin: string; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mcpUrl = new URL(`${origin}/mcp`);
  const app = createMcpExpressApp();
  app.use(mcpAuthRouter({ provider, issuerUrl: new URL(origin), resourceServerUrl: mcpUrl, resourceName: 'km OAuth test server' }));
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  app.all('/mcp', requireBearerAuth({ verifier: provider, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl) }), async (req: any, res: any) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport && req.method === 'POST' && isInitializeRequest(req.body)) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => void sessions.set(sid, created) });
      created.onclose = () => void (created.sessionId && sessions.delete(created.sessionId));
      const mcp = new McpServer({ name: 'protected-echo', version: '1.0.0' });
      mcp.registerTool('echo', { description: 'Echoes the message', inputSchema: { message: z.string() } }, async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));
      await mcp.connect(created);
      transport = created;
    }
    if (!transport) return void res.status(400).json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no such session' } });
    await transport.handleRequest(req, res, req.body);
  });
  server.on('request', app);
  return { origin, server };
}

describe('km --url with OAuth', () => {
  beforeAll(() => requireBuiltKm());

  it('signs in once through the browser with PKCE, keeps the tokens 0600, and refreshes them without asking again', async () => {
    const provider = new TestAuthProvider();
    const { origin, server } = await startProtectedServer(provider);

    const home = tempHome('km-oauth');
    const opened = join(home, 'browser-opened');
    const browser = join(home, 'browser.js');
    writeFileSync(browser, `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(opened)}, 'x');\nfetch(process.argv[2]).then((r) => r.text()).then((t) => process.stdout.write(t));\n`);
    chmodSync(browser, 0o755);
    const callbackPort = await freePort();
    const env = { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'oauth@example.com', KM_BROWSER: browser, KM_OAUTH_PORT: String(callbackPort) };
    const connect = async () => {
      const client = new Client({ name: 'km-oauth-e2e', version: '1.0.0' });
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [KM_BIN, '--name', 'protected', '--url', `${origin}/mcp`], env, stderr: 'ignore' }));
      return client;
    };
    const echo = async (client: Client, message: string) => expect(await client.callTool({ name: 'echo', arguments: { message } })).toMatchObject({ content: [{ text: `Echo: ${message}` }] });
    const stored = () => {
      const files = existsSync(join(home, 'oauth')) ? readdirSync(join(home, 'oauth')) : [];
      expect(files).toHaveLength(1);
      const file = join(home, 'oauth', files[0]!);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      return JSON.parse(readFileSync(file, 'utf8')).tokens as OAuthTokens;
    };
    try {
      // The first session signs in: 401, discovery, registration, the browser's consent, the code for tokens.
      const first = await connect();
      await echo(first, 'signed in');
      expect(provider.consents).toBe(1);
      expect(provider.grants).toEqual(['authorization_code']);
      const signedIn = stored();
      expect(provider.isValid(signedIn.access_token)).toBe(true);
      expect(signedIn.refresh_token).toMatch(/^refresh-/);

      // The access token expires mid-session: the next call is refused, km refreshes, and the call goes through.
      provider.expireAccessTokens();
      await echo(first, 'after a refresh');
      await first.close();
      // Refreshes only, no new code: one per refused request (the SDK's standalone SSE stream may be refused too).
      const refreshes = provider.grants.slice(1);
      expect(refreshes.length).toBeGreaterThan(0);
      expect(provider.grants).toEqual(['authorization_code', ...refreshes.map(() => 'refresh_token')]);
      const refreshed = stored();
      expect(refreshed.access_token).not.toBe(signedIn.access_token);
      expect(refreshed.refresh_token).not.toBe(signedIn.refresh_token);
      expect(provider.isValid(refreshed.access_token)).toBe(true);

      // A later session starts with an expired token on disk: refreshed again, still no browser.
      provider.expireAccessTokens();
      const second = await connect();
      await echo(second, 'next session');
      await second.close();
      expect(provider.grants.length).toBeGreaterThan(1 + refreshes.length);
      expect(provider.grants).toEqual(['authorization_code', ...provider.grants.slice(1).map(() => 'refresh_token')]);
      expect(stored().access_token).not.toBe(refreshed.access_token);
      expect(provider.consents).toBe(1);
      expect(readFileSync(opened, 'utf8')).toBe('x'); // the browser opened for the first sign-in only

      const events = await until('both sessions ended', () => {
        const all = spooledEvents(home);
        return all.filter((e) => e.type === 'session.ended').length === 2 ? all : undefined;
      }, 60_000);
      expect(events.filter((e) => e.type === 'mcp.interaction' && e.method === 'tools/call' && e.outcome === 'ok')).toHaveLength(3);
      const recorded = JSON.stringify(events);
      for (const secret of [signedIn.access_token, signedIn.refresh_token!, refreshed.access_token]) expect(recorded).not.toContain(secret);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 120_000);
});
