import { clientErrorBody } from '@cpa/contracts';
import type { CanonicalError } from './canonical';
import { isObject, num, str } from './util';

/** Reads any of the three provider error envelopes (OpenAI, Anthropic, Google). */
export function decodeAnyError(body: unknown, status?: number): CanonicalError {
  if (typeof body === 'string') {
    try {
      return decodeAnyError(JSON.parse(body), status);
    } catch {
      return { status, message: body };
    }
  }
  const root = Array.isArray(body) ? body[0] : body;
  const err = isObject(root) ? (isObject(root.error) ? root.error : root) : undefined;
  if (!err) return { status, message: 'upstream error' };
  const message = str(err.message) ?? str(root?.error) ?? 'upstream error';
  const type = str(err.type) ?? str(err.status) ?? str(err.code);
  return { status: status ?? num(err.code) ?? num(root?.status), type, message };
}

/** Provider-specific error type when the error came from the same family, else a status-derived one. */
export function claudeErrorBody(e: CanonicalError): Record<string, any> {
  const fallback = clientErrorBody('claude', e.status ?? 500, e.message) as { error: { type: string } };
  const type = e.type && /_error$|^request_too_large$/.test(e.type) ? e.type : fallback.error.type;
  return { type: 'error', error: { type, message: e.message } };
}

export function openaiErrorBody(e: CanonicalError): Record<string, any> {
  const body = clientErrorBody('openai-chat', e.status ?? 500, e.message) as { error: Record<string, unknown> };
  if (e.type && /_error$/.test(e.type)) body.error.type = e.type;
  return body;
}

export function geminiErrorBody(e: CanonicalError): Record<string, any> {
  const body = clientErrorBody('gemini', e.status ?? 500, e.message) as { error: Record<string, unknown> };
  if (e.type && /^[A-Z_]+$/.test(e.type)) body.error.status = e.type;
  return body;
}
