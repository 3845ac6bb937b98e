import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hashApiKey, type ApiKeyAuthenticator } from '../adapters/api-key-authenticator';
import type { Logger } from '../logger';
import type { MemberDirectory } from '../members/member-directory';
import { isRefusal, type Caller } from '../ports';
import { readBodyAtMost } from '../host/node-http-bridge';
import { SESSION_COOKIE, SESSION_SECONDS, cookieValue, type SignInSessions } from './sign-in-sessions';
import { fetchGithubLogin, githubAuthorizeUrl, type GithubOAuthApp } from './github-oauth';

export interface SignInEndpointsOptions {
  keys: ApiKeyAuthenticator;
  sessions: SignInSessions;
  members: MemberDirectory;
  /** The GitHub OAuth app the admin configured (KM_GITHUB_CLIENT_ID / _SECRET); none: sign-in with a key only. */
  github: GithubOAuthApp | null;
  logger: Logger;
  /** The host's base URL as the browser reaches it, for the OAuth redirect. */
  publicUrl: (req: IncomingMessage) => string;
}

const STATE_COOKIE = 'km_oauth_state';
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/**
 * The dashboard's sign-in on km serve (`/auth/...`, beside `/api/...`): with an API key, with GitHub through the
 * OAuth app the admin configured, and with the one-time link `km dashboard` opens for a logged-in member. Every way
 * ends in the same HttpOnly, SameSite=Strict session cookie; the API reads it through SessionAuthenticator.
 */
export function signInEndpoints(options: SignInEndpointsOptions): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const { keys, sessions, members, github, logger } = options;

  const setSession = (req: IncomingMessage, res: ServerResponse, token: string) =>
    res.setHeader('set-cookie', cookie(req, SESSION_COOKIE, token, SESSION_SECONDS));

  return async (req, res, path) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://host');
    if (path === '/auth/providers' && method === 'GET') {
      return json(res, 200, { apiKey: true, github: github !== null });
    }
    if (path === '/auth/key' && method === 'POST') {
      const body = await readBodyAtMost(req, 4096);
      const apiKey = typeof body === 'string' ? null : parseKey(body);
      if (!apiKey) return json(res, 400, { error: 'send {"apiKey": "<your key>"}' });
      const caller = await keys.authenticate({ authorization: `Bearer ${apiKey}`, cookie: null, clientPrincipal: null });
      if (isRefusal(caller)) {
        const error = caller.refused === 'revoked' ? 'this key was revoked: ask an admin for a new one' : caller.refused === 'malformed' ? 'that is not an API key: a key has no spaces' : 'unknown API key';
        return json(res, 401, { error, reason: caller.refused });
      }
      setSession(req, res, sessions.open(caller, hashApiKey(apiKey)));
      return json(res, 200, whoami(caller));
    }
    if (path === '/auth/link' && method === 'POST') {
      // km dashboard, for a member logged in with a key: a link that works once, so no key travels in a URL.
      const caller = await keys.authenticate({ authorization: req.headers.authorization ?? null, cookie: null, clientPrincipal: null });
      if (isRefusal(caller) || req.headers.authorization === undefined) return json(res, 401, { error: 'send the key you logged in with as Authorization: Bearer <key>' });
      const key = /^Bearer\s+(\S+)/i.exec(req.headers.authorization)?.[1] ?? '';
      return json(res, 200, { url: `${options.publicUrl(req)}/auth/claim?token=${sessions.link(caller, hashApiKey(key))}` });
    }
    if (path === '/auth/claim' && method === 'GET') {
      const token = sessions.claim(url.searchParams.get('token') ?? '');
      if (!token) return page(res, 401, 'This sign-in link was used already or has expired: run km dashboard again.');
      setSession(req, res, token);
      return redirect(res, '/');
    }
    if (path === '/auth/logout' && method === 'POST') {
      const token = cookieValue(req.headers.cookie ?? null, SESSION_COOKIE);
      if (token) sessions.end(token);
      res.setHeader('set-cookie', cookie(req, SESSION_COOKIE, '', 0));
      return json(res, 200, { signedOut: true });
    }
    if (path === '/auth/github' && method === 'GET') {
      if (!github) return page(res, 404, 'GitHub sign-in is not configured on this km serve: set KM_GITHUB_CLIENT_ID and KM_GITHUB_CLIENT_SECRET, or sign in with an API key.');
      const state = randomBytes(24).toString('base64url');
      res.setHeader('set-cookie', cookie(req, STATE_COOKIE, state, 600, 'Lax'));
      return redirect(res, githubAuthorizeUrl(github, `${options.publicUrl(req)}/auth/github/callback`, state));
    }
    if (path === '/auth/github/callback' && method === 'GET') {
      if (!github) return page(res, 404, 'GitHub sign-in is not configured on this km serve.');
      const state = url.searchParams.get('state');
      // The state came back in the cookie set when the sign-in started: a callback this browser did not start is refused.
      if (!state || state !== cookieValue(req.headers.cookie ?? null, STATE_COOKIE)) return page(res, 400, 'This sign-in was not started from this browser (state mismatch): start again from the dashboard.');
      const code = url.searchParams.get('code');
      if (!code) return page(res, 400, `GitHub did not sign you in${url.searchParams.get('error') ? ` (${url.searchParams.get('error')})` : ''}.`);
      let login: string;
      try {
        login = await fetchGithubLogin(github, code, `${options.publicUrl(req)}/auth/github/callback`);
      } catch (error) {
        logger.warn(`GitHub sign-in failed: ${(error as Error).message}`);
        return page(res, 502, `GitHub sign-in failed: ${(error as Error).message}`);
      }
      const outcome = await members.signIn(login, 'github', 'invitation');
      if ('refused' in outcome) return page(res, 403, outcome.refused);
      res.setHeader('set-cookie', [cookie(req, SESSION_COOKIE, sessions.open(outcome.caller), SESSION_SECONDS), cookie(req, STATE_COOKIE, '', 0, 'Lax')]);
      return redirect(res, '/');
    }
    return json(res, 404, { error: `no sign-in endpoint ${method} ${path}` });
  };
}

const whoami = (caller: Caller) => ({ orgId: caller.orgId, role: caller.role, projectId: caller.projectId ?? null, actor: caller.actor });

function parseKey(body: Buffer): string | null {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { apiKey?: unknown };
    return typeof parsed.apiKey === 'string' && /^\S{8,400}$/.test(parsed.apiKey) ? parsed.apiKey : null;
  } catch {
    return null;
  }
}

/** HttpOnly (no script reads it), SameSite (no other site sends it), Secure behind https. */
function cookie(req: IncomingMessage, name: string, value: string, maxAgeSeconds: number, sameSite: 'Strict' | 'Lax' = 'Strict'): string {
  const secure = req.headers['x-forwarded-proto'] === 'https' || (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${name}=${value}; Path=/; HttpOnly; SameSite=${sameSite}; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, JSON_TYPE);
  res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store' });
  res.end();
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><meta charset="utf-8"><title>km sign-in</title><p>${escapeHtml(message)}</p><p><a href="/">Back to the dashboard</a></p>`);
}
