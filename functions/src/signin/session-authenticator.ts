import type { AuthRefusal, Authenticator, Caller, Credentials } from '../ports';
import { cookieValue, SESSION_COOKIE, type SignInSessions } from './sign-in-sessions';

/** Whether a GitHub login still belongs to an org (the member directory). */
export interface Membership {
  isMember(login: string, orgId: string): Promise<boolean>;
}

/**
 * km serve beyond loopback: a request with a key is the key's; a browser without one is its dashboard session's.
 * A session opened with a key is checked against the key again on each request, so revoking the key signs it out;
 * one opened with GitHub against the member directory, so removing the member does.
 */
export class SessionAuthenticator implements Authenticator {
  constructor(
    private readonly keys: Authenticator & { byKeyHash?(keyHash: string): Promise<Caller | AuthRefusal> },
    private readonly sessions: SignInSessions,
    private readonly members?: Membership,
  ) {}

  async authenticate(credentials: Credentials): Promise<Caller | AuthRefusal> {
    const token = credentials.authorization === null ? cookieValue(credentials.cookie, SESSION_COOKIE) : null;
    if (token === null) return this.keys.authenticate(credentials);
    const session = this.sessions.find(token);
    if (!session) return { refused: 'expired' };
    if (session.keyHash && this.keys.byKeyHash) {
      const again = await this.keys.byKeyHash(session.keyHash);
      if ('refused' in again) {
        this.sessions.end(token);
        return again;
      }
    }
    const login = session.caller.actor.startsWith('github:') ? session.caller.actor.slice('github:'.length) : null;
    if (!session.keyHash && login !== null && this.members && !(await this.members.isMember(login, session.caller.orgId))) {
      this.sessions.end(token);
      return { refused: 'removed' };
    }
    return session.caller;
  }
}
