// Makes sure the load generators (wrk, h2load) are installed: apt-get them when root, else say what to install.
import { spawnSync } from 'node:child_process';

/** Each load generator, how to ask its version, and the Debian package that ships it. */
const TOOLS = [
  { name: 'wrk', args: ['--version'], pkg: 'wrk', brew: 'wrk', pattern: /^wrk (\S+)/m },
  {
    name: 'h2load',
    args: ['--version'],
    pkg: 'nghttp2-client',
    brew: 'nghttp2',
    pattern: /^h2load (\S+)/m,
  },
];

/** The version line of `tool`, or undefined when it is not installed. wrk exits 1 on --version. */
function versionOf(tool) {
  const run = spawnSync(tool.name, tool.args, { encoding: 'utf8', timeout: 10_000 });
  if (run.error) return undefined;
  const match = tool.pattern.exec(`${run.stdout}${run.stderr}`);
  return match ? `${tool.name} ${match[1]}` : undefined;
}

function missingTools() {
  return TOOLS.filter((tool) => versionOf(tool) === undefined);
}

function explain(missing) {
  const names = missing.map((t) => t.name).join(' and ');
  return [
    `npm run bench needs ${names} (HTTP load from wrk, gRPC load from h2load). Install:`,
    `  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${missing.map((t) => t.pkg).join(' ')}`,
    `  macOS:         brew install ${missing.map((t) => t.brew).join(' ')}`,
    'then run npm run bench again.',
  ].join('\n');
}

/**
 * Returns the versions of wrk and h2load. When one is missing: as root with apt-get, installs the
 * Debian packages (printing what it does); otherwise prints what to install and exits 1.
 */
export function ensureLoadTools() {
  let missing = missingTools();
  if (missing.length > 0) {
    const canApt =
      process.platform === 'linux' &&
      process.getuid?.() === 0 &&
      !spawnSync('apt-get', ['--version'], { timeout: 10_000 }).error;
    if (!canApt) {
      process.stderr.write(`${explain(missing)}\n`);
      process.exit(1);
    }
    const pkgs = missing.map((t) => t.pkg);
    process.stderr.write(`bench: installing ${pkgs.join(' ')} with apt-get (running as root)\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env,
        timeout: 300_000,
      }).status === 0;
    // A fresh container has no package lists yet: refresh them once if the first try fails.
    if (!install()) {
      spawnSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
      install();
    }
    missing = missingTools();
    if (missing.length > 0) {
      process.stderr.write(`bench: apt-get could not install them.\n${explain(missing)}\n`);
      process.exit(1);
    }
  }
  return Object.fromEntries(TOOLS.map((tool) => [tool.name, versionOf(tool)]));
}
