import { useEffect, useState } from 'preact/hooks';
import { RANGES, seenTools, type Filters } from '../filters';
import { setParams } from '../place';
import { onQueryUpdated, refreshMs } from '../query';
import type { Session, Team } from '../types';

/** Datetime-local inputs speak local time without a zone; the URL keeps ISO (UTC) instants. */
const toLocalInput = (iso: string | null) => {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  return new Date(t.getTime() - t.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (value: string) => (value ? new Date(value).toISOString() : null);

/** A select over the known values; `names` labels a value that is an id (a team's name for its id). */
function Choice(props: { id: string; label: string; value: string | null; options: string[]; param: string; all: string; names?: Map<string, string>; clears?: string[] }) {
  const options = [...new Set([...props.options, ...(props.value ? [props.value] : [])])].sort();
  return (
    <label class="field" for={props.id}>
      <span>{props.label}</span>
      <select id={props.id} value={props.value ?? ''} onChange={(e) => {
          const value = (e.currentTarget as HTMLSelectElement).value || null;
          // A choice that cannot go with others (a team with a project or a user) lets go of them.
          const cleared = value ? Object.fromEntries((props.clears ?? []).map((param) => [param, null])) : {};
          setParams({ ...cleared, [props.param]: value });
        }}
      >
        <option value="">{props.all}</option>
        {options.map((option) => (
          <option value={option} key={option}>
            {props.names?.get(option) ?? option}
          </option>
        ))}
      </select>
    </label>
  );
}

export function FilterBar(props: { filters: Filters; sessions: Session[]; teams: Team[] }) {
  const { filters, sessions, teams } = props;
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  useEffect(() => onQueryUpdated(setUpdatedAt), []);
  const live = refreshMs() > 0;
  const uniq = (pick: (s: Session) => string) => [...new Set(sessions.map(pick))];
  // Re-read on every query update (updatedAt), when the views may have seen new tools.
  const tools = [...new Set([...seenTools, ...(filters.tool ? [filters.tool] : [])])].sort();

  return (
    <form class="filters" aria-label="Time range and filters" onSubmit={(e) => e.preventDefault()}>
      <label class="field" for="f-range">
        <span>Time range</span>
        <select id="f-range" value={filters.range} onChange={(e) => setParams({ range: (e.currentTarget as HTMLSelectElement).value })}>
          {RANGES.map((r) => (
            <option value={r.key} key={r.key}>
              {r.label}
            </option>
          ))}
        </select>
      </label>
      {filters.range === 'custom' ? (
        <>
          <label class="field" for="f-from">
            <span>From</span>
            <input id="f-from" type="datetime-local" value={toLocalInput(filters.from)} onChange={(e) => setParams({ from: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} />
          </label>
          <label class="field" for="f-to">
            <span>To</span>
            <input id="f-to" type="datetime-local" value={toLocalInput(filters.to)} onChange={(e) => setParams({ to: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} />
          </label>
        </>
      ) : null}
      <Choice id="f-project" label="Project" param="project" value={filters.project} options={uniq((s) => s.projectId)} all="All projects" clears={['team']} />
      <Choice id="f-user" label="User" param="user" value={filters.user} options={uniq((s) => s.userId)} all="All users" clears={['team']} />
      {teams.length > 0 || filters.team ? (
        <Choice id="f-team" label="Team" param="team" value={filters.team} options={teams.map((t) => t.teamId)} names={new Map(teams.map((t) => [t.teamId, t.name]))} all="All teams" clears={['project', 'user']} />
      ) : null}
      <Choice id="f-server" label="Server" param="server" value={filters.server} options={uniq((s) => s.server.name)} all="All servers" />
      <label class="field" for="f-tool">
        <span>Tool</span>
        <input
          id="f-tool"
          list="f-tool-options"
          placeholder="All tools"
          value={filters.tool ?? ''}
          onChange={(e) => setParams({ tool: (e.currentTarget as HTMLInputElement).value.trim() || null })}
        />
        <datalist id="f-tool-options">
          {tools.map((tool) => (
            <option value={tool} key={tool} />
          ))}
        </datalist>
      </label>
      <div class="live">
        <button
          type="button"
          class="ghost"
          aria-pressed={live}
          onClick={() => setParams({ refresh: live ? '0' : null })}
          title={live ? 'Live: the page refreshes itself. Click to pause.' : 'Paused. Click to refresh live again.'}
        >
          <span class={`dot ${live ? 'on' : ''}`} aria-hidden="true" /> {live ? 'Live' : 'Paused'}
        </button>
        <span class="updated" aria-live="off">
          {updatedAt ? `updated ${updatedAt.toLocaleTimeString('en-GB')}` : ''}
        </span>
      </div>
    </form>
  );
}
