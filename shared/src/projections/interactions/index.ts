import type { Interaction } from '../../events';
import type { Projection } from '../projection';

/** One document per request/response pair, keyed by the event id: re-folding the same event rewrites the same doc. */
/** receivedAt and batchId come along when the folded event is a stored one (always, in a projector). */
export type InteractionDoc = Omit<Interaction, 'type' | 'v' | 'ts'> & { recordedAt: string; receivedAt?: string; batchId?: string };

export const interactionsProjection: Projection<InteractionDoc> = {
  name: 'interactions',
  docIds: (event) => (event.type === 'mcp.interaction' ? [event.id] : []),
  evolve(_state, event) {
    if (event.type !== 'mcp.interaction') throw new Error(`interactions cannot fold ${event.type}`);
    const { type: _type, v: _v, ts, ...fields } = event;
    return { ...fields, recordedAt: ts };
  },
};
