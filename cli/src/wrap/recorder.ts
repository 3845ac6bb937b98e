import type { Envelope, KmEvent } from '@km/shared';
import { redactEventStrings } from '@km/shared/dist/risk/fields';
import type { Spool } from '../spool';
import type { EventDraft } from './observer';

/**
 * Stamps the session's envelope on each event and appends it to the spool. The envelope needs the user's
 * git email, which arrives a few ms after start; until then drafts wait in memory (ids and times are already
 * fixed, so nothing about them changes). What waits is bounded: past half of maxWaiting drafts come in without
 * their previews, past maxWaiting they are dropped; the session's start and end always wait. Both are counted.
 */
const MAX_WAITING = 5000;

export class Recorder {
  private envelope: Envelope | null = null;
  private waiting: EventDraft[] = [];
  private afterEnvelope: Array<() => void> = [];
  recorded = 0;
  dropped = 0;
  droppedPreviews = 0;
  /** A replayed session shares the live session's spool: its end counts only the drops since it began. */
  private readonly droppedBefore: number;

  constructor(
    private readonly spool: Spool,
    private readonly maxWaiting = MAX_WAITING,
  ) {
    this.droppedBefore = spool.dropped;
  }

  /** Events wait in memory for the envelope: they are not in the spool yet. */
  get holding(): boolean {
    return this.waiting.length > 0;
  }

  setEnvelope(envelope: Envelope): void {
    this.envelope = envelope;
    const waiting = this.waiting;
    this.waiting = [];
    this.write(waiting);
    for (const fn of this.afterEnvelope.splice(0)) fn();
  }

  /**
   * Runs fn once every event recorded so far, and those the current task is still making, is in the spool (or
   * given up): after the current task, and after the envelope if events wait for it. For state that must not get
   * ahead of the record, such as the definitions a rug pull is judged against (risk-plugin.ts).
   */
  whenWritten(fn: () => void): void {
    queueMicrotask(() => (this.envelope ? fn() : this.afterEnvelope.push(fn)));
  }

  record(draft: EventDraft): void {
    if (!this.envelope) {
      this.wait(draft);
      return;
    }
    this.write([draft]);
  }

  private wait(draft: EventDraft): void {
    const lifecycle = draft.type === 'session.started' || draft.type === 'session.ended';
    if (!lifecycle && this.waiting.length >= this.maxWaiting) {
      this.dropped++;
      return;
    }
    if (!lifecycle && draft.type === 'mcp.interaction' && this.waiting.length >= this.maxWaiting / 2 && (draft.requestPreview !== null || draft.responsePreview !== null)) {
      this.waiting.push({ ...draft, requestPreview: null, responsePreview: null });
      this.droppedPreviews++;
      return;
    }
    this.waiting.push(draft);
  }

  private write(drafts: EventDraft[]): void {
    if (drafts.length === 0 || !this.envelope) return;
    // The last pass before the spool: whatever an event took from the wire, by whichever field, is scanned.
    const events = drafts.map((draft) => ({ ...redactEventStrings(draft), ...this.envelope }) as KmEvent);
    // Lifecycle events go one by one, past the spool's bound; the end counts what the spool had to drop.
    let run: KmEvent[] = [];
    const flush = () => {
      if (run.length > 0 && this.spool.append(run)) this.recorded += run.length;
      run = [];
    };
    for (const event of events) {
      if (event.type !== 'session.started' && event.type !== 'session.ended') {
        run.push(event);
        continue;
      }
      flush();
      const lifecycle =
        event.type === 'session.ended'
          ? {
              ...event,
              droppedObservations: event.droppedObservations + this.spool.dropped - this.droppedBefore + this.dropped,
              droppedPreviews: (event.droppedPreviews ?? 0) + this.droppedPreviews,
            }
          : event;
      if (this.spool.append([lifecycle], { lifecycle: true })) this.recorded++;
    }
    flush();
  }
}
