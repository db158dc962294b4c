import { Inject, Injectable } from '@nestjs/common';
import type { ClientFormat } from '@cpa/contracts';
import type {
  RequestErrorEntry,
  RequestErrorLogFile,
  RequestErrorLogList,
  RequestErrorLogListing,
} from '@cpa/contracts/management-views';
import { RequestErrorLogStore } from '@cpa/providers';
import { ManagementError, notFound } from './management-error';

/**
 * CLIProxyAPI's request error logs, served from the executors' capped Redis list: one
 * "file" per request with at least one failed upstream attempt, named as CLIProxyAPI
 * names its files (`error-<route>-<time>-<request id>.log`) and rendered in its sections
 * (REQUEST INFO, then API REQUEST / API RESPONSE per attempt), plus a JSON view of the same.
 */
/** The client path each format came in on, as CLIProxyAPI puts it in the file name. */
const ROUTE_OF: Record<ClientFormat, string> = {
  'openai-chat': 'v1-chat-completions',
  'openai-completions': 'v1-completions',
  'openai-responses': 'v1-responses',
  claude: 'v1-messages',
  gemini: 'v1beta-models',
};

const FILE_NAME = /^error-[A-Za-z0-9-]+-\d{4}-\d{2}-\d{2}T\d{6}-([A-Za-z0-9][A-Za-z0-9._:-]{0,127})\.log$/;

/** `2026-11-30T071728` (UTC), CLIProxyAPI's timestamp part. */
function stamp(iso: string): string {
  return iso.slice(0, 19).replace(/:/g, '');
}

/** Groups entries (newest first, as stored) into one file per request, newest request first. */
export function errorLogFiles(entries: readonly RequestErrorEntry[]): RequestErrorLogFile[] {
  const byRequest = new Map<string, RequestErrorEntry[]>();
  for (const entry of entries) {
    const attempts = byRequest.get(entry.request_id);
    if (attempts) attempts.unshift(entry);
    else byRequest.set(entry.request_id, [entry]);
  }
  return [...byRequest.values()].map((attempts) => {
    const first = attempts[0]!;
    const route = ROUTE_OF[first.client_format] ?? 'v1';
    return {
      name: `error-${route}-${stamp(first.time)}-${first.request_id}.log`,
      request_id: first.request_id,
      attempts,
    };
  });
}

function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
}

/** The file's text in CLIProxyAPI's sections. */
export function renderErrorLog(file: RequestErrorLogFile): string {
  const first = file.attempts[0]!;
  const last = file.attempts.at(-1)!;
  const parts = [
    '=== REQUEST INFO ===',
    `Request ID: ${file.request_id}`,
    `Timestamp: ${first.time}`,
    `Client format: ${first.client_format}`,
    `URL: /${ROUTE_OF[first.client_format]?.replace(/-/g, '/') ?? ''}`,
    `Model: ${first.model}`,
    `Stream: ${first.stream}`,
    `Status: ${last.status}`,
    '',
  ];
  for (const attempt of file.attempts) {
    const req = attempt.upstream_request;
    parts.push(
      `=== API REQUEST ${attempt.attempt} ===`,
      `Timestamp: ${attempt.time}`,
      `Credential: ${attempt.credential_id} (${attempt.family})`,
      `${req.method} ${req.url}`,
      '',
      'Headers:',
      headerLines(req.headers),
      '',
      'Body:',
      req.body,
      '',
      `=== API RESPONSE ${attempt.attempt} ===`,
    );
    const res = attempt.upstream_response;
    if (res) parts.push(`Status: ${res.status}`, '', 'Headers:', headerLines(res.headers), '', 'Body:', res.body, '');
    else parts.push(`Status: ${attempt.status}`, `Error: ${attempt.error ?? 'no response'}`, '');
  }
  return `${parts.join('\n')}\n`;
}

export function listingOf(file: RequestErrorLogFile): RequestErrorLogListing {
  const first = file.attempts[0]!;
  const last = file.attempts.at(-1)!;
  return {
    name: file.name,
    size: Buffer.byteLength(renderErrorLog(file)),
    modified: Math.floor(Date.parse(last.time) / 1000),
    request_id: file.request_id,
    time: first.time,
    client_format: first.client_format,
    model: first.model,
    status: last.status,
    attempts: file.attempts.length,
  };
}

@Injectable()
export class RequestErrorLogsService {
  constructor(@Inject(RequestErrorLogStore) private readonly store: RequestErrorLogStore) {}

  private async files(): Promise<RequestErrorLogFile[]> {
    let entries;
    try {
      entries = await this.store.list();
    } catch {
      throw new ManagementError(503, 'request error log unavailable');
    }
    return errorLogFiles(entries);
  }

  /** `GET /request-error-logs`: CLIProxyAPI's `{"files": [...]}`, newest first. */
  async list(): Promise<RequestErrorLogList> {
    return { files: (await this.files()).map(listingOf) };
  }

  /** `GET /request-error-logs/:name`. */
  async byName(name: string): Promise<RequestErrorLogFile> {
    if (!FILE_NAME.test(name)) throw notFound('log file not found');
    const file = (await this.files()).find((f) => f.name === name);
    if (!file) throw notFound('log file not found');
    return file;
  }

  /** `GET /request-log-by-id/:id`. */
  async byRequestId(id: string): Promise<RequestErrorLogFile> {
    const file = (await this.files()).find((f) => f.request_id === id);
    if (!file) throw notFound('log file not found for the given request ID');
    return file;
  }
}
