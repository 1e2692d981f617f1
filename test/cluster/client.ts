import type pg from 'pg';

/**
 * The suite's client kit: HTTP calls to any instance that never throw (a refused connection or a timeout is an
 * answer too: status 0 with `error`), accounts and keys, chat (JSON and streamed), and SQL on the suite's
 * Postgres for what the money path must keep true.
 */

export interface Answer {
  /** HTTP status, or 0 when there was no answer (`error` says why). */
  status: number;
  headers: Headers;
  body: any;
  ms: number;
  error?: string;
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') {
    return 'timeout';
  }
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

/** One JSON call, bounded by `timeoutMs`. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; auth?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.auth ? { authorization: `Bearer ${options.auth}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 0,
      headers: new Headers(),
      body: null,
      ms: Math.round(performance.now() - started),
      error: describe(error),
    };
  }
}

let accounts = 0;

/** Signs up a fresh Free account (500 credits) on instance `base`; its session is valid on every instance. */
export async function signup(base: string): Promise<{ token: string; accountId: string; email: string }> {
  const email = `cluster-${process.pid}-${Date.now()}-${accounts++}@example.com`;
  const res = await call(base, 'POST', '/auth/signup', { body: { email, password: 'a-long-password' } });
  if (res.status !== 201) {
    throw new Error(`signup failed: ${res.status} ${res.error ?? JSON.stringify(res.body)}`);
  }
  return { token: res.body.token, accountId: res.body.account.id, email };
}

export async function createKey(
  base: string,
  token: string,
  kind: 'live' | 'test' = 'live',
): Promise<{ key: string; id: string }> {
  const res = await call(base, 'POST', '/v1/keys', {
    body: { name: `cluster ${kind} key`, kind },
    auth: token,
  });
  if (res.status !== 201) {
    throw new Error(`key creation failed: ${res.status} ${res.error ?? JSON.stringify(res.body)}`);
  }
  return { key: res.body.key, id: res.body.id };
}

/**
 * gpt-6-luna costs 10 µcr per prompt token and 50 per completion token; the prompt is 5 tokens and the fakes answer
 * exactly max_tokens tokens: a request holds and costs exactly 5×10 + 199×50 = 10,000 µcr = 0.01 credit.
 */
export const EXACT = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user', content: 'one two three four five' }],
  max_tokens: 199,
};
export const EXACT_COST = 10_000n;

/** A small request (8 tokens of answer). */
export const SMALL = { model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 };

export function chat(
  base: string,
  key: string,
  body: unknown = SMALL,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  return call(base, 'POST', '/v1/chat/completions', { body, auth: key, ...options });
}

export interface StreamAnswer {
  status: number;
  headers: Headers;
  /** The content of every delta, joined. */
  content: string;
  /** The `usage` of the final chunk, when the request asked for it. */
  usage?: Record<string, unknown>;
  /** `data: [DONE]` came. */
  done: boolean;
  /** The error body (not 200) or error event (mid-stream). */
  errorBody?: unknown;
  ms: number;
  error?: string;
}

/** A streamed chat call read to its end (bounded by `timeoutMs`). */
export async function chatStream(
  base: string,
  key: string,
  body: Record<string, unknown> = SMALL,
  options: { timeoutMs?: number } = {},
): Promise<StreamAnswer> {
  const started = performance.now();
  const out: StreamAnswer = { status: 0, headers: new Headers(), content: '', done: false, ms: 0 };
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    out.status = res.status;
    out.headers = res.headers;
    const text = await res.text();
    if (res.status !== 200) {
      out.errorBody = text;
    } else {
      for (const line of text.split('\n')) {
        if (!line.startsWith('data: ')) {
          continue;
        }
        const data = line.slice('data: '.length).trim();
        if (data === '[DONE]') {
          out.done = true;
          continue;
        }
        const chunk = JSON.parse(data) as {
          error?: unknown;
          usage?: Record<string, unknown>;
          choices?: Array<{ delta?: { content?: string } }>;
        };
        if (chunk.error) {
          out.errorBody = chunk.error;
        }
        if (chunk.usage) {
          out.usage = chunk.usage;
        }
        out.content += chunk.choices?.[0]?.delta?.content ?? '';
      }
    }
  } catch (error) {
    out.error = describe(error);
  }
  out.ms = Math.round(performance.now() - started);
  return out;
}

