import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '@km/shared';
import { newEventId } from '@km/shared/dist/ids';
import { RUG_PULL_RULE } from '@km/shared/dist/risk/catalog';
import { scanToolDefinitions } from '@km/shared/dist/risk/poisoning';
import { scanRequest, scanResponse, scanValue } from '@km/shared/dist/risk/scan';
import type { CaptureMode } from '../config/project-config';
import type { EventDraft, ObserverPlugin } from './observer';

/**
 * The risk monitor in the wrapper, after forwarding: findings for each interaction, previews as the capture mode
 * says (nothing / redacted / full), and for tools/list both tool poisoning and rug pulls (a tool whose definition
 * changed since this server was last seen). Everything here runs before the spool, so the spool only ever holds
 * what the capture mode allows.
 */
export interface RiskPluginOptions {
  capture: CaptureMode;
  home: string;
  projectId: string;
  serverName: string;
  /**
   * Runs fn once the events made so far are in the spool. The definitions a rug pull is judged against are saved
   * only then: saved first, a km killed before its finding reached the spool would lose the finding for good (the
   * replay of its journal would judge against the new definitions).
   */
  whenRecorded(fn: () => void): void;
}

const PREVIEW_MAX = 4000;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function preview(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value).slice(0, PREVIEW_MAX);
}

/** Where the last seen definitions of one server in one project are kept (KM_HOME/tool-definitions/). */
export function definitionsFile(home: string, projectId: string, serverName: string): string {
  return join(home, 'tool-definitions', `${sha256(`${projectId}\u0000${serverName}`).slice(0, 32)}.json`);
}

/** Keyed by tool name, which comes from the server: a Map, so `constructor` or `__proto__` is just a name. */
type Definitions = Map<string, { description: string; schema: string }>;

function readDefinitions(path: string): Definitions {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Map();
    return new Map(Object.entries(parsed as Record<string, { description: string; schema: string }>));
  } catch {
    return new Map();
  }
}

function writeDefinitions(path: string, definitions: Definitions): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  // Several wrappers of the same server may list tools at once: each writes whole files, renamed into place.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(Object.fromEntries(definitions)), { mode: 0o600 });
  renameSync(temp, path);
}

export function riskPlugin(options: RiskPluginOptions): ObserverPlugin {
  const file = definitionsFile(options.home, options.projectId, options.serverName);
  /** Definitions judged against but not yet saved: a second tools/list of the session is judged against them. */
  let unsaved: Definitions | null = null;
  const saveWhenRecorded = (definitions: Definitions) => {
    unsaved = definitions;
    options.whenRecorded(() => {
      if (unsaved !== definitions) return; // a later list saves its own, which includes these
      unsaved = null;
      try {
        writeDefinitions(file, definitions);
      } catch {
        // not saved: the next session judges against the older definitions and reports the change again
      }
    });
  };
  return {
    makesPreviews: options.capture !== 'metadata',
    interaction(draft, exchange) {
      const request = scanRequest(draft.method, exchange.params);
      const response = exchange.result === undefined ? null : scanResponse(exchange.result);
      // The error as the wire had it: its recorded message is redacted already, and no preview keeps its data.
      const inError = exchange.rawError ? scanValue(exchange.rawError, '$.error', 'response').findings : [];
      draft.findings = [...request.findings, ...(response?.findings ?? []), ...inError].slice(0, 100);
      if (options.capture === 'metadata' || exchange.previews === false) return;
      const full = options.capture === 'full';
      draft.requestPreview = preview(full ? exchange.params : request.redacted);
      // Error messages were redacted by the observer already; a result is redacted here.
      draft.responsePreview = exchange.error ? preview({ error: exchange.error }) : response ? preview(full ? exchange.result : response.redacted) : null;
    },
    toolsListed(draft, tools) {
      const extra: EventDraft[] = [];
      const base = { v: 1 as const, ts: draft.ts, method: 'tools/list' };
      const previous = unsaved ?? readDefinitions(file);
      const current: Definitions = new Map(previous);
      // Poisoning is reported once per definition: a server listing the same poisoned tool each session is one finding.
      const fresh = new Set<number>();
      draft.tools.forEach((tool, index) => {
        const before = previous.get(tool.name);
        current.set(tool.name, { description: tool.descriptionHash, schema: tool.schemaHash });
        if (before?.description === tool.descriptionHash && before.schema === tool.schemaHash) return;
        fresh.add(index);
        if (!before) return;
        const changed = [before.description !== tool.descriptionHash ? 'description' : null, before.schema !== tool.schemaHash ? 'inputSchema' : null].filter(
          (x): x is string => x !== null,
        );
        const findings = changed.map((field) => ({ ruleId: RUG_PULL_RULE.id, severity: RUG_PULL_RULE.severity, path: `$.result.tools[${index}].${field}` }));
        extra.push({ ...base, id: newEventId(), type: 'risk.detected', target: tool.name, findings, detail: `the ${changed.join(' and ')} of tool ${tool.name} changed since this server was last seen` });
      });

      const byTool = new Map<number, Finding[]>();
      for (const finding of scanToolDefinitions(tools)) {
        const index = Number(/^\$\.result\.tools\[(\d+)\]/.exec(finding.path)?.[1] ?? -1);
        if (fresh.has(index)) byTool.set(index, [...(byTool.get(index) ?? []), finding]);
      }
      for (const [index, findings] of byTool) {
        const target = draft.tools[index]?.name ?? null;
        extra.push({ ...base, id: newEventId(), type: 'risk.detected', target, findings, detail: `tool definition with instructions or content aimed at the model (${findings.map((f) => f.ruleId).join(', ')})` });
      }
      saveWhenRecorded(current);
      return extra;
    },
  };
}
