// Makes sure a Node.js 24 binary is at .tools/node24/bin/node: CI runs the suite on it a second time, and the MCP
// conformance suite (which needs Node >= 22) runs on it while mandate itself supports Node 20.
// The binary comes from npm's per-platform `node-<platform>-<arch>` package, installed with npm itself.
// Environment: MANDATE_TOOLS_DIR (where to install instead of .tools/).
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The Node.js major version installed; the newest release of that line is taken. */
const NODE_MAJOR = 24;

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = process.env.MANDATE_TOOLS_DIR || join(root, '.tools');
const home = join(toolsDir, `node${NODE_MAJOR}`);
const target = join(home, 'bin', 'node');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The version the installed binary reports (`v24.x.y`), or undefined when there is none. */
async function installedVersion() {
  try {
    const { stdout } = await run(target, ['--version'], { timeout: 30_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function main() {
  if ((await installedVersion())?.startsWith(`v${NODE_MAJOR}.`)) return 0;
  // Already running on that major (a developer's machine): link it rather than download another.
  if (process.version.startsWith(`v${NODE_MAJOR}.`)) {
    await rm(home, { recursive: true, force: true });
    await mkdir(join(home, 'bin'), { recursive: true });
    await symlink(process.execPath, target);
    console.log(`ensure-node24: linked ${target} to ${process.execPath} (${process.version})`);
    return 0;
  }
  // npm publishes the official binaries for Linux only under these names (bin/node inside).
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    console.error(
      `ensure-node24: no npm package carries Node.js ${NODE_MAJOR} for ${process.platform}-${process.arch}; ` +
        `install it from https://nodejs.org and run this script with it (or link its binary to ${target})`,
    );
    return 1;
  }
  const pkg = `node-linux-${process.arch}@${NODE_MAJOR}`;
  console.log(`ensure-node24: installing ${pkg} into ${home}`);
  const staging = await mkdtemp(join(tmpdir(), 'mandate-node24-'));
  try {
    await run(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', staging, pkg], {
      timeout: 10 * 60_000,
    });
    await rm(home, { recursive: true, force: true });
    await mkdir(home, { recursive: true });
    await cp(join(staging, 'node_modules', `node-linux-${process.arch}`), home, {
      recursive: true,
    });
  } catch (error) {
    console.error(`ensure-node24: installing ${pkg} failed: ${error.message}`);
    return 1;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const version = await installedVersion();
  if (!version?.startsWith(`v${NODE_MAJOR}.`)) {
    console.error(`ensure-node24: ${target} reports ${version ?? '(does not run)'}`);
    return 1;
  }
  console.log(`ensure-node24: installed ${target} (${version})`);
  return 0;
}

process.exitCode = await main();
