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
