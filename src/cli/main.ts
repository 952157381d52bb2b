#!/usr/bin/env node
// The `mandate` command: parses with the declared command tree (program.ts) and maps failures to exit codes.
import { CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { createProgram, type ProgramResult } from './program.js';
import { UsageError } from './usage-error.js';

async function main(argv: string[]): Promise<number> {
  const stop = new AbortController();
  const result: ProgramResult = { code: 0 };
  const io = {
    env: process.env,
    out: (text: string) => void process.stdout.write(text),
    err: (text: string) => void process.stderr.write(text),
    signal: stop.signal,
  };
  const program = createProgram(io, result);
  // With no command, the overview (as `mandate --help`), not an error.
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  if (argv[0] === 'audit') {
    // `audit tail --follow` runs until interrupted, then ends cleanly.
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    // Help and version exit 0; every other parse failure (unknown flag or command, missing value)
    // was already printed by commander, naming the flag: a usage mistake.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return result.code;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`mandate: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`mandate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
