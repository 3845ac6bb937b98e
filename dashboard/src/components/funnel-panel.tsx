import { getJson } from '../api';
import { fmtDateTime, fmtInt, fmtMs } from '../format';
import { useQuery } from '../query';
import { Panel, QueryResult } from './ui';

/** The operator's funnel (owners and admins): landing views, sign-ins, keys, first event, and the time between them. */
export function FunnelPanel() {
  const funnel = useQuery('funnel', () => getJson('funnel', {}));
  return (
    <Panel title="Funnel" id="funnel">
      <QueryResult query={funnel} what="the funnel" absent={<p class="muted">This server keeps no funnel.</p>}>
        {(data) => (
          <>
            <ol class="funnel-steps">
              <li>Landing views<strong>{fmtInt(data.landingViews.count)}</strong><span class="muted small">first {fmtDateTime(data.landingViews.first)}</span></li>
              <li>Sign-ins<strong>{fmtInt(data.signIns.count)}</strong><span class="muted small">after {fmtMs(data.gapsMs.landingToSignIn)}</span></li>
              <li>Keys made<strong>{fmtInt(data.keysCreated.count)}</strong><span class="muted small">after {fmtMs(data.gapsMs.signInToKey)}</span></li>
              <li>Events<strong>{fmtInt(data.eventCount)}</strong><span class="muted small">first after {fmtMs(data.gapsMs.keyToFirstEvent ?? data.gapsMs.signInToFirstEvent)}</span></li>
            </ol>
            <p class="muted small">Counted by this server from its own log: no cookies, no third-party trackers. The times are between the first of each step.</p>
          </>
        )}
      </QueryResult>
    </Panel>
  );
}