/** How many answers had each status (0: no answer), e.g. `{ 200: 60, 429: 90 }`. */
export function countStatuses(answers: Array<{ status: number }>): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of answers) {
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// SQL on the suite's Postgres

type Db = Pick<pg.Pool, 'query'>;

/** Balance, credit held, the ledger's sum, and the leases still holding credit (count and sum), in µcr. */
export async function money(db: Db, accountId: string) {
  const { rows } = await db.query(
    `SELECT a.balance_micro::text AS balance, a.held_micro::text AS held,
            (SELECT coalesce(sum(amount_micro), 0)::text FROM credit_ledger l WHERE l.account_id = a.id) AS ledger,
            (SELECT count(*)::int FROM credit_leases l WHERE l.account_id = a.id AND l.amount_micro > 0) AS leases,
            (SELECT coalesce(sum(amount_micro), 0)::text FROM credit_leases l WHERE l.account_id = a.id) AS leased
       FROM accounts a WHERE a.id = $1`,
    [accountId],
  );
  const row = rows[0] as { balance: string; held: string; ledger: string; leases: number; leased: string };
  return {
    balance: BigInt(row.balance),
    held: BigInt(row.held),
    ledger: BigInt(row.ledger),
    leases: row.leases,
    leased: BigInt(row.leased),
  };
}

/**
 * Moves an account's balance to `target` µcr in one statement (so one transaction): an `adjustment` entry in the
 * ledger and the same change to `accounts.balance_micro`, as support staff would. Returns the new balance.
 */
export async function setBalance(db: Db, accountId: string, target: bigint): Promise<bigint> {
  const { rows } = await db.query(
    `WITH account AS (SELECT id, balance_micro FROM accounts WHERE id = $1 FOR UPDATE),
          entry AS (
            INSERT INTO credit_ledger (account_id, kind, amount_micro, reference, note)
            SELECT id, 'adjustment', $2::bigint - balance_micro, $3, 'cluster suite: set balance' FROM account
            RETURNING amount_micro)
     UPDATE accounts SET balance_micro = balance_micro + (SELECT amount_micro FROM entry)
      WHERE id = $1 RETURNING balance_micro::text AS balance`,
    [accountId, target.toString(), `cluster-adjust:${accountId}:${Date.now()}:${Math.random()}`],
  );
  if (rows.length !== 1) {
    throw new Error(`no account ${accountId}`);
  }
  return BigInt((rows[0] as { balance: string }).balance);
}

export async function usageEvents(db: Db, accountId: string) {
  const { rows } = await db.query(
    `SELECT request_id, status, http_status, prompt_tokens, completion_tokens, cost_micro::text AS cost, test
       FROM usage_events WHERE account_id = $1 ORDER BY id`,
    [accountId],
  );
  return rows as Array<{
    request_id: string;
    status: string;
    http_status: number;
    prompt_tokens: number;
    completion_tokens: number;
    cost: string;
    test: boolean;
  }>;
}

/** The account's lease rows (one per instance that holds or held credit on it). */
export async function leases(db: Db, accountId: string) {
  const { rows } = await db.query(
    `SELECT instance_id, amount_micro::text AS amount, expires_at FROM credit_leases WHERE account_id = $1`,
    [accountId],
  );
  return rows as Array<{ instance_id: string; amount: string; expires_at: Date }>;
}

/** Polls `check` until it returns true, failing after `ms` (a bounded wait for an asynchronous effect). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  intervalMs = 50,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) {
      return Math.round(performance.now() - started);
    }
    if (performance.now() - started > ms) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Streams followed as they arrive (to kill or stop an instance mid-stream, or to leave one open)

/** How a stream followed by `openStream` ended. */
export interface StreamEnd {
  /** `data: [DONE]` came. */
  done: boolean;
  /** The error frame's `error` object, when the stream ended with one. */
  errorFrame?: { message?: string; type?: string; code?: string | null };
  /** The body could not be read to its end (the connection was cut, aborted, or timed out). */
  broken?: string;
  usage?: Record<string, unknown>;
  content: string;
  /** Content deltas received (one token each with the fakes). */
  pieces: number;
  ms: number;
}

export interface LiveStream {
  /** HTTP status, or 0 when there was no answer (`error` says why). */
  status: number;
  headers: Headers;
  requestId: string | null;
  /** The error body of an answer that is not 200 (parsed when JSON). */
  errorBody?: any;
  error?: string;
  readonly content: string;
  readonly pieces: number;
  /** Resolves once `n` content deltas have arrived; rejects if the stream ends first or after `timeoutMs`. */
  until(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves when the body has ended, however it ended. */
  ended: Promise<StreamEnd>;
  /** The client leaves (closes the connection). */
  abort(): void;
}

/**
 * A streamed chat call followed chunk by chunk: resolves once the answer's head has arrived (or with status 0),
 * then `until(n)` waits for content and `ended` for the end. Bounded by `timeoutMs` as a whole.
 */
export async function openStream(
  base: string,
  key: string,
  body: Record<string, unknown> = SMALL,
  options: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<LiveStream> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), options.timeoutMs ?? 30_000);
  let content = '';
  let pieces = 0;
  const waiters: Array<{ n: number; resolve: () => void; reject: (e: Error) => void }> = [];
  const settleWaiters = (end?: StreamEnd) => {
    for (const w of [...waiters]) {
      if (pieces >= w.n) {
        w.resolve();
      } else if (end) {
        w.reject(
          new Error(`the stream ended after ${pieces} pieces (waiting for ${w.n}): ${JSON.stringify(end)}`),
        );
      } else {
        continue;
      }
      waiters.splice(waiters.indexOf(w), 1);
    }
  };
  let res: Response;
  try {
    res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...options.headers,
      },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal: controller.signal,
    });
  } catch (error) {
    clearTimeout(timer);
    const ms = Math.round(performance.now() - started);
    const end: StreamEnd = { done: false, broken: describe(error), content: '', pieces: 0, ms };
    return {
      status: 0,
      headers: new Headers(),
      requestId: null,
      error: describe(error),
      content: '',
      pieces: 0,
      until: () => Promise.reject(new Error(`no answer: ${describe(error)}`)),
      ended: Promise.resolve(end),
      abort: () => undefined,
    };
  }
  const out: LiveStream = {
    status: res.status,
    headers: res.headers,
    requestId: res.headers.get('x-request-id'),
    get content() {
      return content;
    },
    get pieces() {
      return pieces;
    },
    until(n: number, timeoutMs = 15_000) {
      if (pieces >= n) {
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(entry), 1);
          reject(new Error(`${pieces} of ${n} stream pieces after ${timeoutMs} ms`));
        }, timeoutMs);
        const entry = {
          n,
          resolve: () => (clearTimeout(t), resolve()),
          reject: (e: Error) => (clearTimeout(t), reject(e)),
        };
        waiters.push(entry);
      });
    },
    ended: Promise.resolve({ done: false, content: '', pieces: 0, ms: 0 }),
    abort: () => controller.abort(new Error('aborted by the client')),
  };
  if (res.status !== 200) {
    const text = await res.text().catch((error: unknown) => describe(error));
    clearTimeout(timer);
    try {
      out.errorBody = JSON.parse(text);
    } catch {
      out.errorBody = text;
    }
    out.ended = Promise.resolve({
      done: false,
      content: '',
      pieces: 0,
      ms: Math.round(performance.now() - started),
    });
    return out;
  }
  out.ended = (async (): Promise<StreamEnd> => {
    const end: StreamEnd = { done: false, content: '', pieces: 0, ms: 0 };
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of frame.split('\n')) {
            if (!line.startsWith('data: ')) {
              continue;
            }
            const data = line.slice('data: '.length).trim();
            if (data === '[DONE]') {
              end.done = true;
              continue;
            }
            const parsed = JSON.parse(data) as {
              error?: StreamEnd['errorFrame'];
              usage?: Record<string, unknown>;
              choices?: Array<{ delta?: { content?: string | null } }>;
            };
            if (parsed.error) {
              end.errorFrame = parsed.error;
            }
            if (parsed.usage) {
              end.usage = parsed.usage;
            }
            const delta = parsed.choices?.[0]?.delta?.content;
            if (delta) {
              content += delta;
              pieces += 1;
            }
          }
        }
        settleWaiters();
      }
    } catch (error) {
      end.broken = describe(error);
    } finally {
      clearTimeout(timer);
    }
    end.content = content;
    end.pieces = pieces;
    end.ms = Math.round(performance.now() - started);
    settleWaiters(end);
    return end;
  })();
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// More SQL

