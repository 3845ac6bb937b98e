import { GithubLoginSchema } from '@km/shared';

/** A GitHub OAuth app (github.com/settings/developers); the URLs are GitHub's unless a test double stands in. */
export interface GithubOAuthApp {
  clientId: string;
  clientSecret: string;
  /** https://github.com: authorize and token endpoints. */
  webUrl: string;
  /** https://api.github.com: the signed-in user. */
  apiUrl: string;
}

export function githubAuthorizeUrl(app: GithubOAuthApp, redirectUri: string, state: string): string {
  const query = new URLSearchParams({ client_id: app.clientId, redirect_uri: redirectUri, state, scope: 'read:user', allow_signup: 'false' });
  return `${app.webUrl}/login/oauth/authorize?${query}`;
}

/** Trades the callback's code for a token and asks GitHub whose it is; throws with what GitHub said. */
export async function fetchGithubLogin(app: GithubOAuthApp, code: string, redirectUri: string): Promise<string> {
  const tokenResponse = await fetch(`${app.webUrl}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: app.clientId, client_secret: app.clientSecret, code, redirect_uri: redirectUri }),
    signal: AbortSignal.timeout(10_000),
  });
  const token = (await tokenResponse.json().catch(() => null)) as { access_token?: unknown; error?: unknown; error_description?: unknown } | null;
  if (!tokenResponse.ok || typeof token?.access_token !== 'string') {
    throw new Error(`the code was not accepted (${String(token?.error_description ?? token?.error ?? tokenResponse.status)})`);
  }
  const userResponse = await fetch(`${app.apiUrl}/user`, {
    headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token.access_token}`, 'user-agent': 'kilometers' },
    signal: AbortSignal.timeout(10_000),
  });
  const user = (await userResponse.json().catch(() => null)) as { login?: unknown } | null;
  const login = GithubLoginSchema.safeParse(user?.login);
  if (!userResponse.ok || !login.success) throw new Error(`GitHub did not say who signed in (${userResponse.status})`);
  return login.data;
}

/** The app km serve signs in with, from KM_GITHUB_CLIENT_ID / KM_GITHUB_CLIENT_SECRET; null when not configured. */
export function githubOAuthAppFromEnv(env: NodeJS.ProcessEnv = process.env): GithubOAuthApp | null {
  const clientId = env.KM_GITHUB_CLIENT_ID?.trim();
  const clientSecret = env.KM_GITHUB_CLIENT_SECRET?.trim();
  if (!clientId && !clientSecret) return null;
  if (!clientId || !clientSecret) throw new Error('GitHub sign-in needs both KM_GITHUB_CLIENT_ID and KM_GITHUB_CLIENT_SECRET (or neither)');
  return {
    clientId,
    clientSecret,
    webUrl: (env.KM_GITHUB_URL?.trim() || 'https://github.com').replace(/\/+$/, ''),
    apiUrl: (env.KM_GITHUB_API_URL?.trim() || 'https://api.github.com').replace(/\/+$/, ''),
  };
}
