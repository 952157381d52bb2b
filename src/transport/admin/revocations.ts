// Admin routes for revocations: POST / GET / DELETE /v1/revocations, tenant-scoped admins confined to their tenant, every action audited.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { adminRecordOf } from '../../audit/admin-record.js';
import type { AuditSink } from '../../audit/sink.js';
import { RevocationStoreError } from '../../revocation/errors.js';
import {
  REVOCATION_VALUE_FIELD,
  validateRevocationEntry,
} from '../../revocation/entry-validation.js';
import type { LifetimeRules } from '../../revocation/lifetime.js';
import {
  REVOCATION_KINDS,
  type RevocationEntry,
  type RevocationKind,
  type RevocationStore,
} from '../../revocation/types.js';
import { adminPrincipalOf, type AdminRoutes } from './app.js';
import type { AdminPrincipal } from './auth.js';
import { clientErrorOf } from '../client-errors.js';

export interface RevocationRoutesDeps {
  readonly store: RevocationStore;
  readonly lifetime: LifetimeRules;
  readonly audit: AuditSink;
  /** How far in the future `issued_before` may lie, seconds. */
  readonly clockSkewSeconds: number;
  /** Largest POST body, bytes; larger get 413. */
  readonly bodyLimitBytes: number;
  /** Clock, epoch ms (test seam). Default Date.now. */
  readonly now?: () => number;
}

const MAX_NAME = 256;
const MAX_REASON = 1024;
const MAX_LIST = 1000;

const name = { type: 'string', minLength: 1, maxLength: MAX_NAME } as const;

const createSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: REVOCATION_KINDS },
    tenant: name,
    jti: name,
    grant_id: name,
    sub: name,
    client_id: name,
    actor: name,
    // A string (RFC 3339) or an integer (epoch seconds): checked by the entry rules, which name the field.
    issued_before: {},
    absolute: { type: 'boolean' },
    reason: { type: 'string', maxLength: MAX_REASON },
  },
} as const;

const listSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tenant: name,
    kind: { type: 'string', enum: REVOCATION_KINDS },
    limit: { type: 'string', pattern: '^[0-9]{1,7}$' },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

interface CreateBody {
  kind: RevocationKind;
  tenant?: string;
  jti?: string;
  grant_id?: string;
  sub?: string;
  client_id?: string;
  actor?: string;
  issued_before?: unknown;
  absolute?: boolean;
  reason?: string;
}

/** A refusal with the status and the message naming the field. */
class Refusal {
  constructor(
    readonly status: 400 | 403 | 404 | 503,
    readonly error: string,
    readonly message: string,
  ) {}
}

/** The API form of an entry: the kind's own field name for its value, times in RFC 3339. */
export function revocationJson(e: RevocationEntry): Record<string, unknown> {
  const field = REVOCATION_VALUE_FIELD[e.kind];
  return {
    id: e.id,
    kind: e.kind,
    ...(e.tenant !== undefined ? { tenant: e.tenant } : {}),
    ...(field !== undefined && e.value !== undefined ? { [field]: e.value } : {}),
    ...(e.issuedBeforeMs !== undefined
      ? { issued_before: new Date(e.issuedBeforeMs).toISOString() }
      : {}),
    ...(e.kind !== 'token' && e.issuedBeforeMs === undefined ? { absolute: true } : {}),
    reason: e.reason,
    created_by: e.createdBy,
    created_at: new Date(e.createdAtMs).toISOString(),
    ...(e.expiresAtMs !== undefined ? { expires_at: new Date(e.expiresAtMs).toISOString() } : {}),
  };
}

