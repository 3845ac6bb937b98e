import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CostConfig } from '@km/shared';
import { DEFAULT_MODEL } from '@km/shared/dist/pricing';
import type { ProjectConfigFile } from './project-config';

export interface CostSettings {
  model: string;
  pricing: NonNullable<CostConfig['pricing']>;
  toolCosts: NonNullable<CostConfig['toolCosts']>;
  /** Why the settings are what they are, for km.log (an invalid km.json is reported, never fatal). */
  notes: string[];
}

/**
 * The cost settings of a session: the project's km.json (`model`, `pricing`, `toolCosts`), then
 * KM_MODEL over its model (an MCP config entry's env is the most specific place), else DEFAULT_MODEL.
 */
export function loadCostSettings(env: NodeJS.ProcessEnv, file: ProjectConfigFile | null): CostSettings {
  const notes: string[] = [];
  let config: CostConfig = {};
  if (file?.problem) notes.push(file.problem);
  // zod loads only for a km.json that says something about cost: it costs the observer thread 10 MB (issue 11).
  if (file && !file.problem && ['model', 'pricing', 'toolCosts'].some((key) => key in file.config)) {
    const parsed = costConfigSchema().safeParse(file.config);
    if (parsed.success) config = parsed.data;
    else notes.push(`${join(file.dir, 'km.json')}: cost settings ignored: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const model = env.KM_MODEL?.trim() || config.model || DEFAULT_MODEL;
  return { model, pricing: config.pricing ?? {}, toolCosts: config.toolCosts ?? {}, notes };
}

/**
 * The km.json cost schema (zod). In the bundle it is a file of its own beside this one (dist/bundle/cost-schema.js):
 * inlined, zod's 1.4 MB of source alone held 3 MB of every km's resident set, loaded or not (63 MB idle, issue 11's
 * target 60). The build keeps the package path below out of the bundles; it serves the unbundled code (tests).
 */
function costConfigSchema(): typeof import('@km/shared/dist/pricing/config').CostConfigSchema {
  const bundled = join(__dirname, 'cost-schema.js');
  const schema: typeof import('@km/shared/dist/pricing/config') = existsSync(bundled) ? require(bundled) : require('@km/shared/dist/pricing/config');
  return schema.CostConfigSchema;
}
