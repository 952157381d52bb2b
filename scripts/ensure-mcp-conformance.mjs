// Makes sure the pinned MCP conformance suite (@modelcontextprotocol/conformance) is at .tools/mcp-conformance,
// with the Node.js 24 it runs on: it needs Node >= 22, so it cannot be a devDependency of a Node 20 project.
// What is installed is scripts/mcp-conformance/{package.json,package-lock.json}, with `npm ci`; a copy of the
// lock beside the install says which one is there. Environment: MANDATE_TOOLS_DIR (instead of .tools/).
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const pinned = join(root, 'scripts', 'mcp-conformance');
const toolsDir = process.env.MANDATE_TOOLS_DIR || join(root, '.tools');
const target = join(toolsDir, 'mcp-conformance');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function readOr(path, fallback) {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** The lock and the installed package agree with the pinned lock. */
async function upToDate() {
  const wanted = await readFile(join(pinned, 'package-lock.json'), 'utf8');
  const installedLock = await readOr(join(target, 'package-lock.json'), '');
  const manifest = join(
    target,
    'node_modules',
    '@modelcontextprotocol',
    'conformance',
    'package.json',
  );
  return installedLock === wanted && (await readOr(manifest, '')) !== '';
}

async function main() {
  const node = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'scripts', 'ensure-node24.mjs')], {
      stdio: 'inherit',
    });
    child.on('error', () => resolve(1));
    child.on('exit', (code) => resolve(code ?? 1));
  });
  if (node !== 0) return 1;
  if (await upToDate()) return 0;
  const version = JSON.parse(await readFile(join(pinned, 'package.json'), 'utf8')).dependencies[
    '@modelcontextprotocol/conformance'
  ];
  console.log(`ensure-mcp-conformance: installing @modelcontextprotocol/conformance ${version}`);
  // Installed beside the target and renamed into place, so a failed install leaves nothing half-made.
  const staging = `${target}.${process.pid}.install`;
  try {
    await mkdir(staging, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) {
      await copyFile(join(pinned, file), join(staging, file));
    }
    // --engine-strict=false: npm runs on Node 20 here; the suite itself runs on .tools/node24.
    await run(npm, ['ci', '--no-audit', '--no-fund', '--engine-strict=false'], {
      cwd: staging,
      timeout: 10 * 60_000,
    });
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } catch (error) {
    console.error(
      `ensure-mcp-conformance: \`npm ci\` of scripts/mcp-conformance failed ` +
        `(test/transport/mcp/conformance.test.ts needs it): ${error.message}`,
    );
    return 1;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  console.log(`ensure-mcp-conformance: installed ${target}`);
  return 0;
}

process.exitCode = await main();
