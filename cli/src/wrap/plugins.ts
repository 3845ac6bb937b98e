import type { Settings } from '../config/settings';
import type { Logger } from '../log';
import type { ObserverPlugin } from './observer';

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
export function observerPlugins(_context: PluginContext): ObserverPlugin[] {
  return [];
}
