// Preloaded into a sidecar child (node --expose-gc --import): a full garbage collection every 50 ms, so weakly held timers die.
import { setInterval } from 'node:timers';
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('gc-pressure.mjs needs node --expose-gc');
setInterval(() => gc(), 50).unref();
