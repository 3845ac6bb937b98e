import { applyEdits, findNodeAtLocation, modify, parse, parseTree, type FormattingOptions } from 'jsonc-parser';
import type { ClientConfig } from './clients';
import type { EntryPlan } from './entry';
import { isDeepStrictEqual } from 'node:util';
import { isObject } from '../is-object';
import { parseJson } from '../config/json-errors';

/**
 * What `km init` would write into one config file: the new text and, per server entry, wrapped or skipped and why.
 * JSON files (every client but Codex) are edited in place through jsonc-parser, so comments, trailing commas (where
 * the client reads them: ClientConfig.format), indentation and the order of keys stay the user's; only the
 * `command`, `args` and `env` of wrapped entries change.
 */
export interface EntryOutcome {
  name: string;
  /** Where the entry is, for output: "mcpServers", "projects./home/me/app.mcpServers". */
  place: string;
  /** Its JSON path: the map's, then the name. */
  path: string[];
  plan: EntryPlan;
}

/** entries: the wanted ones, with what km would do; names: every server entry's name in the file, wanted or not. */
export type FileEdit = { after: string; entries: EntryOutcome[]; names: string[]; note?: string } | { problem: string };

export type PlanEntry = (name: string, entry: unknown) => EntryPlan;

// smol-toml ships CommonJS too (its "require" export) but types for its ESM build only: required by hand.
const toml = require('smol-toml') as typeof import('smol-toml', { with: { 'resolution-mode': 'import' } });


export function editConfig(config: ClientConfig, text: string, plan: PlanEntry, wanted: (name: string) => boolean): FileEdit {
  return config.format === 'toml' ? editToml(config, text, plan, wanted) : editJsonc(config, text, plan, wanted);
}

/** One server entry as found in a config file: its name, where it is, its JSON value. */
export interface FoundEntry {
  name: string;
  place: string;
  path: string[];
  entry: unknown;
}

/** The server entries of a config file, or the reason it cannot be read (file, line and column). */
export function serverEntries(config: ClientConfig, text: string): { entries: FoundEntry[]; doc: unknown } | { problem: string } {
  let doc: unknown;
  if (config.format === 'toml') {
    try {
      doc = toml.parse(text);
    } catch (err) {
      const where = err instanceof toml.TomlError ? `:${err.line}:${err.column}` : '';
      return { problem: `${config.path}${where}: ${(err as Error).message.split('\n')[0]}` };
    }
  } else {
    const read = parseJson(text, { comments: config.format !== 'json', trailingCommas: config.format === 'jsonc' });
    if ('problem' in read) {
      const { line, column, words, refused } = read.problem;
      return { problem: `${config.path}:${line}:${column}: ${refused ? strictnessWords(config, refused) : words}` };
    }
    doc = read.value;
    if (text.trim() !== '' && !isObject(doc)) return { problem: `${config.path}: not a JSON object` };
  }
  const entries: FoundEntry[] = [];
  for (const mapPath of expand(config.serverMaps, isObject(doc) ? doc : {})) {
    const map = valueAt(doc, mapPath);
    if (!isObject(map)) continue;
    for (const [name, entry] of Object.entries(map)) entries.push({ name, place: mapPath.join('.'), path: [...mapPath, name], entry });
  }
  return { entries, doc };
}

/** What only the client's stricter reading refuses (the text is valid JSONC), in the client's name. */
function strictnessWords(config: ClientConfig, refused: 'comment' | 'trailing comma'): string {
  const client = config.label.replace(/ \(.*\)$/, '');
  return refused === 'comment' ? `a comment, which ${client} cannot read (it reads plain JSON)` : `a trailing comma, which ${client} cannot read`;
}

function editJsonc(config: ClientConfig, text: string, plan: PlanEntry, wanted: (name: string) => boolean): FileEdit {
  const found = serverEntries(config, text);
  if ('problem' in found) return { problem: `${found.problem}; left untouched` };
  const formatting = formattingOf(text);
  let after = text;
  const entries: EntryOutcome[] = [];
  for (const { name, place, path, entry } of found.entries) {
    if (!wanted(name)) continue;
    const outcome = plan(name, entry);
    entries.push({ name, place, path, plan: outcome });
    if (outcome.kind !== 'wrap') continue;
    const { remove = [], ...fields } = outcome.fields;
    for (const [field, value] of Object.entries(fields)) after = setField(after, [...path, field], value, formatting);
    for (const field of remove) after = removeField(after, [...path, field]);
  }
  return { after, entries, names: found.entries.map((e) => e.name) };
}

function editToml(config: ClientConfig, text: string, plan: PlanEntry, wanted: (name: string) => boolean): FileEdit {
  const found = serverEntries(config, text);
  if ('problem' in found) return { problem: `${found.problem}; left untouched` };
  const entries: EntryOutcome[] = [];
  for (const { name, place, path, entry } of found.entries) {
    if (!wanted(name)) continue;
    const outcome = plan(name, entry);
    entries.push({ name, place, path, plan: outcome });
    if (outcome.kind !== 'wrap') continue;
    const { remove = [], ...fields } = outcome.fields;
    Object.assign(entry as Record<string, unknown>, fields);
    for (const field of remove) delete (entry as Record<string, unknown>)[field];
  }
  const names = found.entries.map((e) => e.name);
  if (!entries.some((e) => e.plan.kind === 'wrap')) return { after: text, entries, names };
  // TOML is written whole (no TOML editor keeps comments): said, and the backup keeps the original.
  const note = /^\s*#/m.test(text) ? 'its comments are not kept (the backup has them)' : undefined;
  return { after: toml.stringify(found.doc as Record<string, unknown>) + '\n', entries, names, ...(note ? { note } : {}) };
}

