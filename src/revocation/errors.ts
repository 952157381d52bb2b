// Why a revocation store refused: a stable code for the admin API to switch on, and a message without secrets.

export type RevocationStoreErrorCode = 'store_unavailable' | 'snapshot_unreadable';

/** Raised by a store when a change cannot be made durable, or its snapshot file cannot be read at start. */
export class RevocationStoreError extends Error {
  constructor(
    readonly code: RevocationStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RevocationStoreError';
  }
}