/** Sets an account's plan (`free`, `power`, `pro`): do it before its keys are first used (they cache the plan). */
export async function setPlan(db: Db, accountId: string, plan: 'free' | 'power' | 'pro'): Promise<void> {
  await db.query(`UPDATE accounts SET plan = $2 WHERE id = $1`, [accountId, plan]);
}

/** The ledger rows of an account, oldest first. */
export async function ledgerRows(db: Db, accountId: string) {
  const { rows } = await db.query(
    `SELECT kind, amount_micro::text AS amount, reference FROM credit_ledger WHERE account_id = $1 ORDER BY id`,
    [accountId],
  );
  return rows as Array<{ kind: string; amount: string; reference: string }>;
}

/**
 * For each request id: how many usage events and how many `usage:` ledger rows it has (the money path must
 * write exactly one of each for a live request that cost something).
 */
export async function billedOnce(db: Db, requestIds: string[]) {
  const { rows } = await db.query(
    `SELECT r.id,
            (SELECT count(*)::int FROM usage_events e WHERE e.request_id = r.id) AS events,
            (SELECT count(*)::int FROM credit_ledger l WHERE l.reference = 'usage:' || r.id) AS entries,
            (SELECT max(e.cost_micro)::text FROM usage_events e WHERE e.request_id = r.id) AS cost,
            (SELECT max(e.status) FROM usage_events e WHERE e.request_id = r.id) AS status
       FROM unnest($1::text[]) AS r(id)`,
    [requestIds],
  );
  return rows as Array<{
    id: string;
    events: number;
    entries: number;
    cost: string | null;
    status: string | null;
  }>;
}