export function revocationAdminRoutes(deps: RevocationRoutesDeps): AdminRoutes {
  const now = deps.now ?? Date.now;
  const { store, audit } = deps;

  function record(
    req: FastifyRequest,
    action: string,
    status: number,
    target: Record<string, unknown> | undefined,
    message?: string,
  ): void {
    const requestId = req.headers['x-request-id'];
    audit.write(
      adminRecordOf({
        timeMs: now(),
        action,
        status,
        principal: adminPrincipalOf(req),
        target,
        message,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        peer: req.ip,
      }),
    );
  }

  /** Runs a handler; refusals and store failures become their status, each one audited. */
  async function handle(
    req: FastifyRequest,
    reply: FastifyReply,
    action: string,
    target: () => Record<string, unknown> | undefined,
    run: () => Promise<{ status: number; body: unknown; target?: Record<string, unknown> }>,
  ) {
    try {
      const validation = (req as { validationError?: unknown }).validationError;
      if (validation !== undefined) {
        const clientError = clientErrorOf(validation);
        throw new Refusal(400, 'invalid_request', clientError?.body.message ?? 'body: is invalid');
      }
      const result = await run();
      record(req, action, result.status, result.target ?? target());
      return reply.code(result.status).send(result.body);
    } catch (err) {
      let refusal: Refusal;
      if (err instanceof Refusal) refusal = err;
      else if (err instanceof RevocationStoreError) {
        req.log.warn(
          { err: err.message, cause: (err.cause as Error)?.message },
          'revocation store failed',
        );
        refusal = new Refusal(
          503,
          'store_unavailable',
          'the revocation store is unavailable; nothing was changed',
        );
      } else throw err;
      record(req, action, refusal.status, target(), refusal.message);
      return reply.code(refusal.status).send({ error: refusal.error, message: refusal.message });
    }
  }

  /** The tenant an action is confined to: a tenant-scoped admin's own; asking for another is 403. */
  function scopedTenant(principal: AdminPrincipal, asked: string | undefined): string | undefined {
    if (principal.tenant === undefined) return asked;
    if (asked !== undefined && asked !== principal.tenant) {
      throw new Refusal(
        403,
        'forbidden',
        `tenant: this admin may only act in tenant ${principal.tenant}`,
      );
    }
    return principal.tenant;
  }

  function entryOf(body: CreateBody, principal: AdminPrincipal): RevocationEntry {
    // Confinement first: a tenant-scoped admin learns nothing about another tenant's requests.
    const tenant = scopedTenant(principal, body.tenant);
    // Unscoped, the tenant is the one asked for (or none): overriding it changes nothing then.
    const result = validateRevocationEntry(
      { ...body, ...(tenant !== undefined ? { tenant } : {}) },
      {
        id: `rv_${randomUUID()}`,
        createdBy: principal.id,
        nowMs: now(),
        clockSkewSeconds: deps.clockSkewSeconds,
        horizonMs: deps.lifetime.horizonMs,
      },
    );
    if (!result.ok) throw new Refusal(400, 'invalid_request', result.message);
    return result.entry;
  }

  const kit: RouteKit = {
    store,
    bodyLimitBytes: deps.bodyLimitBytes,
    handle,
    scopedTenant,
    entryOf,
  };
  return (app) => {
    registerCreate(app, kit);
    registerList(app, kit);
    registerById(app, kit);
  };
}

/** What the route groups share: the store, and the audited handling, confinement and entry rules. */
interface RouteKit {
  readonly store: RevocationStore;
  readonly bodyLimitBytes: number;
  handle(
    req: FastifyRequest,
    reply: FastifyReply,
    action: string,
    target: () => Record<string, unknown> | undefined,
    run: () => Promise<{ status: number; body: unknown; target?: Record<string, unknown> }>,
  ): Promise<FastifyReply>;
  scopedTenant(principal: AdminPrincipal, asked: string | undefined): string | undefined;
  entryOf(body: CreateBody, principal: AdminPrincipal): RevocationEntry;
}

