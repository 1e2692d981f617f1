import { createKey, signup, type TestApp } from './app.js';

export const MICRO = 1_000_000n;

/** Balance, credit held by leases, the ledger's sum and the leases still holding credit, from the database. */
export async function money(t: TestApp, accountId: string) {
  const [row] = await t.db.query(
    `SELECT a.balance_micro::text AS balance, a.held_micro::text AS held,
            (SELECT coalesce(sum(amount_micro), 0)::text FROM credit_ledger l WHERE l.account_id = a.id) AS ledger,
            (SELECT count(*)::int FROM credit_leases l WHERE l.account_id = a.id AND l.amount_micro > 0) AS holds
       FROM accounts a WHERE a.id = $1`,
    [accountId],
  );
  return {
    balance: BigInt(row.balance),
    held: BigInt(row.held),
    ledger: BigInt(row.ledger),
    holds: row.holds as number,
  };
}

/** Moves an account's balance to `target` µcr with an adjustment ledger entry (as support staff would). */
export async function setBalance(t: TestApp, accountId: string, target: bigint): Promise<void> {
  const { balance } = await money(t, accountId);
  const { BillingRepository } = await import('../../src/billing/billing.repository.js');
  await t.app
    .get(BillingRepository)
    .credit(
      accountId,
      'adjustment',
      target - balance,
      `test-adjust:${accountId}:${Date.now()}:${Math.random()}`,
      'test',
    );
}

export async function usageEvents(t: TestApp, accountId: string) {
  return (await t.db.query(
    `SELECT request_id, model_requested, model_served, provider, status, prompt_tokens, completion_tokens,
            cost_micro::text AS cost, price_version, estimated, test, attempts, streamed
       FROM usage_events WHERE account_id = $1 ORDER BY id`,
    [accountId],
  )) as Array<{
    request_id: string;
    model_requested: string;
    model_served: string | null;
    provider: string | null;
    status: string;
    prompt_tokens: number;
    completion_tokens: number;
    cost: string;
    price_version: string | null;
    estimated: boolean;
    test: boolean;
    attempts: number;
    streamed: boolean;
  }>;
}

export async function ledger(t: TestApp, accountId: string) {
  return (await t.db.query(
    `SELECT kind, amount_micro::text AS amount, reference FROM credit_ledger WHERE account_id = $1 ORDER BY id`,
    [accountId],
  )) as Array<{ kind: string; amount: string; reference: string }>;
}

/** A fresh Free account with a live key. */
export async function liveAccount(t: TestApp): Promise<{ token: string; accountId: string; key: string }> {
  const { token, accountId } = await signup(t);
  const { key } = await createKey(t, token, 'live');
  return { token, accountId, key };
}

/** POST /v1/chat/completions with raw fetch, for reading a stream's bytes or aborting it mid-way. */
export function postChat(t: TestApp, key: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}
