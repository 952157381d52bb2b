// Writes docs/openapi.json and docs/openapi-admin.json from the built apps' route schemas (run by `npm run openapi`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENAPI_FILES, openApiDocuments, openApiText } from '../dist/compose/openapi-documents.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const documents = await openApiDocuments();
for (const [listener, file] of Object.entries(OPENAPI_FILES)) {
  writeFileSync(join(root, file), openApiText(documents[listener]));
  console.log(`wrote ${file}`);
}
