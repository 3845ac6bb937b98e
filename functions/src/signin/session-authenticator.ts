import type { Role } from '@km/shared';
import type { AuthRefusal, Authenticator, Caller, Credentials } from '../ports';
import { cookieValue, SESSION_COOKIE, type SignInSessions } from './sign-in-sessions';

/**
 * A GitHub login's role in an org now and since when it is a member (joinedAt, null until it signs in after its
 * invitation); null when it no longer belongs to it (the member directory).
 */
export interface Membership {
  membershipOf(login: string, orgId: string): Promise<{ role: Role; joinedAt: string | null } | null>;
}

/**
 * km serve beyond loopback: a request with a key is the key's; a browser without one is its dashboard session's.
 * A session opened with a key is checked against the key again on each request, so revoking the key signs it out;
 * one opened with GitHub against the member directory, so removing the member does, and a new role applies at once
 * (a session kept the role of its sign-in for 12 hours: an owner demoted could still make owner keys).
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
    if (!session.keyHash && login !== null && this.members) {
      const membership = await this.members.membershipOf(login, session.caller.orgId);
      // A membership begun after the session (or not yet: invited again, not signed in since) is not the one it was
      // opened in: a removed member's session came back with the new role when they were invited again.
      if (membership === null || membership.joinedAt === null || Date.parse(membership.joinedAt) > session.openedAtMs) {
        this.sessions.end(token);
        return { refused: 'removed' };
      }
      if (membership.role !== session.caller.role) return { ...session.caller, role: membership.role };
    }
    return session.caller;
  }
}