/** Sign-up's sibling: a session for an existing account (`status` 200/201, or whatever the instance answered). */
export function login(base: string, email: string, timeoutMs = 15_000): Promise<Answer> {
  return call(base, 'POST', '/auth/login', {
    body: { email, password: 'a-long-password' },
    timeoutMs,
  });
}

/** A sign-up on `base` that never throws (for fault scenarios: whatever it answered). */
export function trySignup(base: string, timeoutMs = 15_000): Promise<Answer> {
  const email = `cluster-${process.pid}-${Date.now()}-${accounts++}@example.com`;
  return call(base, 'POST', '/auth/signup', {
    body: { email, password: 'a-long-password' },
    timeoutMs,
  });
}

/** The value of an unlabelled metric in a Prometheus text exposition (undefined when absent). */
export function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// ---------------------------------------------------------------------------------------------------------
// Background traffic

/** The loops running now: `stopLoops()` (in an `afterEach`) ends whatever a failed scenario left running. */
const loops = new Set<() => Promise<void>>();

/**
 * Runs `count` loops of `body(i)` in the background until the returned function is called, or for `maxMs` at most
 * (every scenario is bounded, even one that fails before it stops its traffic).
 */
export function runLoops(
  count: number,
  body: (i: number) => Promise<void>,
  maxMs = 120_000,
): () => Promise<void> {
  let stopping = false;
  const until = performance.now() + maxMs;
  const workers = Array.from({ length: count }, async (_, i) => {
    while (!stopping && performance.now() < until) {
      await body(i);
    }
  });
  const stop = async () => {
    stopping = true;
    loops.delete(stop);
    await Promise.all(workers);
  };
  loops.add(stop);
  return stop;
}

/** Stops every loop `runLoops` started and is still running. */
export async function stopLoops(): Promise<void> {
  await Promise.all([...loops].map((stop) => stop()));
}
