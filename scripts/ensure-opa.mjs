// Makes sure the pinned `opa` (used to compile Rego to Wasm and to run `opa test`) is at .tools/opa.
// Order: keep a matching .tools/opa → link a matching `opa` from PATH → `go install` it → explain what to install.
import { execFile, spawn } from 'node:child_process';
import { access, constants, copyFile, mkdir, rm, symlink } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The one OPA version mandate compiles and tests policies with; bump it here and nowhere else. */
const OPA_VERSION = '1.22.3';

const run = promisify(execFile);
const exe = process.platform === 'win32' ? '.exe' : '';
const root = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = join(root, '.tools');
const target = join(toolsDir, `opa${exe}`);

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

  const go = await onPath(`go${exe}`);
  if (go !== undefined) {
    console.log(
      `ensure-opa: building opa ${OPA_VERSION} into .tools/ with \`go install\`; ` +
        'the first build takes a few minutes',
    );
    await mkdir(toolsDir, { recursive: true });
    if ((await goInstall(go)) && (await versionOf(target)) === OPA_VERSION) {
      console.log(`ensure-opa: installed .tools/opa (opa ${OPA_VERSION})`);
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
    ].join('\n'),
  );
  return 1;
}

process.exitCode = await main();
