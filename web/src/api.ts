/**
 * The public API, as the dashboard calls it. The session token lives in this module's memory only: never in
 * localStorage, sessionStorage or a cookie (a reload asks to log in again; nothing a script injected elsewhere
 * could read survives the tab).
 */
export interface Account {
  id: string;
  email: string;
  role: string;
  plan: string;
  status: string;
  /** Absent on a gateway older than verification. */
  email_verified?: boolean;
  created_at: string;
}

export interface Session {
  token: string;
  expires_in: number;
  account: Account;
}

export interface Key {
  id: string;
  name: string;
  kind: 'live' | 'test';
  display: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  credit_limit: string | null;
  allowed_models: string[] | null;
  rate_limit_rpm: number | null;
  usage: { period_start: string | null; credits: string; requests: number };
  rotated_at: string | null;
  previous_key_valid_until: string | null;
}

export interface CreatedKey extends Key {
  key: string;
}

export interface Credits {
  plan: string;
  balance: string;
  held: string;
  period: { start: string; end: string };
  included: string;
  used: string;
  overage: string;
  overage_price_usd_per_credit: string | null;
  by_model: { model: string; requests: number; credits: string }[];
}

export interface Pricing {
  provider: string;
  input_credits_per_million_tokens: string;
  cached_input_credits_per_million_tokens: string;
  output_credits_per_million_tokens: string;
}

export interface Model {
  id: string;
  owned_by: string;
  context_window: number;
  max_output_tokens: number;
  providers: string[];
  pricing: Pricing;
  deployments: { provider: string; context_window: number; max_output_tokens: number; pricing: Pricing }[];
  fallback: string | null;
  capabilities: { tools: boolean; images: boolean; json_schema: boolean };
}

export interface Status {
  status: string;
  providers: {
    id: string;
    enabled: boolean;
    state: string;
    circuit: string;
    last_checked_at: string | null;
    latency_ms: number | null;
    reason: string | null;
    uptime_24h: number | null;
  }[];
  models: {
    id: string;
    state: string;
    providers: { provider: string; state: string }[];
    fallback: string | null;
  }[];
}

/** One usage event (`GET /v1/usage`, `GET /v1/usage/stream`). */
export interface UsageEvent {
  id: string;
  created_at: string;
  key_id: string | null;
  kind: string;
  model_requested: string;
  model_served: string | null;
  provider: string | null;
  stream: boolean;
  status: string;
  http_status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  credits: string;
  latency_ms: number;
}

export interface UsageGroup {
  hour?: string;
  day?: string;
  model?: string;
  key_id?: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  credits: string;
}

export interface Page<T> {
  data: T[];
  has_more?: boolean;
  next_cursor?: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }

  /** The route is not on this gateway (yet): an older version, or a feature not merged. */
  get missing(): boolean {
    return this.status === 404;
  }
}

let session: Session | null = null;
let expiresAt = 0;
const listeners = new Set<() => void>();

export function currentSession(): Session | null {
  if (session && Date.now() > expiresAt) {
    session = null;
  }
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  expiresAt = next ? Date.now() + next.expires_in * 1000 : 0;
  listeners.forEach((listener) => listener());
}

export function onSessionChange(listener: () => void): void {
  listeners.add(listener);
}

function authHeaders(): Record<string, string> {
  const current = currentSession();
  return current ? { authorization: `Bearer ${current.token}` } : {};
}

async function toError(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code: string | null = null;
  try {
    const body = (await response.json()) as { error?: { message?: string; code?: string | null } };
    message = body.error?.message ?? message;
    code = body.error?.code ?? null;
  } catch {
    // not the JSON error envelope: keep the status line
  }
  if (response.status === 401 && session) {
    setSession(null); // the session ended (expired, or the account was suspended)
  }
  return new ApiError(response.status, message, code);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw await toError(response);
  }
  if (response.status === 204) {
    return undefined as T;
  }
  return (await response.json()) as T;
}

/** A CSV download through the API (the token goes in a header, so not a plain link). */
export async function download(path: string, filename: string): Promise<void> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) {
    throw await toError(response);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Server-sent events with the session token in a header (EventSource cannot send one): read with fetch and framed
 * here. Returns when the stream ends or `signal` aborts; throws ApiError when the route refuses.
 */
export async function stream(
  path: string,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(path, { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal });
  if (!response.ok || !response.body) {
    throw await toError(response);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) {
          event = line.slice(6).trim();
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
      if (data.length > 0) {
        onEvent(event, data.join('\n'));
      }
    }
  }
}
