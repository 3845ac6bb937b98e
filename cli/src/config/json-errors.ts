import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';

/** jsonc-parser's error codes in the words a person fixing the file by hand would use. */
export const PARSE_ERROR_WORDS: Record<ReturnType<typeof printParseErrorCode>, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'a number is malformed',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected a colon',
  CommaExpected: 'expected a comma',
  CloseBraceExpected: 'expected a closing brace }',
  CloseBracketExpected: 'expected a closing bracket ]',
  EndOfFileExpected: 'expected the end of the file (something follows the closing brace)',
  InvalidCommentToken: 'a comment is malformed',
  UnexpectedEndOfComment: 'a comment is not closed',
  UnexpectedEndOfString: 'a string is not closed',
  UnexpectedEndOfNumber: 'a number ends too early',
  InvalidUnicode: 'a \\u escape is not valid',
  InvalidEscapeCharacter: 'a backslash escape is not valid',
  InvalidCharacter: 'a character is not allowed there (a control character in a string?)',
  '<unknown ParseErrorCode>': 'not valid JSON',
};

/** Line and column (1-based) of an offset in a text. */
export function positionIn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** What a reader of JSON takes beyond plain JSON. */
export interface JsonDialect {
  comments: boolean;
  trailingCommas: boolean;
}

/** Where a text first goes wrong: line, column, jsonc-parser's error in words, and what only strictness refused. */
export interface JsonProblem {
  line: number;
  column: number;
  words: string;
  /** Set when only the dialect's strictness refuses the text (it is valid JSONC): what stands at that place. */
  refused: 'comment' | 'trailing comma' | null;
}

/** The text as a reader of this dialect reads it, or where it first goes wrong for that reader. */
export function parseJson(text: string, dialect: JsonDialect): { value: unknown } | { problem: JsonProblem } {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: dialect.trailingCommas, disallowComments: !dialect.comments });
  const first = errors[0];
  if (!first) return { value };
  const lenient: ParseError[] = [];
  parse(text, lenient, { allowTrailingComma: true, disallowComments: false });
  const refused = lenient.length > 0 ? null : !dialect.comments && (text.startsWith('//', first.offset) || text.startsWith('/*', first.offset)) ? 'comment' : 'trailing comma';
  return { problem: { ...positionIn(text, first.offset), words: PARSE_ERROR_WORDS[printParseErrorCode(first.error)], refused } };
}

/**
 * Where plain JSON text first goes wrong, in words, or null when it is valid: JSON.parse's own messages in Node 20
 * name no position for most errors (and quote the text, newlines and all). `file` names the file in the words.
 */
export function plainJsonProblem(text: string, file: string): { line: number; column: number; words: string } | null {
  const read = parseJson(text, { comments: false, trailingCommas: false });
  if ('value' in read) return null;
  const { line, column, words, refused } = read.problem;
  if (refused === 'trailing comma') return { line, column, words: 'a trailing comma (JSON has none)' };
  // Read strictly, every comment is an InvalidCommentToken, closed or not ("a comment is malformed" says the comment
  // was written wrong, when it is the comment itself that JSON has no place for).
  if (refused === 'comment' || words === PARSE_ERROR_WORDS.InvalidCommentToken) return { line, column, words: `a comment: ${file} is JSON, which does not allow comments (// or /* */); remove it` };
  return { line, column, words };
}
