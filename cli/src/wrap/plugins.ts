import type { Settings } from '../config/settings';
import type { Logger } from '../log';
import type { ObserverPlugin } from './observer';
import { loadCostSettings } from '../config/cost-config';
import { costPlugin } from './cost-plugin';
import { captureMode, type ProjectConfigFile } from '../config/project-config';
import { otelPlugin, otelTarget } from './otel-plugin';
import { riskPlugin } from './risk-plugin';

/** What plugins may need to know about the session they observe. */
export interface PluginContext {
  settings: Settings;
  logger: Logger;
  /** The project the session is attributed to (from --project, KM_PROJECT or km.json). */
  projectId: string;
  /** The project's km.json (nearest upward from km's working directory), or null. */
  projectConfig: ProjectConfigFile | null;
  serverName: string;
  sessionId: string;
  transport: 'stdio' | 'http';
  /** A journal's replay: exporters stay off (what the killed km exported would go twice). */
  replay: boolean;
  /** Where KM_MODEL, KM_CAPTURE and the like are read: km's own environment, or on replay the journaled one. */
  env: NodeJS.ProcessEnv;
  /** Runs fn once the events made so far are in the spool (Recorder.whenWritten). */
  whenRecorded(fn: () => void): void;
}

/** The observer plugins of a wrapped session, in the order they run. One place to add one. */
export function observerPlugins(context: PluginContext): ObserverPlugin[] {
  return [
    // Cost Center (#3): tokens, USD and the model on interactions; context tokens on tools/list
    costPluginFor(context),
    // risk monitor: findings, capture-mode previews, tool poisoning and rug pulls
    riskPluginFor(context),
    // OpenTelemetry export, last: it sends what the plugins before it filled in
    ...otelPluginFor(context),
  ];
}

function otelPluginFor(context: PluginContext): ObserverPlugin[] {
  const target = context.replay ? null : otelTarget(context.env, context.projectConfig);
  if (!target) return [];
  try {
    return [otelPlugin(target, { sessionId: context.sessionId, serverName: context.serverName, transport: context.transport })];
  } catch (err) {
    context.logger.error(`OpenTelemetry export is off for this session: ${(err as Error).message}`);
    return [];
  }
}

function costPluginFor(context: PluginContext): ObserverPlugin {
  const costSettings = loadCostSettings(context.env, context.projectConfig);
  costSettings.notes.forEach((note) => context.logger.warn(note));
  return costPlugin(costSettings, context.serverName);
}

function riskPluginFor(context: PluginContext): ObserverPlugin {
  const config = context.projectConfig?.config ?? null;
  const capture = captureMode(context.env, config);
  const asked = context.env.KM_CAPTURE ?? (typeof config?.capture === 'string' ? config.capture : undefined);
  // A typo must not pass unnoticed, even though the fallback is the safe mode.
  if (asked !== undefined && asked.trim().toLowerCase() !== capture) context.logger.warn(`capture mode "${asked}" is not metadata, redacted or full; using ${capture}`);
  return riskPlugin({ capture, home: context.settings.home, projectId: context.projectId, serverName: context.serverName, whenRecorded: context.whenRecorded });
}
