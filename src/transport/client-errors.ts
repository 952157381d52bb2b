// Turns fastify and validation errors into the one client error shape: { error, message naming the field }.
import type { FastifyError } from 'fastify';

export interface ClientError {
  readonly statusCode: number;
  readonly body: { readonly error: string; readonly message: string };
}

interface ValidationItem {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** Names the field an ajv error is about, as `action` or `resource.type`. */
function fieldOf(item: ValidationItem): string {
  const base = (item.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const missing = item.params?.['missingProperty'];
  const extra = item.params?.['additionalProperty'];
  const leaf =
    typeof missing === 'string' ? missing : typeof extra === 'string' ? extra : undefined;
  if (leaf === undefined) return base || 'body';
  return base ? `${base}.${leaf}` : leaf;
}

function describe(item: ValidationItem): string {
  switch (item.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    default:
      return item.message ?? 'is invalid';
  }
}

export function clientErrorOf(error: unknown): ClientError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const err = error as FastifyError;
  const validation = (err as { validation?: ValidationItem[] }).validation;
  if (validation && validation.length > 0) {
    const first = validation[0] as ValidationItem;
    return {
      statusCode: 400,
      body: { error: 'invalid_request', message: `${fieldOf(first)}: ${describe(first)}` },
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, body: { error: 'payload_too_large', message: 'body: too large' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        statusCode: 415,
        body: { error: 'invalid_request', message: 'content-type: must be application/json' },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, body: { error: 'invalid_request', message: 'body: is required' } };
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return {
      statusCode: 400,
      body: { error: 'invalid_request', message: 'body: is not valid JSON' },
    };
  }
  return undefined;
}
