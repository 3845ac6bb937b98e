import { join } from 'node:path';
import ts from 'typescript';

/** jest transpiles without type checking, so this test runs the compiler on the fixture that compares the types. */
describe("the dashboard's API types", () => {
  it('are the contract\'s: its paths, parameter names and answers, checked by the compiler', () => {
    const root = join(__dirname, '..', '..');
    const program = ts.createProgram([join(__dirname, 'fixtures', 'api-types-check.ts')], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      // As the dashboard is built (its tsconfig.json), with Node's types for the shared sources the paths lead to.
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: ['node', 'vite/client'],
      baseUrl: root,
      paths: { '@km/shared': ['shared/src/index.ts'] },
    });
    // Each problem with its source line, which names the pair of types that differ.
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return message;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${d.file.text.split('\n')[line]!.trim()}: ${message}`;
    });
    expect(problems).toEqual([]);
  });
});
