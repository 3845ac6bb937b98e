// A deep import: the rules alone, without zod and the event schemas, keep the wrap bundle small.
import { matchText } from '@km/shared/dist/risk/rules';
import type { PolicyConfig } from '../config/project-config';

/**
 * The project's policy as decisions over single messages: pure, no I/O, so the gate in policy-gate.ts stays a
 * matter of bytes and this stays a matter of rules. A request is blocked for the first rule it breaks.
 */
export interface Block {
  ruleId: 'policy-deny-server' | 'policy-server-not-allowed' | 'policy-deny-tool' | 'policy-tool-not-allowed' | 'policy-deny-argument' | 'policy-secret-in-request' | 'config-invalid';
  reason: string;
}

/** `*` any run of characters, `?` one character; everything else literal; the whole name must match. */
export function globMatcher(glob: string): (text: string) => boolean {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  const regex = new RegExp(`^${source}$`);
  return (text) => regex.test(text);
}

const firstMatch = (globs: readonly string[], text: string) => globs.find((glob) => globMatcher(glob)(text));

function stringLeaves(value: unknown, out: string[] = [], depth = 0): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object' && depth < 64) for (const v of Object.values(value)) stringLeaves(v, out, depth + 1);
  return out;
}

export class Policy {
  constructor(
    readonly config: PolicyConfig,
    readonly serverName: string,
    /** Why km.json could not be read (file:line:column): then the policy is unknown and every tools/call is refused. */
    readonly configProblem: string | null = null,
  ) {}

  /** Whether the server itself may run at all: when not, every request is refused. */
  serverBlock(): Block | null {
    const denied = firstMatch(this.config.denyServers, this.serverName);
    if (denied) return { ruleId: 'policy-deny-server', reason: `server "${this.serverName}" is denied by km.json policy.deny.servers ("${denied}")` };
    if (this.config.allowServers && !firstMatch(this.config.allowServers, this.serverName)) {
      return { ruleId: 'policy-server-not-allowed', reason: `server "${this.serverName}" is not in km.json policy.allow.servers` };
    }
    return null;
  }

  toolBlock(tool: string): Block | null {
    const denied = firstMatch(this.config.denyTools, tool);
    if (denied) return { ruleId: 'policy-deny-tool', reason: `tool "${tool}" is denied by km.json policy.deny.tools ("${denied}")` };
    if (this.config.allowTools && !firstMatch(this.config.allowTools, tool)) {
      return { ruleId: 'policy-tool-not-allowed', reason: `tool "${tool}" is not in km.json policy.allow.tools` };
    }
    return null;
  }

  /** Whether tools/list results must be rewritten (some tools may be hidden). */
  get filtersTools(): boolean {
    return this.config.denyTools.length > 0 || this.config.allowTools !== null;
  }

  request(method: string, params: Record<string, unknown> | undefined): Block | null {
    if (this.configProblem && method === 'tools/call') {
      return { ruleId: 'config-invalid', reason: `km.json cannot be read or its policy cannot be used, so tool calls are refused: ${this.configProblem}` };
    }
    const server = this.serverBlock();
    if (server) return server;
    if (method === 'tools/call' && typeof params?.name === 'string') {
      const tool = this.toolBlock(params.name);
      if (tool) return tool;
      if (this.config.denyArguments.length > 0) {
        for (const text of stringLeaves(params.arguments)) {
          const denied = firstMatch(this.config.denyArguments, text);
          if (denied) return { ruleId: 'policy-deny-argument', reason: `an argument of tool "${params.name}" matches km.json policy.deny.arguments ("${denied}")` };
        }
      }
    }
    if (this.config.blockSecrets) {
      for (const text of stringLeaves(params)) {
        const secret = matchText(text, 'request').find((m) => m.rule.kind === 'secret');
        if (secret) return { ruleId: 'policy-secret-in-request', reason: `the request carries a secret (${secret.rule.id}) and km.json policy.blockSecrets is on` };
      }
    }
    return null;
  }

  /** The tools of a tools/list result the client may see; null when nothing is hidden. */
  visibleTools(tools: unknown[]): unknown[] | null {
    const visible = tools.filter((tool) => {
      const name = tool && typeof tool === 'object' ? (tool as Record<string, unknown>).name : undefined;
      return typeof name !== 'string' || this.toolBlock(name) === null;
    });
    return visible.length === tools.length ? null : visible;
  }
}
