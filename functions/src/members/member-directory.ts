import { ApiError, newEventId, notFound, type LoggedEvent, type MemberInvited, type MemberRemoved, type MemberSignedIn, type Role } from '@km/shared';
import type { Caller, ReadModelStore } from '../ports';

/** The read model of members: who signs in to which org, and the invitations not taken up yet. */
export const MEMBERS_MODEL = 'members';

/** Found by the login alone (the org is not known before sign-in), in a partition of its own. */
interface MemberLookupDoc {
  kind: 'lookup';
  login: string;
  orgId: string;
  role: Role;
  /** Set when an owner or admin removed the login from orgId: its sign-in is refused until it is invited again. */
  removedAt?: string;
}

/** What the org sees of a member or an invitation (`removed`: kept for the record, listed no more). */
export interface MemberDoc {
  kind: 'member' | 'removed';
  login: string;
  role: Role;
  invitedAt: string | null;
  invitedBy: string | null;
  /** Null until the first sign-in: an invitation. */
  joinedAt: string | null;
  lastSignInAt: string | null;
}

const RECORD_SIGN_IN_EVERY_MS = 12 * 3600 * 1000;
const lookupPartition = (login: string) => `github:${login.toLowerCase()}`;
const memberId = (login: string) => `member-${login.toLowerCase()}`;

/** Where a GitHub user may start an org of their own: the cloud's sign-up (`open`), or nowhere but by invitation. */
export type SignUp = 'open' | 'invitation';

export type SignInOutcome = { caller: Caller } | { refused: string };

/**
 * Members as events: an admin invites a GitHub login (`member.invited`), the login's first sign-in makes it a
 * member (`member.signed_in` with firstTime), later sign-ins are recorded the same way for the audit trail. With
 * sign-up open, a login nobody invited gets an org of its own (`gh-<login>`) and is its first member, so its owner.
 * One org per login: a second invitation of the same login to another org is refused.
 */
export class MemberDirectory {
  constructor(
    private readonly store: ReadModelStore,
    private readonly append: (events: LoggedEvent[]) => Promise<void>,
    private readonly now: () => Date,
    private readonly newBatchId: () => string,
  ) {}

  async invite(orgId: string, login: string, role: Role, actor: string): Promise<MemberDoc> {
    const found = await this.lookup(login);
    if (found && !found.removedAt && found.orgId !== orgId) throw new ApiError(403, `${login} is a member of another org: a login belongs to one org`);
    const ts = this.now().toISOString();
    const event: MemberInvited = { id: newEventId(this.now().getTime()), v: 1, type: 'member.invited', ts, orgId, login, role, actor };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    // Invited again after a removal: a new membership, joined at its next sign-in.
    const existing = await this.find(orgId, login);
    const doc: MemberDoc = { kind: 'member', login, role, invitedAt: ts, invitedBy: actor, joinedAt: existing?.joinedAt ?? null, lastSignInAt: existing?.lastSignInAt ?? null };
    await this.store.upsert<MemberLookupDoc>(MEMBERS_MODEL, lookupPartition(login), lookupPartition(login), { kind: 'lookup', login, orgId, role });
    await this.store.upsert(MEMBERS_MODEL, orgId, memberId(login), doc);
    return doc;
  }

  /** A member or open invitation of the org, by login (any case); null when there is none. */
  async find(orgId: string, login: string): Promise<MemberDoc | null> {
    const doc = (await this.store.get<MemberDoc>(MEMBERS_MODEL, orgId, memberId(login)))?.doc;
    return doc?.kind === 'member' ? doc : null;
  }

  /**
   * Takes a member or invitation out of the org (`member.removed`): their sign-in is refused from the next request on
   * (the lookup first, as it is what lets them in), and the org's list no longer shows them. Who may remove whom is
   * the caller's to check (removeMember).
   */
  async remove(orgId: string, login: string, actor: string): Promise<MemberDoc> {
    const member = await this.find(orgId, login);
    if (!member) throw notFound(`no member or invitation "${login}" in your org: see GET /api/members (km members list)`);
    const ts = this.now().toISOString();
    const event: MemberRemoved = { id: newEventId(this.now().getTime()), v: 1, type: 'member.removed', ts, orgId, login: member.login, role: member.role, actor };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    const found = await this.lookup(login);
    if (found && found.orgId === orgId) await this.store.upsert<MemberLookupDoc>(MEMBERS_MODEL, lookupPartition(login), lookupPartition(login), { ...found, removedAt: ts });
    const removed: MemberDoc = { ...member, kind: 'removed' };
    await this.store.upsert(MEMBERS_MODEL, orgId, memberId(login), removed);
    return removed;
  }

