import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * OAuth for `km --url` (issue 13): the authorization code flow with PKCE that the MCP SDK's client runs, with what
 * the SDK leaves to the application. The client registration, the tokens and the PKCE verifier are kept per
 * remote server in KM_HOME/oauth (0600); the user consents in the browser, and the browser's redirect comes back to
 * a loopback listener here. The SDK refreshes tokens itself.
 */
export const DEFAULT_OAUTH_PORT = 7812;
/** How long km waits for the user to consent in the browser. */
const CONSENT_TIMEOUT_MS = 5 * 60_000;

interface Stored {
  client?: OAuthClientInformationMixed;
  tokens?: OAuthTokens;
  codeVerifier?: string;
}

export class KmOAuthProvider implements OAuthClientProvider {
  private readonly file: string;
  private readonly expectedState = randomBytes(16).toString('hex');
  private listener: Server | null = null;
  private code: Promise<string> | null = null;

  constructor(
    home: string,
    serverUrl: URL,
    private readonly port: number,
    private readonly tell: (line: string) => void,
    private readonly browser: string | undefined,
  ) {
    const dir = join(home, 'oauth');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, `${createHash('sha256').update(serverUrl.href).digest('hex').slice(0, 32)}.json`);
  }

  get redirectUrl(): string {
    return `http://127.0.0.1:${this.port}/callback`;
  }

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'km (Kilometers)', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }

  state(): string {
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.read().client;
  }

  saveClientInformation(client: OAuthClientInformationMixed): void {
    this.write({ ...this.read(), client });
  }

  tokens(): OAuthTokens | undefined {
    return this.read().tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.write({ ...this.read(), tokens });
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.write({ ...this.read(), codeVerifier });
  }

  codeVerifier(): string {
    const verifier = this.read().codeVerifier;
    if (!verifier) throw new Error('no PKCE verifier saved for this sign-in');
    return verifier;
  }

  /** The SDK wants the user at the authorization server: listen for the redirect, then open the browser. */
  redirectToAuthorization(authorizationUrl: URL): void {
    this.code = this.awaitCode();
    this.tell(`km: sign in to ${authorizationUrl.host} to use this server: ${authorizationUrl.href}`);
    const [command, ...args] = this.browser ? [this.browser] : process.platform === 'darwin' ? ['open'] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""'] : ['xdg-open'];
    try {
      const opened = spawn(command!, [...args, authorizationUrl.href], { stdio: 'ignore', detached: true });
      opened.on('error', () => this.tell('km: could not open a browser; open the address above yourself'));
      opened.unref();
    } catch {
      this.tell('km: could not open a browser; open the address above yourself');
    }
  }

  /** The authorization code the browser brought back, once the user consented. */
  authorizationCode(): Promise<string> {
    return this.code ?? Promise.reject(new Error('no sign-in is under way'));
  }

  private awaitCode(): Promise<string> {
    this.listener?.close();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error('nobody signed in within 5 minutes')), CONSENT_TIMEOUT_MS);
      timer.unref();
      const finish = (outcome: Error | string) => {
        clearTimeout(timer);
        this.listener?.close();
        this.listener = null;
        if (typeof outcome === 'string') resolve(outcome);
        else reject(outcome);
      };
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', this.redirectUrl);
        if (url.pathname !== '/callback') return void res.writeHead(404).end();
        const code = url.searchParams.get('code');
        const error = url.searchParams.get('error');
        const page = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
        if (url.searchParams.get('state') !== this.expectedState) return void page(400, 'km: this sign-in was not started by km (state does not match).');
        if (error || !code) {
          page(400, `km: sign-in refused: ${error ?? 'no code'}. You can close this tab.`);
          return finish(new Error(`sign-in refused: ${error ?? 'no code'}${url.searchParams.get('error_description') ? ` (${url.searchParams.get('error_description')})` : ''}`));
        }
        page(200, 'km: signed in. You can close this tab and go back to your MCP client.');
        finish(code);
      });
      server.on('error', (err) => finish(new Error(`cannot listen on ${this.redirectUrl} for the sign-in: ${err.message}; set KM_OAUTH_PORT to a free port`)));
      server.listen(this.port, '127.0.0.1');
      this.listener = server;
    });
  }

  private read(): Stored {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Stored;
    } catch {
      return {};
    }
  }

  private write(stored: Stored): void {
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(stored), { mode: 0o600 });
    renameSync(temp, this.file);
  }
}
