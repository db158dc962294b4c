/** The management API, as the console calls it: same origin, the secret as a Bearer token. */
export const API_BASE = '/v0/management';
const STORAGE_KEY = 'cpa.management-secret';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const signOutListeners = new Set<Listener>();

export const session = {
  get secret(): string | null {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  signIn(secret: string): void {
    sessionStorage.setItem(STORAGE_KEY, secret);
  },
  signOut(): void {
    sessionStorage.removeItem(STORAGE_KEY);
    for (const listener of signOutListeners) listener();
  },
  onSignOut(listener: Listener): () => void {
    signOutListeners.add(listener);
    return () => signOutListeners.delete(listener);
  },
};

function authHeaders(secret = session.secret): Record<string, string> {
  return secret ? { authorization: `Bearer ${secret}` } : {};
}

/** The `{"error": "..."}` of a failed answer, else its status line. */
async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string' && body.error) message = body.error;
    else if (typeof body.message === 'string' && body.message) message = body.message;
  } catch {
    /* not JSON: keep the status line */
  }
  if (response.status === 404 && message.toLowerCase().includes('not found'))
    message = `${message} (this endpoint is not available on this server)`;
  return new ApiError(response.status, message);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  /** Use this secret instead of the stored one (sign-in check). */
  secret?: string;
}

export function url(path: string, query: RequestOptions['query'] = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

/** Sends a request; a 401 signs the operator out (the console shows the sign-in page). */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(options.secret) };
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(url(path, options.query), { method: options.method ?? 'GET', headers, body });
  } catch {
    throw new ApiError(0, 'The server cannot be reached');
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && options.secret === undefined) session.signOut();
    throw error;
  }
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** Fetches a file with the secret and hands it to the browser as a download. */
export async function download(path: string, query: RequestOptions['query'], fileName: string): Promise<void> {
  const response = await request(path, { query });
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
