// Starts @modelcontextprotocol/server-everything (the MCP reference server) in Streamable HTTP mode on a free port, as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { freePort } from './mcp-proxy.js';

const SERVER_EVERYTHING = join(
  resolve(import.meta.dirname, '../..'),
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

export interface ServerEverything {
  /** Its Streamable HTTP endpoint, http://127.0.0.1:PORT/mcp. */
  readonly url: string;
  readonly child: ChildProcess;
  stop(): void;
}

/** Resolves once it says it listens; rejects if it exits first. */
export async function startServerEverything(): Promise<ServerEverything> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((ready, fail) => {
    let said = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('listening on port')) ready();
    });
    child.once('exit', (code) => fail(new Error(`server-everything exited (${code}): ${said}`)));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, child, stop: () => child.kill() };
}
