import { Fragment } from 'preact';
import type { ComponentChildren } from 'preact';
import type { Delta } from '../format';
import { onLinkClick, setParams } from '../place';
import type { Query } from '../query';

export function Link(props: { href: string; class?: string; children: ComponentChildren; 'aria-current'?: 'page' | undefined }) {
  return (
    <a href={props.href} class={props.class} aria-current={props['aria-current']} onClick={onLinkClick}>
      {props.children}
    </a>
  );
}

export function Panel(props: { title: string; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  const headingId = props.id ? `${props.id}-title` : undefined;
  return (
    <section class={`panel ${props.class ?? ''}`} aria-labelledby={headingId} id={props.id}>
      <header class="panel-head">
        <h2 id={headingId}>{props.title}</h2>
        {props.actions ? <div class="panel-actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Loading(props: { what: string }) {
  return (
    <div class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state empty" data-state="empty">
      <strong>{props.title}</strong>
      {props.children ? <p>{props.children}</p> : null}
    </div>
  );
}

export function ErrorBox(props: { message: string; onRetry?: () => void }) {
  return (
    <div class="state error" role="alert" data-state="error">
      <strong>Something went wrong.</strong>
      <p>{props.message}</p>
      {props.onRetry ? (
        <button type="button" onClick={props.onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

/** A view's backend endpoint is not deployed on this server (it answered 404). */
export function NotYet(props: { feature: string; endpoint: string; children?: ComponentChildren }) {
  return (
    <div class="state empty absent" data-state="absent">
      <strong>No {props.feature} data yet.</strong>
      <p>
        This server does not serve <code>{props.endpoint}</code> yet (it answered 404), so there is nothing to show here.
        {props.children ? <> {props.children}</> : null}
      </p>
    </div>
  );
}

/** Renders a query's four states; `absent` lets a view word its own 404. */
export function QueryResult<T>(props: {
  query: Query<T>;
  what: string;
  absent: ComponentChildren;
  children: (data: T) => ComponentChildren;
}) {
  const { state } = props.query;
  if (state.kind === 'loading') return <Loading what={props.what} />;
  if (state.kind === 'absent') return <>{props.absent}</>;
  if (state.kind === 'error') return <ErrorBox message={state.message} onRetry={props.query.refresh} />;
  return (
    <>
      {props.query.stale ? (
        <p class="stale" role="status">
          Could not refresh; showing the last answer.
        </p>
      ) : null}
      {props.children(state.data)}
    </>
  );
}

export function StatCard(props: {
  label: string;
  value: string;
  testId: string;
  delta?: Delta | null;
  /** Whether a rise is good news (sessions) or bad (errors, cost, latency): colours the change. */
  upIsGood?: boolean;
  compareLabel?: string;
  caption?: ComponentChildren;
  children?: ComponentChildren;
}) {
  const { delta } = props;
  const tone = !delta || delta.direction === 'flat' ? 'flat' : (delta.direction === 'up') === Boolean(props.upIsGood) ? 'good' : 'bad';
  return (
    <div class="stat" data-testid={props.testId}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-value>
        {props.value}
      </div>
      <div class="stat-meta">
        {delta ? (
          <span class={`delta ${tone}`} title={props.compareLabel}>
            <span aria-hidden="true">{delta.direction === 'up' ? '▲' : delta.direction === 'down' ? '▼' : '•'}</span> {delta.text}
            <span class="visually-hidden"> {props.compareLabel}</span>
          </span>
        ) : null}
        {props.caption ? <span class="stat-caption">{props.caption}</span> : null}
      </div>
      {props.children}
    </div>
  );
}

export function OutcomeBadge(props: { outcome: string }) {
  const label: Record<string, string> = { ok: 'ok', error: 'error', tool_error: 'tool error', unanswered: 'unanswered' };
  return <span class={`badge outcome-${props.outcome}`}>{label[props.outcome] ?? props.outcome}</span>;
}

export function SeverityBadge(props: { severity: string }) {
  return <span class={`badge sev-${props.severity}`}>{props.severity}</span>;
}

/** A horizontal share bar drawn with CSS (a table cell's background), not a chart. */
export function ShareBar(props: { ratio: number; label: string }) {
  const width = `${Math.max(0, Math.min(1, props.ratio)) * 100}%`;
  return (
    <div class="sharebar" role="meter" aria-label={props.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(props.ratio * 100)}>
      <span style={{ width }} />
    </div>
  );
}

/** A `server/tool` key that may break after its slashes on a narrow screen, and nowhere else unless it must. */
export function BreakableKey(props: { text: string }) {
  const parts = props.text.split('/');
  return (
    <>
      {parts.map((part, n) => (
        <Fragment key={n}>
          {part}
          {n < parts.length - 1 ? (
            <>
              /<wbr />
            </>
          ) : null}
        </Fragment>
      ))}
    </>
  );
}

/**
 * A select bound to one URL parameter of the current view. With `any`, an empty first option clears the
 * parameter (a filter); without it, one of the options is always chosen (a grouping).
 */
export function ParamSelect(props: { id: string; label: string; param: string; value: string | null; options: readonly string[]; any?: string }) {
  return (
    <label class="field inline" for={props.id}>
      <span>{props.label}</span>
      <select id={props.id} value={props.value ?? ''} onChange={(e) => setParams({ [props.param]: (e.currentTarget as HTMLSelectElement).value || null })}>
        {props.any === undefined ? null : <option value="">{props.any}</option>}
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}
