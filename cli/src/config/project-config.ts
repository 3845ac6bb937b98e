import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isObject } from '../is-object';

/**
 * The project's km.json (the nearest one upward from the cwd). Its settings are read loosely (a field of the wrong
 * type is ignored with the default kept, never a failed start), except the policy: a security control that cannot
 * be used refuses tool calls instead (readPolicy).
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
      } catch {
        // Loaded only for a km.json that is not JSON: the wrapper's start never needs it otherwise.
        const { plainJsonProblem } = require('./json-errors') as typeof import('./json-errors');
        const found = plainJsonProblem(text, 'km.json') ?? { line: 1, column: 1, words: 'not valid JSON' };
        return { dir, config: {}, problem: `${join(dir, 'km.json')}:${found.line}:${found.column}: ${found.words}` };
      }
    }
    if (dirname(dir) === dir) return null;
  }
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

/** The policy's shape: each list is of non-empty names or globs, blockSecrets a boolean; nothing else is allowed. */
const POLICY_LISTS = { deny: ['servers', 'tools', 'arguments'], allow: ['servers', 'tools'] } as const;


/**
 * Why km.json's `policy` cannot be used, or null. A policy is a security control, so a field it does not know or of
 * the wrong type (`"tools": "echo"`, a misspelt `"denny"`) makes it unusable rather than ignored: ignoring it would
 * let through what the user meant to deny.
 */
export function policyShapeProblem(raw: unknown): string | null {
  if (raw === undefined) return null;
  if (!isObject(raw)) return 'policy must be an object like { "deny": { "tools": ["name"] } }';
  for (const key of Object.keys(raw)) {
    if (key === 'blockSecrets') {
      if (typeof raw.blockSecrets !== 'boolean') return 'policy.blockSecrets must be true or false';
      continue;
    }
    if (key !== 'deny' && key !== 'allow') return `policy.${key} is not a policy field (it has deny, allow and blockSecrets)`;
    const section = raw[key];
    const lists: readonly string[] = POLICY_LISTS[key];
    if (!isObject(section)) return `policy.${key} must be an object with ${lists.join(', ')}`;
    for (const [name, value] of Object.entries(section)) {
      if (!lists.includes(name)) return `policy.${key}.${name} is not a field of policy.${key} (it has ${lists.join(', ')})`;
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
        return `policy.${key}.${name} must be a list of non-empty strings, like ["name"]; it is ${JSON.stringify(value)}`;
      }
    }
  }
  return null;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.length > 0) : []);

/**
 * km.json `policy`: { deny: { servers, tools, arguments }, allow: { servers, tools }, blockSecrets }, and why it cannot
 * be used when it cannot (km.json unreadable, or the policy of the wrong shape): then tool calls are refused.
 * policy is null when there is none, or it is empty.
 */
export function readPolicy(file: ProjectConfigFile | null): { policy: PolicyConfig | null; problem: string | null } {
  if (file?.problem) return { policy: null, problem: file.problem };
  const shape = policyShapeProblem(file?.config.policy);
  if (shape) return { policy: null, problem: `${join(file!.dir, 'km.json')}: ${shape}` };
  return { policy: policyConfig(file?.config ?? null), problem: null };
}

/** The policy of a km.json read loosely (readPolicy refuses one of the wrong shape first). */
export function policyConfig(config: Record<string, unknown> | null): PolicyConfig | null {
  const raw = config?.policy;
  if (!isObject(raw)) return null;
  const deny = isObject(raw.deny) ? raw.deny : {};
  const allow = isObject(raw.allow) ? raw.allow : {};
  const policy: PolicyConfig = {
    denyServers: strings(deny.servers),
    allowServers: Array.isArray(allow.servers) ? strings(allow.servers) : null,
    denyTools: strings(deny.tools),
    allowTools: Array.isArray(allow.tools) ? strings(allow.tools) : null,
    denyArguments: strings(deny.arguments),
    blockSecrets: raw.blockSecrets === true,
  };
  const empty =
    policy.denyServers.length === 0 && policy.allowServers === null && policy.denyTools.length === 0 && policy.allowTools === null && policy.denyArguments.length === 0 && !policy.blockSecrets;
  return empty ? null : policy;
}