/** POST /v1/revocations: validate, confine to the admin's tenant, store, audit. */
function registerCreate(app: FastifyInstance, kit: RouteKit): void {
  const { handle, entryOf, store } = kit;
  app.post<{ Body: CreateBody }>(
    '/v1/revocations',
    {
      schema: { body: createSchema },
      attachValidation: true,
      bodyLimit: kit.bodyLimitBytes,
    },
    (req, reply) => {
      const body = (req.body ?? {}) as Partial<CreateBody>;
      const asked = () => {
        const field = body.kind !== undefined ? REVOCATION_VALUE_FIELD[body.kind] : undefined;
        return {
          ...(typeof body.kind === 'string' ? { kind: body.kind } : {}),
          ...(typeof body.tenant === 'string' ? { tenant: body.tenant } : {}),
          ...(field && typeof body[field as keyof CreateBody] === 'string'
            ? { [field]: body[field as keyof CreateBody] }
            : {}),
        };
      };
      return handle(req, reply, 'revocation.create', asked, async () => {
        const entry = entryOf(req.body, adminPrincipalOf(req));
        await store.add(entry);
        const json = revocationJson(entry);
        req.log.info(
          { revocation: entry.id, kind: entry.kind, by: entry.createdBy },
          'revocation created',
        );
        return { status: 201, body: json, target: { revocation_id: entry.id, ...json } };
      });
    },
  );
}

/** GET /v1/revocations: the entries in the admin's reach, up to `limit`. */
function registerList(app: FastifyInstance, kit: RouteKit): void {
  const { handle, scopedTenant, store } = kit;
  app.get<{ Querystring: { tenant?: string; kind?: RevocationKind; limit?: string } }>(
    '/v1/revocations',
    { schema: { querystring: listSchema }, attachValidation: true },
    (req, reply) => {
      const q = req.query ?? {};
      const target = () => ({
        ...(typeof q.tenant === 'string' ? { tenant: q.tenant } : {}),
        ...(typeof q.kind === 'string' ? { kind: q.kind } : {}),
      });
      return handle(req, reply, 'revocation.list', target, async () => {
        const tenant = scopedTenant(adminPrincipalOf(req), q.tenant);
        const limit = q.limit === undefined ? 100 : Number(q.limit);
        if (limit < 1 || limit > MAX_LIST) {
          throw new Refusal(400, 'invalid_request', `limit: must be between 1 and ${MAX_LIST}`);
        }
        const all = store.list({
          ...(tenant !== undefined ? { tenant } : {}),
          ...(q.kind !== undefined ? { kind: q.kind } : {}),
        });
        return {
          status: 200,
          body: { revocations: all.slice(0, limit).map(revocationJson), total: all.length },
          target: { ...target(), ...(tenant !== undefined ? { tenant } : {}), total: all.length },
        };
      });
    },
  );
}

/** GET and DELETE /v1/revocations/{id}: another tenant's entry looks missing (404). */
function registerById(app: FastifyInstance, kit: RouteKit): void {
  const { handle, store } = kit;
  /** An entry a tenant-scoped admin may see; others look like missing ones (404). */
  const visible = (principal: AdminPrincipal, e: RevocationEntry | undefined) =>
    e !== undefined && (principal.tenant === undefined || e.tenant === principal.tenant)
      ? e
      : undefined;

  app.get<{ Params: { id: string } }>(
    '/v1/revocations/:id',
    { schema: { params: idParams }, attachValidation: true },
    (req, reply) =>
      handle(
        req,
        reply,
        'revocation.get',
        () => ({ revocation_id: req.params.id }),
        async () => {
          const entry = visible(adminPrincipalOf(req), store.get(req.params.id));
          if (entry === undefined) {
            throw new Refusal(404, 'not_found', `id: no revocation ${req.params.id}`);
          }
          return { status: 200, body: revocationJson(entry) };
        },
      ),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/revocations/:id',
    { schema: { params: idParams }, attachValidation: true },
    (req, reply) =>
      handle(
        req,
        reply,
        'revocation.delete',
        () => ({ revocation_id: req.params.id }),
        async () => {
          const principal = adminPrincipalOf(req);
          if (visible(principal, store.get(req.params.id)) === undefined) {
            throw new Refusal(404, 'not_found', `id: no revocation ${req.params.id}`);
          }
          const removed = await store.remove(req.params.id);
          if (removed === undefined) {
            throw new Refusal(404, 'not_found', `id: no revocation ${req.params.id}`);
          }
          req.log.info({ revocation: removed.id, by: principal.id }, 'revocation deleted');
          const json = revocationJson(removed);
          return { status: 200, body: json, target: { revocation_id: removed.id, ...json } };
        },
      ),
  );
}
