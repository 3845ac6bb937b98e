import { newEventId, notFound, TeamIdSchema, type LoggedEvent, type TeamSet } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { MEMBERS_MODEL } from '../members/member-directory';

/** A team: a name and the users it groups, as km records users (KM_USER, else git's user.email, else the OS user). */
export interface TeamDoc {
  kind: 'team';
  teamId: string;
  name: string;
  userIds: string[];
  updatedAt: string;
  updatedBy: string;
}

const teamDocId = (teamId: string) => `team-${teamId}`;

/**
 * Teams as events (`team.set` says the whole team each time), kept beside the org's members. A team's figures
 * are its users' (cost, latency and findings are kept per user), summed or merged when asked, so changing a team
 * changes its history's figures too: a team is who is in it now.
 */
export class TeamDirectory {
  constructor(
    private readonly store: ReadModelStore,
    private readonly append: (events: LoggedEvent[]) => Promise<void>,
    private readonly now: () => Date,
    private readonly newBatchId: () => string,
  ) {}

  async set(orgId: string, teamId: string, name: string, userIds: readonly string[], actor: string): Promise<TeamDoc> {
    const ts = this.now().toISOString();
    const users = [...new Set(userIds)].sort();
    const event: TeamSet = { id: newEventId(this.now().getTime()), v: 1, type: 'team.set', ts, orgId, teamId, name, userIds: users, actor };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    const doc: TeamDoc = { kind: 'team', teamId, name, userIds: users, updatedAt: ts, updatedBy: actor };
    await this.store.upsert(MEMBERS_MODEL, orgId, teamDocId(teamId), doc);
    return doc;
  }

  /**
   * Takes a user out of every team of the org that names them (in any case: a GitHub login and KM_USER may differ in
   * case only), each team said again without them (a team.set, so the cost fold's team budgets follow). The teams left.
   */
  async leave(orgId: string, userId: string, actor: string): Promise<string[]> {
    const same = (candidate: string) => candidate.toLowerCase() === userId.toLowerCase();
    const left: string[] = [];
    for (const team of await this.list(orgId)) {
      if (!team.userIds.some(same)) continue;
      await this.set(orgId, team.teamId, team.name, team.userIds.filter((candidate) => !same(candidate)), actor);
      left.push(team.teamId);
    }
    return left;
  }

  async list(orgId: string): Promise<TeamDoc[]> {
    const docs = await this.store.query<TeamDoc>(MEMBERS_MODEL, orgId, { where: { kind: 'team' } });
    return docs.sort((a, b) => a.teamId.localeCompare(b.teamId));
  }
}

/** The users of a team of the org, for a route's teamId filter; a team the org does not have is a 404. */
export async function teamUsers(store: ReadModelStore, orgId: string, teamId: string): Promise<ReadonlySet<string>> {
  const found = await store.get<TeamDoc>(MEMBERS_MODEL, orgId, teamDocId(teamId));
  if (!found || found.doc.kind !== 'team') {
    // Only a name a team can have is offered to be made (team ids are lowercase).
    const makeIt = TeamIdSchema.safeParse(teamId).success ? `, or make it with PUT /api/teams/${teamId}` : ` (team ids are lowercase letters, digits, ".", "_" and "-")`;
    throw notFound(`no team "${teamId}" in your org: see GET /api/teams${makeIt}`);
  }
  return new Set(found.doc.userIds);
}
