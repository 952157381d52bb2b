// Makes sure the pinned `opa` (used to compile Rego to Wasm and to run `opa test`) is at .tools/opa.
// Order: keep a matching .tools/opa → link a matching `opa` from PATH → download the release binary and
// check its published SHA-256 → `go install` it → explain what to install.
// Environment: MANDATE_OPA_DOWNLOAD_URL (a mirror laid out like the GitHub releases: <url>/v<version>/<asset>
// and <asset>.sha256 beside it), MANDATE_TOOLS_DIR (where to install instead of .tools/).
/* global fetch, AbortSignal -- Node 20 globals */
import { Buffer } from 'node:buffer';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  access,
  chmod,
  constants,
  copyFile,
  mkdir,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The one OPA version mandate compiles and tests policies with; bump it here and nowhere else. */
const OPA_VERSION = '1.22.3';

/** Where OPA publishes its release binaries, each with a `.sha256` file beside it. */
const OFFICIAL_DOWNLOADS = 'https://github.com/open-policy-agent/opa/releases/download';

/** Until the response headers arrive: offline machines fail fast (DNS) or here, then go install. */
const CONNECT_TIMEOUT_MS = 15_000;
/** The whole transfer of a ~70 MB binary; a stalled download must not hang `npm test` either. */
const DOWNLOAD_TIMEOUT_MS = 300_000;

const run = promisify(execFile);
const exe = process.platform === 'win32' ? '.exe' : '';
const root = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = process.env.MANDATE_TOOLS_DIR || join(root, '.tools');
const target = join(toolsDir, `opa${exe}`);

/** A checksum that does not match: never installed, never retried another way. */
class ChecksumError extends Error {}

/** The release asset for this platform, or undefined where OPA publishes none. */
function releaseAsset() {
  const assets = {
    'linux-x64': 'opa_linux_amd64_static',
    'linux-arm64': 'opa_linux_arm64_static',
    'darwin-x64': 'opa_darwin_amd64',
    'darwin-arm64': 'opa_darwin_arm64_static',
    'win32-x64': 'opa_windows_amd64.exe',
  };
  return assets[`${process.platform}-${process.arch}`];
}

async function fetchBytes(url) {
  const connect = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
  const whole = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  const response = await fetch(url, { signal: AbortSignal.any([connect, whole]) }).catch(
    (cause) => {
      throw new Error(`${url}: ${cause.cause?.code ?? cause.cause?.message ?? cause.message}`);
    },
  );
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * Downloads the release binary and its `.sha256`, and installs it only when the digest matches and
 * the binary reports the pinned version. Throws {@link ChecksumError} on a mismatch, Error otherwise.
 */
async function download(asset) {
  const base = (process.env.MANDATE_OPA_DOWNLOAD_URL || OFFICIAL_DOWNLOADS).replace(/\/+$/, '');
  const url = `${base}/v${OPA_VERSION}/${asset}`;
  console.log(`ensure-opa: downloading ${url}`);
  const published = /\b[0-9a-f]{64}\b/i.exec((await fetchBytes(`${url}.sha256`)).toString('utf8'));
  if (published === null) throw new ChecksumError(`${url}.sha256 holds no SHA-256 digest`);
  const binary = await fetchBytes(url);
  const actual = createHash('sha256').update(binary).digest('hex');
  if (actual !== published[0].toLowerCase()) {
    throw new ChecksumError(
      `${url} has SHA-256 ${actual}, but ${url}.sha256 publishes ${published[0]}; not installing it`,
    );
  }
  await mkdir(toolsDir, { recursive: true });
  const temp = `${target}.${process.pid}.download`;
  try {
    await writeFile(temp, binary);
    await chmod(temp, 0o755);
    const version = await versionOf(temp);
    if (version !== OPA_VERSION) {
      throw new Error(`${url} reports opa ${version ?? '(does not run)'}, need ${OPA_VERSION}`);
    }
    await rm(target, { force: true });
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
}

/** The version an opa binary reports, or undefined when it does not run. */
async function versionOf(bin) {
  try {
    const { stdout } = await run(bin, ['version'], { timeout: 30_000 });
    return /^Version:\s*v?(\S+)/m.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** Absolute path of the first executable `name` on PATH; a symlink needs a real path, not a bare name. */
async function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

async function linkFrom(source) {
  await mkdir(toolsDir, { recursive: true });
  await rm(target, { force: true });
  try {
    await symlink(source, target);
  } catch {
    // Windows without symlink rights: a copy works just as well.
    await copyFile(source, target);
  }
}

function goInstall(go) {
  return new Promise((resolve) => {
    const child = spawn(go, ['install', `github.com/open-policy-agent/opa@v${OPA_VERSION}`], {
      stdio: 'inherit',
      env: { ...process.env, GOBIN: toolsDir },
    });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

async function main() {
  const current = await versionOf(target);
  if (current === OPA_VERSION) return 0;
  if (current !== undefined) {
    console.log(`ensure-opa: .tools/opa is ${current}, need ${OPA_VERSION}; replacing it`);
  }

  const fromPath = await onPath(`opa${exe}`);
  if (fromPath !== undefined && (await versionOf(fromPath)) === OPA_VERSION) {
    await linkFrom(fromPath);
    console.log(`ensure-opa: using ${fromPath} (opa ${OPA_VERSION})`);
    return 0;
  }

  const asset = releaseAsset();
  if (asset !== undefined) {
    try {
      await download(asset);
      console.log(`ensure-opa: installed ${target} (opa ${OPA_VERSION}, SHA-256 checked)`);
      return 0;
    } catch (error) {
      if (error instanceof ChecksumError) {
        console.error(`ensure-opa: checksum mismatch: ${error.message}`);
        return 1;
      }
      console.log(`ensure-opa: download failed (${error.message}); trying \`go install\``);
    }
  }

  const go = await onPath(`go${exe}`);
  if (go !== undefined) {
    console.log(
      `ensure-opa: building opa ${OPA_VERSION} into ${toolsDir} with \`go install\`; ` +
        'this takes about 8 minutes on 2 cores',
    );
    await mkdir(toolsDir, { recursive: true });
    if ((await goInstall(go)) && (await versionOf(target)) === OPA_VERSION) {
      console.log(`ensure-opa: installed ${target} (opa ${OPA_VERSION})`);
      return 0;
    }
    console.error(
      `ensure-opa: \`go install github.com/open-policy-agent/opa@v${OPA_VERSION}\` failed`,
    );
  }

  console.error(
    [
      `ensure-opa: mandate needs opa ${OPA_VERSION} to compile its Rego policies to WebAssembly.`,
      'Install one of:',
      `  - Go 1.25 or newer (https://go.dev/dl/); this script then runs \`go install github.com/open-policy-agent/opa@v${OPA_VERSION}\``,
      `  - the opa ${OPA_VERSION} binary on your PATH (https://github.com/open-policy-agent/opa/releases/tag/v${OPA_VERSION})`,
      '  - or set MANDATE_OPA_DOWNLOAD_URL to a mirror of the OPA release downloads',
    ].join('\n'),
  );
  return 1;
}

process.exitCode = await main();
