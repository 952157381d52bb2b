// Makes sure the pinned grpcurl (the reflection tests drive the gRPC listener with it) is at .tools/grpcurl, via `go install`.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The grpcurl version the tests run; bump it here and nowhere else. */
const GRPCURL_VERSION = '1.9.4';

const run = promisify(execFile);
const toolsDir = fileURLToPath(new URL('../.tools', import.meta.url));
const target = join(toolsDir, 'grpcurl');

async function installedVersion() {
  try {
    // A `go install`ed grpcurl prints "dev build" for -version; its module version is in the binary.
    const { stdout } = await run('go', ['version', '-m', target], { timeout: 30_000 });
    return /\bmod\s+github\.com\/fullstorydev\/grpcurl\s+v(\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

if ((await installedVersion()) !== GRPCURL_VERSION) {
  console.log(
    `ensure-grpcurl: building grpcurl ${GRPCURL_VERSION} into .tools/ with \`go install\` (about a minute)`,
  );
  await mkdir(toolsDir, { recursive: true });
  try {
    await run(
      'go',
      ['install', `github.com/fullstorydev/grpcurl/cmd/grpcurl@v${GRPCURL_VERSION}`],
      {
        env: { ...process.env, GOBIN: toolsDir },
        timeout: 15 * 60_000,
      },
    );
  } catch (error) {
    console.error(
      `ensure-grpcurl: \`go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v${GRPCURL_VERSION}\` failed ` +
        `(the gRPC reflection tests need it; install Go 1.25 or newer): ${error.message}`,
    );
    process.exitCode = 1;
  }
}
