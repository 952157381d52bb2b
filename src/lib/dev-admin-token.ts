// Dev mode's admin credential: a random token created once in the state folder, readable only by its owner.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEV_ADMIN_TOKEN_FILE = 'admin-token';

export async function loadOrCreateDevAdminToken(stateDir: string): Promise<string> {
  const path = join(stateDir, DEV_ADMIN_TOKEN_FILE);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // Not there yet: create it below.
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  // `wx` makes a concurrent second start lose the race cleanly and read the winner's token.
  try {
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  } catch {
    return (await readFile(path, 'utf8')).trim();
  }
}
