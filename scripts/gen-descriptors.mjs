// Writes proto/descriptors.binpb: the compiled descriptors of every gRPC file mandate serves, for server reflection.
// One FileDescriptorSet from buf for proto/ (imports and well-known types included) and one for grpc's health.proto;
// two encoded sets concatenated are one set holding both lists of files.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const buf = join(root, 'node_modules', '.bin', 'buf');
const healthRoot = dirname(
  dirname(
    dirname(
      createRequire(import.meta.url).resolve('grpc-health-check/proto/health/v1/health.proto'),
    ),
  ),
);

/** The descriptor set for `input`, as bytes. */
function buildDescriptorSet(input) {
  return execFileSync(buf, ['build', input, '-o', '-#format=binpb'], {
    cwd: root,
    maxBuffer: 16 << 20,
  });
}

/** Both sets, in the order the committed file holds them. */
function buildAll() {
  return Buffer.concat([buildDescriptorSet('proto'), buildDescriptorSet(healthRoot)]);
}

const target = join(root, 'proto', 'descriptors.binpb');
if (process.argv.includes('--check')) {
  // Used by the test suite: the committed file must be what the .proto files compile to.
  if (!buildAll().equals(readFileSync(target))) {
    console.error('proto/descriptors.binpb is stale: run `npm run gen`');
    process.exitCode = 1;
  }
} else {
  writeFileSync(target, buildAll());
}
