import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CostConfigSchema, DEFAULT_MODEL, type CostConfig } from '@km/shared';

export interface CostSettings {
  model: string;
  pricing: NonNullable<CostConfig['pricing']>;
  toolCosts: NonNullable<CostConfig['toolCosts']>;
  /** Why the settings are what they are, for km.log (an invalid km.json is reported, never fatal). */
  notes: string[];
}

/**
 * The cost settings of a session: the nearest km.json upward from the cwd (`model`, `pricing`, `toolCosts`), then
 * KM_MODEL over its model (an MCP config entry's env is the most specific place), else DEFAULT_MODEL.
 */
export function loadCostSettings(env: NodeJS.ProcessEnv, cwd: string): CostSettings {
  const notes: string[] = [];
  let config: CostConfig = {};
  for (let dir = cwd; ; dir = dirname(dir)) {
    let text: string | null = null;
    try {
      text = readFileSync(join(dir, 'km.json'), 'utf8');
    } catch {
      // no km.json here: keep walking up
    }
    if (text !== null) {
      try {
        const parsed = CostConfigSchema.safeParse(JSON.parse(text));
        if (parsed.success) config = parsed.data;
        else notes.push(`${join(dir, 'km.json')}: cost settings ignored: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      } catch (error) {
        notes.push(`${join(dir, 'km.json')} is not JSON (${(error as Error).message}); cost settings ignored`);
      }
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const model = env.KM_MODEL?.trim() || config.model || DEFAULT_MODEL;
  return { model, pricing: config.pricing ?? {}, toolCosts: config.toolCosts ?? {}, notes };
}
