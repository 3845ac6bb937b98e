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

/**
 * Where plain JSON text first goes wrong, in words, or null when it is valid: JSON.parse's own messages in Node 20
 * name no position for most errors (and quote the text, newlines and all).
 */
export function plainJsonProblem(text: string): { line: number; column: number; words: string } | null {
  const errors: ParseError[] = [];
  parse(text, errors, { allowTrailingComma: false, disallowComments: true });
  const first = errors[0];
  if (!first) return null;
  const lenient: ParseError[] = [];
  parse(text, lenient, { allowTrailingComma: true, disallowComments: true });
  const words = lenient.length === 0 ? 'a trailing comma (JSON has none)' : PARSE_ERROR_WORDS[printParseErrorCode(first.error)];
  return { ...positionIn(text, first.offset), words };
}
