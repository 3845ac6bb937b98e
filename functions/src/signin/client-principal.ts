import { GithubLoginSchema } from '@km/shared';
import type { MemberDirectory, SignUp } from '../members/member-directory';
import type { AuthRefusal, Authenticator, Caller, Credentials } from '../ports';

/** What Static Web Apps forwards about a signed-in user, base64 JSON in `x-ms-client-principal`. */
interface ClientPrincipal {
  identityProvider: string;
  userId: string;
  userDetails: string;
  userRoles: string[];
}

/** The GitHub login of a well-formed principal of the GitHub provider, or why not. */
export function githubLoginOf(header: string): { login: string } | { refused: string } {
  let principal: Partial<ClientPrincipal>;
  try {
    principal = JSON.parse(atob(header)) as Partial<ClientPrincipal>;
  } catch {
    return { refused: 'x-ms-client-principal is not base64 JSON' };
  }
  if (principal === null || typeof principal !== 'object') return { refused: 'x-ms-client-principal is not an object' };
  if (principal.identityProvider !== 'github') return { refused: `sign-in is with GitHub, not "${String(principal.identityProvider)}"` };
  if (!Array.isArray(principal.userRoles) || !principal.userRoles.includes('authenticated')) return { refused: 'the principal is not authenticated' };
  const login = GithubLoginSchema.safeParse(principal.userDetails);
  if (!login.success || typeof principal.userId !== 'string' || principal.userId === '') return { refused: 'the principal names no GitHub login' };
  return { login: login.data };
}

/**
 * Azure: the dashboard and the API sit behind Static Web Apps' GitHub sign-in, which forwards the signed-in user as
 * `x-ms-client-principal`. The header is trusted only where the deployment says the Functions are reachable through
 * Static Web Apps alone (KM_TRUST_SWA_PRINCIPAL, set by the Bicep, which also restricts the Function app's access);
 * anywhere else a client could forge it. Requests with an API key (km wrappers) are the key's.
 */
export class ClientPrincipalAuthenticator implements Authenticator {
  constructor(
    private readonly keys: Authenticator,
    private readonly members: MemberDirectory,
    private readonly signUp: SignUp,
  ) {}

  async authenticate(credentials: Credentials): Promise<Caller | AuthRefusal> {
    if (credentials.authorization !== null || credentials.clientPrincipal === null) return this.keys.authenticate(credentials);
    const principal = githubLoginOf(credentials.clientPrincipal);
    if ('refused' in principal) return { refused: 'unknown' };
    const outcome = await this.members.resolve(principal.login, 'swa-github', this.signUp);
    return 'caller' in outcome ? outcome.caller : { refused: 'unknown' };
  }
}
