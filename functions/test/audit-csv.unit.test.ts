import { csvCell } from '../src/handlers/audit';

describe('the audit CSV cells', () => {
  it('make text of a cell a spreadsheet would read as a formula, a leading tab or carriage return included', () => {
    expect(['=1+1', '+1', '-1', '@SUM(A1)', '\t=1+1', '\r=1+1'].map(csvCell)).toEqual(["\"'=1+1\"", "\"'+1\"", "\"'-1\"", "\"'@SUM(A1)\"", "\"'\t=1+1\"", "\"'\r=1+1\""]);
    expect(['plain', 'a,b', 'say "hi"', null].map(csvCell)).toEqual(['plain', '"a,b"', '"say ""hi"""', '']);
  });
});
