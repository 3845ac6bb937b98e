import { useEffect, useState } from 'preact/hooks';
import { API_BASE } from './api';

/** Who the dashboard is signed in as; null: nobody needs to be (km serve on loopback answers without a key). */
export interface Account {
  orgId: string;
  role: string;
  actor: string;
}

/**
 * Asks the API who we are. 401: a km serve beyond loopback (or Azure) that wants a sign-in. The answer of a
 * loopback km serve is the local owner, shown as nothing.
 */
export async function whoami(): Promise<{ kind: 'signed-in'; account: Account } | { kind: 'sign-in'; reason: string } | { kind: 'unknown' }> {
  try {
    const res = await fetch(`${API_BASE}/api/whoami`, { headers: { accept: 'application/json' } });
    if (res.status === 401) return { kind: 'sign-in', reason: ((await res.json().catch(() => ({}))) as { error?: string }).error ?? '' };
    if (!res.ok) return { kind: 'unknown' };
    return { kind: 'signed-in', account: (await res.json()) as Account };
  } catch {
    return { kind: 'unknown' };
  }
}

/** The sign-in page: GitHub (when the server has an OAuth app, or in Azure) and an API key. */
export function SignIn({ reason }: { reason: string }) {
  const [github, setGithub] = useState<string | null>(null);
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    fetch(`${API_BASE}/auth/providers`)
      .then(async (res) => (res.ok ? ((await res.json()) as { github?: boolean }) : null))
      // Azure's Static Web Apps has no /auth/providers: its own GitHub sign-in is at /.auth/login/github.
      .then((providers) => setGithub(providers === null ? '/.auth/login/github' : providers.github ? `${API_BASE}/auth/github` : null))
      .catch(() => setGithub(null));
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(`${API_BASE}/auth/key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: key.trim() }) });
      if (res.ok) return location.reload();
      setError(((await res.json().catch(() => ({}))) as { error?: string }).error ?? `sign-in failed (${res.status})`);
    } catch {
      setError('cannot reach the server');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Sign in to Kilometers</h1>
      <p class="muted">{reason || 'This dashboard belongs to a team: sign in to see your org.'}</p>
      {github ? (
        <p>
          <a class="button" href={github}>
            Sign in with GitHub
          </a>
        </p>
      ) : null}
      <form onSubmit={submit} aria-label="Sign in with an API key">
        <label for="api-key">API key</label>
        <input id="api-key" name="apiKey" type="password" autoComplete="off" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} placeholder="km_live_..." required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : null}
      </form>
      <p class="muted">An admin makes keys with <code>km keys create</code>; <code>km dashboard</code> signs you in after <code>km login</code>.</p>
    </main>
  );
}

/** The org and role in the header, with a way out; nothing for the local owner of a loopback km serve. */
export function AccountBadge({ account }: { account: Account | null }) {
  if (!account || account.actor === 'local') return null;
  const signOut = async () => {
    await fetch(`${API_BASE}/auth/logout`, { method: 'POST' }).catch(() => undefined);
    location.reload();
  };
  return (
    <div class="account" aria-label="Signed in">
      <span>
        {account.orgId} · {account.role}
      </span>
      <button type="button" class="link" onClick={signOut}>
        Sign out
      </button>
    </div>
  );
}
