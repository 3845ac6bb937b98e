import type { AuthRefusal, Authenticator, Caller, Credentials } from '../ports';
import { cookieValue, SESSION_COOKIE, type SignInSessions } from './sign-in-sessions';

/**
 * km serve beyond loopback: a request with a key is the key's; a browser without one is its dashboard session's.
 * A session opened with a key is checked against the key again on each request, so revoking the key signs it out.
 */
export class SessionAuthenticator implements Authenticator {
  constructor(
    private readonly keys: Authenticator & { byKeyHash?(keyHash: string): Promise<Caller | AuthRefusal> },
    private readonly sessions: SignInSessions,
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
    return session.caller;
  }
}
