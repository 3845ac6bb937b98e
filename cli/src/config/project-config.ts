import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The project's km.json (the nearest one upward from the cwd), read loosely: only the risk monitor's fields
 * are looked at here, and a field of the wrong type is ignored with the default kept, never a failed start.
 * Only node built-ins: the forwarding thread reads the policy from here before spawning the server.
 */
export type CaptureMode = 'metadata' | 'redacted' | 'full';

export interface PolicyConfig {
  denyServers: string[];
  allowServers: string[] | null;
  denyTools: string[];
  allowTools: string[] | null;
  /** Globs matched against each string argument of a tools/call. */
  denyArguments: string[];
  blockSecrets: boolean;
}

/** The nearest km.json upward from a directory: where it is, what it holds, and why it holds nothing if it is not JSON. */
export interface ProjectConfigFile {
  dir: string;
  config: Record<string, unknown>;
  problem: string | null;
}

/** The one walk up to km.json that project attribution, cost and risk settings all share. */
export function findProjectConfigFile(cwd: string): ProjectConfigFile | null {
  for (let dir = cwd; ; dir = dirname(dir)) {
    let text: string | null = null;
    try {
      text = readFileSync(join(dir, 'km.json'), 'utf8');
    } catch {
      // no km.json here (or unreadable): keep walking up
    }
    if (text !== null) {
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { dir, config: parsed as Record<string, unknown>, problem: null };
        return { dir, config: {}, problem: `${join(dir, 'km.json')}:1:1: not a JSON object` };
      } catch (error) {
        const { line, column } = positionOf(text, (error as Error).message);
        return { dir, config: {}, problem: `${join(dir, 'km.json')}:${line}:${column}: not valid JSON (${(error as Error).message})` };
      }
    }
    if (dirname(dir) === dir) return null;
  }
}

/** Line and column (1-based) of a JSON.parse error, from its "at position N"; the end of the text when it gives none. */
function positionOf(text: string, message: string): { line: number; column: number } {
  const match = /position (\d+)/.exec(message);
  const offset = match ? Math.min(Number(match[1]), text.length) : text.length;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

const MODES: readonly CaptureMode[] = ['metadata', 'redacted', 'full'];

/** KM_CAPTURE first (per server entry), then km.json `capture`, then 'redacted'. */
export function captureMode(env: NodeJS.ProcessEnv, config: Record<string, unknown> | null): CaptureMode {
  const fromEnv = env.KM_CAPTURE?.trim().toLowerCase();
  if (fromEnv && (MODES as readonly string[]).includes(fromEnv)) return fromEnv as CaptureMode;
  const fromFile = config?.capture;
  if (typeof fromFile === 'string' && (MODES as readonly string[]).includes(fromFile)) return fromFile as CaptureMode;
  return 'redacted';
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.length > 0) : []);

/** km.json `policy`: { deny: { servers, tools, arguments }, allow: { servers, tools }, blockSecrets }; null when absent or empty. */
export function policyConfig(config: Record<string, unknown> | null): PolicyConfig | null {
  const raw = config?.policy;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const p = raw as Record<string, unknown>;
  const deny = typeof p.deny === 'object' && p.deny !== null ? (p.deny as Record<string, unknown>) : {};
  const allow = typeof p.allow === 'object' && p.allow !== null ? (p.allow as Record<string, unknown>) : {};
  const policy: PolicyConfig = {
    denyServers: strings(deny.servers),
    allowServers: Array.isArray(allow.servers) ? strings(allow.servers) : null,
    denyTools: strings(deny.tools),
    allowTools: Array.isArray(allow.tools) ? strings(allow.tools) : null,
    denyArguments: strings(deny.arguments),
    blockSecrets: p.blockSecrets === true,
  };
  const empty =
    policy.denyServers.length === 0 && policy.allowServers === null && policy.denyTools.length === 0 && policy.allowTools === null && policy.denyArguments.length === 0 && !policy.blockSecrets;
  return empty ? null : policy;
}
