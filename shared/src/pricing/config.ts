import { z } from 'zod';

const usd = z.number().nonnegative().finite();

/** What km.json may say about cost: loose at the top (km.json holds other features' keys too), strict inside. */
export const CostConfigSchema = z.looseObject({
  model: z.string().min(1).max(200).optional(),
  pricing: z
    .record(
      z.string().min(1).max(200),
      z.strictObject({ input: usd, output: usd, cachedInput: usd.optional(), family: z.enum(['openai', 'anthropic', 'google']).optional() }),
    )
    .optional(),
  /** USD per call, by glob on "server/tool" (`*` matches any run of characters): {"github/*": 0.001}. */
  toolCosts: z.record(z.string().min(1).max(400), usd).optional(),
});
export type CostConfig = z.infer<typeof CostConfigSchema>;
