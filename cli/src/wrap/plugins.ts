import type { Settings } from '../config/settings';
import type { Logger } from '../log';
import type { ObserverPlugin } from './observer';
import { captureMode, findProjectConfig } from '../config/project-config';
import { riskPlugin } from './risk-plugin';

/** What plugins may need to know about the session they observe. */
export interface PluginContext {
  settings: Settings;
  logger: Logger;
  /** The project the session is attributed to (from --project, KM_PROJECT or km.json). */
  projectId: string;
  /** The directory km was started in: where km.json lookups start. */
  cwd: string;
  serverName: string;
}

/** The observer plugins of a wrapped session, in the order they run. One place to add one. */
export function observerPlugins(context: PluginContext): ObserverPlugin[] {
  return [
    // risk monitor: findings, capture-mode previews, tool poisoning and rug pulls
    riskPlugin({ capture: captureMode(process.env, findProjectConfig(context.cwd)), home: context.settings.home, projectId: context.projectId, serverName: context.serverName }),
  ];
}
