// Which caller opened each MCP session, so a session id another caller learns cannot be used to ride that session.
import type { Subject } from '../../core/decision.js';

export interface SessionOwners {
  /** Records the caller a new session (an `Mcp-Session-Id` the upstream just issued) belongs to. */
  claim(sessionId: string, subject: Subject | undefined): void;
  /** False when the session is known and belongs to another caller. Unknown sessions pass (the upstream decides). */
  mayUse(sessionId: string, subject: Subject | undefined): boolean;
  /** Forgets a session (ended with DELETE, or no longer known upstream). */
  forget(sessionId: string): void;
  /** How many sessions have a remembered owner. */
  size(): number;
}

/** The owner key: issuer, subject and client together (the same user through another agent is another caller). */
function ownerOf(subject: Subject | undefined): string {
  return JSON.stringify([subject?.issuer ?? '', subject?.sub ?? '', subject?.clientId ?? '']);
}

/** Bounded: past `max` sessions the oldest is forgotten (it then passes as unknown, as after a restart). */
export function createSessionOwners(max = 100_000): SessionOwners {
  const owners = new Map<string, string>();
  return {
    claim(sessionId, subject) {
      if (owners.has(sessionId)) return;
      if (owners.size >= max) {
        const oldest = owners.keys().next().value;
        if (oldest !== undefined) owners.delete(oldest);
      }
      owners.set(sessionId, ownerOf(subject));
    },
    mayUse(sessionId, subject) {
      const owner = owners.get(sessionId);
      return owner === undefined || owner === ownerOf(subject);
    },
    forget(sessionId) {
      owners.delete(sessionId);
    },
    size: () => owners.size,
  };
}
