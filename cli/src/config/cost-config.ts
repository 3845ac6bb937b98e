import { join } from 'node:path';
import { CostConfigSchema, DEFAULT_MODEL, type CostConfig } from '@km/shared';
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
  if (file && !file.problem) {
    const parsed = CostConfigSchema.safeParse(file.config);
    if (parsed.success) config = parsed.data;
    else notes.push(`${join(file.dir, 'km.json')}: cost settings ignored: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const model = env.KM_MODEL?.trim() || config.model || DEFAULT_MODEL;
  return { model, pricing: config.pricing ?? {}, toolCosts: config.toolCosts ?? {}, notes };
}