  /**
   * The login's role in the org now, null when it is not (or no longer) a member: a dashboard session of a removed
   * member ends at its next request, and one of a member whose role changed acts with the new role from then on.
   */
  async roleOf(login: string, orgId: string): Promise<Role | null> {
    const found = await this.lookup(login);
    return found !== null && !found.removedAt && found.orgId === orgId ? found.role : null;
  }

  /** roleOf, and since when the login is a member (null: invited, not signed in since): a session older is not theirs. */
  async membershipOf(login: string, orgId: string): Promise<{ role: Role; joinedAt: string | null } | null> {
    const role = await this.roleOf(login, orgId);
    if (role === null) return null;
    const member = (await this.store.get<MemberDoc>(MEMBERS_MODEL, orgId, memberId(login)))?.doc;
    return { role, joinedAt: member?.kind === 'member' ? member.joinedAt : null };
  }

  async list(orgId: string): Promise<MemberDoc[]> {
    const docs = await this.store.query<MemberDoc>(MEMBERS_MODEL, orgId, { where: { kind: 'member' } });
    return docs.sort((a, b) => a.login.localeCompare(b.login));
  }

  /** A GitHub user has proved who they are: their org and role, or why they may not in. Records the sign-in. */
  async signIn(login: string, provider: MemberSignedIn['provider'], signUp: SignUp): Promise<SignInOutcome> {
    const found = await this.lookup(login);
    let orgId: string;
    let role: Role;
    // Not a new org of its own either: one it was removed from could be its gh- org, and would take it back.
    if (found?.removedAt) return { refused: `${login} was removed from the org it belonged to: ask an admin to invite you again, then sign in` };
    if (found) {
      ({ orgId, role } = found);
    } else if (signUp === 'open') {
      orgId = `gh-${login.toLowerCase()}`;
      role = 'owner';
      await this.store.upsert<MemberLookupDoc>(MEMBERS_MODEL, lookupPartition(login), lookupPartition(login), { kind: 'lookup', login, orgId, role });
    } else {
      return { refused: `${login} is not a member of any org here: ask an admin to invite you (km members invite ${login}), then sign in again` };
    }
    const ts = this.now().toISOString();
    const existing = await this.find(orgId, login);
    const firstTime = !existing?.joinedAt;
    const event: MemberSignedIn = { id: newEventId(this.now().getTime()), v: 1, type: 'member.signed_in', ts, orgId, login, provider, role, firstTime };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    const doc: MemberDoc = { kind: 'member', login, role, invitedAt: existing?.invitedAt ?? null, invitedBy: existing?.invitedBy ?? null, joinedAt: existing?.joinedAt ?? ts, lastSignInAt: ts };
    await this.store.upsert(MEMBERS_MODEL, orgId, memberId(login), doc);
    return { caller: { orgId, role, actor: `github:${login}` } };
  }

  /**
   * The caller of a login a front end vouches for on every request (Static Web Apps): a sign-in is recorded when
   * it is the first, or the last was more than a working day ago, not once per request.
   */
  async resolve(login: string, provider: MemberSignedIn['provider'], signUp: SignUp): Promise<SignInOutcome> {
    const found = await this.lookup(login);
    if (found && !found.removedAt) {
      const doc = await this.find(found.orgId, login);
      const last = doc?.lastSignInAt ? Date.parse(doc.lastSignInAt) : null;
      if (doc?.joinedAt && last !== null && this.now().getTime() - last < RECORD_SIGN_IN_EVERY_MS) {
        return { caller: { orgId: found.orgId, role: found.role, actor: `github:${login}` } };
      }
    }
    return this.signIn(login, provider, signUp);
  }

  private async lookup(login: string): Promise<MemberLookupDoc | null> {
    return (await this.store.get<MemberLookupDoc>(MEMBERS_MODEL, lookupPartition(login), lookupPartition(login)))?.doc ?? null;
  }
}