const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** The value at path in a config's text (parsed as leniently as km reads any of them), or undefined. */
export function entryValue(format: ClientConfig['format'], text: string, path: string[]): unknown {
  return valueAt(parseLeniently(format, text), path);
}

function parseLeniently(format: ClientConfig['format'], text: string): unknown {
  if (format !== 'toml') return parse(text, [], { allowTrailingComma: true, disallowComments: false });
  try {
    return toml.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Undoes km's entries in a file changed since km wrote it (a client rewrites its own file on start: Claude Code's
 * ~/.claude.json): each entry still as km wrote it gets its original back, taken from the backup as it was written
 * there (JSON: that entry's text put in place, the rest of the file as the client left it; TOML: the file written
 * whole, as km init does). An entry changed since (by hand) is kept, and named.
 */
export function undoEntries(
  format: ClientConfig['format'],
  current: string,
  backup: string,
  entries: ReadonlyArray<{ path: string[]; written: unknown }>,
): { text: string; undone: string[][]; kept: string[][] } {
  const undone: string[][] = [];
  const kept: string[][] = [];
  let text = current;
  const tomlDoc = format === 'toml' ? parseLeniently(format, current) : null;
  // The backup is read once; the current text is read again after each entry put back (its offsets move).
  const backupDoc = parseLeniently(format, backup);
  const backupTree = format === 'toml' ? null : parseTree(backup, [], { allowTrailingComma: true })!;
  for (const { path, written } of entries) {
    const name = path.at(-1)!;
    const original = valueAt(backupDoc, path);
    // As JSON on both sides: the manifest's entry was read back from JSON, smol-toml's objects have no prototype.
    if (original === undefined || !isDeepStrictEqual(asJson(entryValue(format, text, path)), written)) {
      kept.push(path);
      continue;
    }
    if (tomlDoc !== null) {
      const map = valueAt(tomlDoc, path.slice(0, -1)) as Record<string, unknown>;
      map[name] = original;
    } else {
      const node = findNodeAtLocation(parseTree(text, [], { allowTrailingComma: true })!, path)!;
      const source = findNodeAtLocation(backupTree!, path)!;
      text = applyEdits(text, [{ offset: node.offset, length: node.length, content: backup.slice(source.offset, source.offset + source.length) }]);
    }
    undone.push(path);
  }
  if (tomlDoc !== null && undone.length > 0) text = toml.stringify(tomlDoc as Record<string, unknown>) + '\n';
  return { text, undone, kept };
}

/**
 * A field's value replaced where it stands, on one line as the user most likely wrote it (jsonc-parser's own
 * formatter would spread an args list over a line per word); a field the entry lacks is added by jsonc-parser.
 */
function setField(text: string, path: string[], value: unknown, formatting: FormattingOptions): string {
  const tree = parseTree(text, [], { allowTrailingComma: true })!;
  const node = findNodeAtLocation(tree, path);
  if (node) return applyEdits(text, [{ offset: node.offset, length: node.length, content: oneLine(value) }]);
  // A new field goes after the entry's last one, in the entry's own layout (one line, or a line per field).
  const entry = findNodeAtLocation(tree, path.slice(0, -1));
  const last = entry?.children?.at(-1);
  if (!entry || !last) return applyEdits(text, modify(text, path, value, { formattingOptions: formatting }));
  const lineStart = text.lastIndexOf('\n', last.offset) + 1;
  const indent = /^[ \t]*/.exec(text.slice(lineStart))![0];
  const field = `${JSON.stringify(path.at(-1))}: ${oneLine(value)}`;
  const content = text.slice(entry.offset, last.offset).includes('\n') ? `,${formatting.eol}${indent}${field}` : `, ${field}`;
  return applyEdits(text, [{ offset: last.offset + last.length, length: 0, content }]);
}

/** A field taken out with the separator before or after it, leaving the rest of the layout as it was. */
function removeField(text: string, path: string[]): string {
  const property = findNodeAtLocation(parseTree(text, [], { allowTrailingComma: true })!, path)?.parent;
  const siblings = property?.parent?.children;
  if (!property || !siblings) return text;
  const i = siblings.indexOf(property);
  const next = siblings[i + 1];
  const previous = siblings[i - 1];
  const [from, to] = next ? [property.offset, next.offset] : previous ? [previous.offset + previous.length, property.offset + property.length] : [property.offset, property.offset + property.length];
  return applyEdits(text, [{ offset: from, length: to - from, content: '' }]);
}

function oneLine(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
  if (isObject(value)) return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')} }`;
  return JSON.stringify(value);
}

/** Server map paths with `*` expanded over the keys found there (Claude Code's projects). */
function expand(paths: string[][], root: Record<string, unknown>): string[][] {
  const out: string[][] = [];
  for (const path of paths) {
    const star = path.indexOf('*');
    if (star === -1) {
      out.push(path);
      continue;
    }
    const parent = valueAt(root, path.slice(0, star));
    if (isObject(parent)) for (const key of Object.keys(parent)) out.push([...path.slice(0, star), key, ...path.slice(star + 1)]);
  }
  return out;
}

function valueAt(root: unknown, path: string[]): unknown {
  let value = root;
  for (const key of path) {
    if (!isObject(value) || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** The file's own indentation and line ends, for the lines km adds. */
function formattingOf(text: string): FormattingOptions {
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? '  ';
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}
