import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRoutes, openApiDocument } from '@km/shared';

/**
 * The README's API tables, checked against the contract through its OpenAPI document: every route is in a table,
 * every table row names a declared route, the query parameters a row shows are ones the route honours (with the
 * enum's words where it lists them), and a GET row's `{ field, ... }` answer has exactly the answer's fields, nested
 * objects and arrays of objects included.
 */
const doc = openApiDocument() as any;
const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

interface Row {
  method: string;
  path: string;
  params: string[];
  line: string;
}

/** The rows whose first cell names routes: `GET /api/x?a&b=c\|d`, `.../sibling`, `?more` for the route before. */
function apiRows(): Row[] {
  const rows: Row[] = [];
  for (const line of readme.split('\n')) {
    const first = line.match(/^\| (`(?:GET|POST|PUT) \/api\/(?:\\\||[^|])*?) \|/);
    if (!first) continue;
    let last: Row | undefined;
    for (const [, span] of first[1]!.matchAll(/`([^`]+)`/g)) {
      const route = span!.match(/^(GET|POST|PUT) \/api\/([^?\s]+)(?:\?(.*))?$/);
      const sibling = span!.match(/^\.\.\.\/(\S+)$/);
      const more = span!.match(/^\?(.*)$/);
      if (route) rows.push((last = { method: route[1]!, path: route[2]!, params: route[3] ? [route[3]] : [], line }));
      else if (sibling && last) rows.push((last = { ...last, path: last.path.replace(/[^/]+$/, sibling[1]!), params: [] }));
      else if (more && last) last.params.push(more[1]!);
    }
  }
  return rows;
}

const operation = (row: Row) => doc.paths[`/api/${row.path}`]?.[row.method.toLowerCase()];

/** `a`, `b=x\|y`, `c\|d` of a query string: each name, with the words it lists. */
function shownParams(query: string): Array<{ name: string; words: string[] | null }> {
  return query.split('&').flatMap((part) => {
    const [names = '', value] = part.split('=');
    const words = value !== undefined && value.includes('\\|') ? value.split('\\|') : null;
    return names.split('\\|').map((name) => ({ name, words }));
  });
}

type Shape = { fields: Map<string, Shape | null> } | { items: Shape | null } | null;

/** The README's answer notation, `{ a, b: { c }, d: [{ e }], f? }`, as a tree of fields (leaves are null). */
function parseShape(text: string): Shape {
  let at = 0;
  const ws = () => {
    while (/\s/.test(text[at] ?? '')) at++;
  };
  const value = (): Shape => {
    ws();
    if (text[at] === '{') {
      at++;
      const fields = new Map<string, Shape | null>();
      for (;;) {
        ws();
        if (text[at] === '}') return at++, { fields };
        const key = /^[A-Za-z_$][\w$]*/.exec(text.slice(at))?.[0];
        if (!key) throw new Error(`cannot read a field at "${text.slice(at, at + 20)}" in ${text}`);
        at += key.length;
        if (text[at] === '?') at++;
        ws();
        fields.set(key, text[at] === ':' ? (at++, value()) : null);
        ws();
        if (text[at] === ',') at++;
      }
    }
    if (text[at] === '[') {
      at++;
      const items = value();
      let depth = 1;
      for (; depth > 0 && at < text.length; at++) depth += text[at] === '[' ? 1 : text[at] === ']' ? -1 : 0;
      return { items };
    }
    // A leaf: a literal ('USD') or words (finding...), up to the next separator at this depth.
    while (at < text.length && !',}]'.includes(text[at]!)) at++;
    return null;
  };
  return value();
}

/** The object variant of a schema that may be null (anyOf / type: [object, null]). */
const objectOf = (schema: any): any => schema?.anyOf?.find((variant: any) => variant.type !== 'null') ?? schema;

/** Where the notation and the schema differ, as `path: detail` lines. */
function differences(shape: Shape, schema: any, path: string): string[] {
  if (shape === null) return [];
  const object = objectOf(schema);
  if ('items' in shape) return object?.type === 'array' ? differences(shape.items, object.items, `${path}[]`) : [`${path}: the README shows a list, the answer does not have one`];
  const declared = Object.keys(object?.properties ?? {});
  const shown = [...shape.fields.keys()];
  const out = [
    ...declared.filter((key) => !shape.fields.has(key)).map((key) => `${path}: the README leaves out ${key}`),
    ...shown.filter((key) => !declared.includes(key)).map((key) => `${path}: the answer has no ${key}`),
  ];
  for (const [key, sub] of shape.fields) if (declared.includes(key)) out.push(...differences(sub, object.properties[key], `${path}.${key}`));
  return out;
}

describe("the README's API tables", () => {
  const rows = apiRows();

  it('list every declared route, and only those', () => {
    expect(rows.filter((row) => !operation(row)).map((row) => `${row.method} /api/${row.path}`)).toEqual([]);
    const listed = new Set(rows.map((row) => `${row.method} ${row.path}`));
    expect(apiRoutes.filter((route) => !listed.has(`${route.method} ${route.path}`)).map((route) => `${route.method} /api/${route.path}`)).toEqual([]);
  });

  it('show only query parameters the route honours, with its enum words', () => {
    const wrong = rows.flatMap((row) =>
      row.params.flatMap(shownParams).flatMap(({ name, words }) => {
        const declared = (operation(row)?.parameters ?? []).find((p: any) => p.in === 'query' && p.name === name);
        if (!declared) return [`${row.method} /api/${row.path}: ${name} is not a parameter it takes`];
        if (words && JSON.stringify([...words].sort()) !== JSON.stringify([...declared.schema.enum].sort())) return [`${row.method} /api/${row.path}: ${name} takes ${declared.schema.enum.join('|')}, the README says ${words.join('|')}`];
        return [];
      }),
    );
    expect(wrong).toEqual([]);
  });

  it("show a GET route's answer with exactly its fields", () => {
    const wrong = rows
      .filter((row) => row.method === 'GET')
      .flatMap((row) => {
        const answerCell = row.line.split(/(?<!\\)\|/)[2]?.trim() ?? '';
        const notation = /^`(\{[^`]*\})`/.exec(answerCell)?.[1];
        if (!notation) return [];
        const op = operation(row);
        const schema = op.responses['200'].content['application/json'].schema;
        return differences(parseShape(notation.replace(/\\\|/g, '|')), schema, `GET /api/${row.path}`);
      });
    expect(wrong).toEqual([]);
  });
});
