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
    const { CostConfigSchema } = require('@km/shared/dist/pricing/config') as typeof import('@km/shared/dist/pricing/config');
    const parsed = CostConfigSchema.safeParse(file.config);
    if (parsed.success) config = parsed.data;
    else notes.push(`${join(file.dir, 'km.json')}: cost settings ignored: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const model = env.KM_MODEL?.trim() || config.model || DEFAULT_MODEL;
  return { model, pricing: config.pricing ?? {}, toolCosts: config.toolCosts ?? {}, notes };
}
