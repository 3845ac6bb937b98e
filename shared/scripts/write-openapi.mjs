// Writes shared/openapi.json from the contract (run `npm run openapi`, which builds shared first); a test checks
// that the checked-in file is what the contract generates.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { openApiDocument } = require('../dist/api/openapi.js');
const file = new URL('../openapi.json', import.meta.url);
writeFileSync(file, JSON.stringify(openApiDocument(), null, 2) + '\n');
console.log(`wrote ${file.pathname}`);
