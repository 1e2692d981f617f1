import { describe, expect, it } from 'vitest';
import type { FakeProvider } from '../fakes/base.js';
import {
  chat,
  countStatuses,
  createKey,
  EXACT,
  EXACT_COST,
  leases,
  ledgerRows,
  money,
  openStream,
  setBalance,
  signup,
  usageEvents,
  waitFor,
  type Answer,
} from './client.js';
import { ms, note, useCluster } from './harness.js';

const MICRO = 1_000_000n;

/** A one-page PDF (its bytes do not matter to the fakes; the gateway sizes the hold on them). */
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj ' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
).toString('base64');

/** Prompt tokens a provider counts for one PDF page (text and image of the page): more than the gateway's allowance. */
const PAGE_TOKENS = 3_000;

/**
 * Makes the fake count each `document` block of a request as PAGE_TOKENS prompt tokens, as a provider does (the
 * fakes count only text); returns the undo. The fakes run in this process, so the gateway sees a real answer.
 */
function countDocuments(fake: FakeProvider): () => void {
  const protocol = fake.protocol;
  const original = protocol.chatIntent.bind(protocol);
  protocol.chatIntent = (method, path, body) => {
    const intent = original(method, path, body);
    const messages = (body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages ?? [];
    const documents = messages
      .flatMap((m) => (Array.isArray(m.content) ? (m.content as Array<{ type?: string }>) : []))
      .filter((block) => block.type === 'document').length;
    if (intent && documents > 0) {
      intent.promptTexts.push(...Array.from({ length: documents }, () => ' page'.repeat(PAGE_TOKENS)));
    }
    return intent;
  };
  return () => {
    protocol.chatIntent = original;
  };
}

describe('the money stays consistent across instances', () => {
  // A high limit: this is about credit, not the rate limit.
  const cluster = useCluster({ instances: 3, rateLimitRpm: 100_000 });

  it('1 credit, 3 instances × 100 concurrent requests of exactly 0.01 credit: 100 × 200, 200 × 402, balance 0 = Σ ledger', async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    expect(await setBalance(c.db, accountId, 1n * MICRO)).toBe(1n * MICRO);
    expect(await money(c.db, accountId)).toMatchObject({ balance: MICRO, ledger: MICRO, held: 0n });
    const { key } = await createKey(c.url(1), token, 'live');

    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => chat(c.url(i % 3), key, EXACT, { timeoutMs: 120_000 })),
    );
    const counts = countStatuses(answers);
    const byInstance = [0, 1, 2].map((i) => countStatuses(answers.filter((_, n) => n % 3 === i)));
    note(
      `money: ${JSON.stringify(counts)} in ${ms(performance.now() - started)}; per instance ` +
        byInstance.map((b) => JSON.stringify(b)).join(' '),
    );
    expect(counts).toEqual({ 200: 100, 402: 200 });
    for (const answer of answers) {
      if (answer.status === 200) {
        expect(answer.body.usage).toMatchObject({
          prompt_tokens: 5,
          completion_tokens: 199,
          cost_credits: '0.01',
        });
      } else {
        expect(answer.body.error.code).toBe('insufficient_quota');
      }
    }

    // Idle leases go back to the account within ~2–3 s; settlements are written in batches.
    const settledMs = await waitFor(
      async () => {
        const m = await money(c.db, accountId);
        return m.held === 0n && m.leases === 0;
      },
      20_000,
      'held_micro 0 and no lease holding credit',
    );
    await waitFor(
      async () => (await usageEvents(c.db, accountId)).length >= 100,
      10_000,
      '100 usage events written',
    );
    const events = await usageEvents(c.db, accountId);
    const after = await money(c.db, accountId);
    note(
      `money: leases given back ${ms(settledMs)} after the last answer; ${JSON.stringify({
        ...after,
        balance: after.balance.toString(),
        held: after.held.toString(),
        ledger: after.ledger.toString(),
        leased: after.leased.toString(),
      })}; lease rows ${(await leases(c.db, accountId)).length}; usage events ${events.length}`,
    );
    expect(after.balance).toBe(0n);
    expect(after.held).toBe(0n);
    expect(after.ledger).toBe(after.balance);
    const completed = events.filter((e) => e.status === 'completed');
    expect(completed).toHaveLength(100);
    expect(completed.every((e) => BigInt(e.cost) === EXACT_COST)).toBe(true);
  }, 180_000);

  it('a Free account with a tiny balance sends PDFs the provider counts beyond the hold: 200 or 402, never below zero, the excess written off', async () => {
    const c = cluster();
    const { token, accountId } = await signup(c.url(0));
    const start = 25_000n; // 0.025 credit: about two holds of one PDF request
    expect(await setBalance(c.db, accountId, start)).toBe(start);
    const { key } = await createKey(c.url(0), token, 'live');
    const body = {
      model: 'claude-haiku-5-5',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Summarize this.' },
            { type: 'file', file: { file_data: `data:application/pdf;base64,${PDF}`, filename: 'a.pdf' } },
          ],
        },
      ],
      max_tokens: 10,
    };
    const undo = countDocuments(c.fakes.anthropic);
    let answers: Array<Answer & { requestId: string | null }>;
    try {
      answers = await Promise.all(
        Array.from({ length: 6 }, async (_, n) => {
          if (n % 2 === 0) {
            const a = await chat(c.url(n % 3), key, body, { timeoutMs: 60_000 });
            return { ...a, requestId: a.headers.get('x-request-id') };
          }
          const s = await openStream(c.url(n % 3), key, body, { timeoutMs: 60_000 });
          const end = await s.ended;
          return {
            status: s.status === 200 && !end.done ? -1 : s.status,
            headers: s.headers,
            body: s.errorBody,
            ms: end.ms,
            requestId: s.requestId,
          };
        }),
      );
    } finally {
      undo();
    }
    const statuses = countStatuses(answers);
    await waitFor(
      async () => {
        const m = await money(c.db, accountId);
        return m.held === 0n && m.leases === 0;
      },
      20_000,
      'the leases given back',
    );
    const served = answers.filter((a) => a.status === 200);
    await waitFor(
      async () => (await usageEvents(c.db, accountId)).length >= served.length,
      10_000,
      'the usage events written',
    );
    const events = await usageEvents(c.db, accountId);
    const rows = await ledgerRows(c.db, accountId);
    const m = await money(c.db, accountId);
    note(
      `PDFs on a ${start} µcr Free account: ${JSON.stringify(statuses)}; balance ${m.balance}, Σ ledger ${m.ledger}, ` +
        `held ${m.held}; events ${JSON.stringify(events.map((e) => ({ status: e.status, prompt: e.prompt_tokens, cost: e.cost })))}; ` +
        `ledger ${JSON.stringify(rows.slice(2).map((r) => `${r.kind} ${r.amount} ${r.reference.split(':')[0]}`))}`,
    );
    expect(answers.every((a) => a.status === 200 || a.status === 402)).toBe(true);
    for (const refused of answers.filter((a) => a.status === 402)) {
      expect(refused.body.error.code).toBe('insufficient_quota');
    }
    expect(served.length).toBeGreaterThan(0);
    expect(m.balance).toBeGreaterThanOrEqual(0n);
    expect(m.ledger).toBe(m.balance);
    expect(m.held).toBe(0n);
    // Each request served: the provider counted the page, its usage entry is its full cost, and what went past its
    // hold is given back by a `writeoff:` adjustment, so the account paid at most its hold.
    for (const answer of served) {
      const event = events.find((e) => e.request_id === answer.requestId);
      expect(event?.prompt_tokens).toBeGreaterThanOrEqual(PAGE_TOKENS);
      const usage = rows.find((r) => r.reference === `usage:${answer.requestId}`);
      const writeoff = rows.find((r) => r.reference === `writeoff:${answer.requestId}`);
      expect(usage, `usage entry of ${answer.requestId}`).toMatchObject({
        kind: 'usage',
        amount: `-${event!.cost}`,
      });
      expect(writeoff, `write-off of ${answer.requestId}`).toMatchObject({ kind: 'adjustment' });
      expect(BigInt(writeoff!.amount)).toBeGreaterThan(0n);
      expect(BigInt(writeoff!.amount)).toBeLessThan(BigInt(event!.cost));
    }
    expect(rows.filter((r) => r.reference.startsWith('writeoff:'))).toHaveLength(served.length);
    // Nothing else moved the balance (rows 0 and 1: the sign-up grant, the adjustment to the start): the start, less what was paid (cost − write-off) for each request served.
    const paid = rows.slice(2).reduce((sum, r) => sum + BigInt(r.amount), 0n);
    expect(start + paid).toBe(m.balance);
  }, 120_000);
});
