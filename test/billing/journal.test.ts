import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { encodeRow, type InflightEntry } from '../../src/billing/journal.js';
import { InflightRegistry } from '../../src/billing/reconciler.js';
import { SettlementRepository, type SettlementRow } from '../../src/billing/settlement.repository.js';
import { call } from '../support/app.js';
import { MICRO, ledger, liveAccount, money, usageEvents } from '../support/billing.js';
import { useGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

const BODY = {
  model: 'gpt-6-luna',
  messages: [{ role: 'user' as const, content: 'one two three four five' }],
  max_tokens: 199,
};
const COST = 10_000n; // 5 × 10 + 199 × 50 µcr

/** What `pg` throws while Postgres restarts. */
function unreachable(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

describe('settlements written ahead: a database that is away loses no bill', () => {
  const g = useGateway();

  it('answers while the database is unreachable, then bills the request exactly once when it is back', async () => {
    const { accountId, key } = await liveAccount(g.t);
    const repository = g.t.app.get(SettlementRepository);
    const write = vi
      .spyOn(repository, 'write')
      .mockRejectedValueOnce(unreachable())
      .mockRejectedValueOnce(unreachable());
    const res = await call(g.t, 'POST', '/v1/chat/completions', BODY, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-conflux-cost-credits')).toBe('0.01');
    // the balance after it is not known yet: no header rather than a wrong one
    expect(res.headers.get('x-conflux-credits-remaining')).toBeNull();
    await waitFor(
      async () => (await usageEvents(g.t, accountId)).length === 1,
      10_000,
      'the retried settlement',
    );
    write.mockRestore();
    const m = await money(g.t, accountId);
    expect(m).toEqual({ balance: 500n * MICRO - COST, held: 0n, ledger: 500n * MICRO - COST, holds: 0 });
    expect((await ledger(g.t, accountId)).filter((l) => l.kind === 'usage')).toHaveLength(1);
  });
});

describe('a stopped instance’s journal is finished by the next instance on its directory', () => {
  const g = useGateway();

  it('bills the settlements it wrote ahead and the requests it had in flight, once', async () => {
    const { accountId } = await liveAccount(g.t);
    const [key] = (await g.t.db.query(`SELECT id FROM api_keys WHERE account_id = $1`, [
      accountId,
    ])) as Array<{
      id: string;
    }>;
    // A process that no longer exists (pid 2^22 + 1 is above Linux's pid limit) left a settlement that never
    // landed and a stream in flight: 40 tokens delivered of gpt-6-luna.
    const dir = g.t.config.journalDir;
    mkdirSync(dir, { recursive: true });
    const owner = 'inst_00000000dead0001.4194305';
    const row: SettlementRow = {
      record: {
        requestId: 'req_written_ahead',
        accountId,
        keyId: key.id,
        test: false,
        modelRequested: 'gpt-6-luna',
        modelServed: 'gpt-6-luna',
        provider: 'openai',
        status: 'completed',
        httpStatus: 200,
        promptTokens: 5,
        completionTokens: 199,
        cachedTokens: 0,
        reasoningTokens: 0,
        costMicro: COST,
        priceVersion: 'gpt-6-luna@openai@2026-01-01',
        latencyMs: 12,
        ttftMs: null,
        streamed: false,
        attempts: 1,
        estimated: false,
        errorCode: null,
      },
      endedAt: new Date(),
      chargeMicro: COST,
      leaseId: null,
      releaseMicro: 0n,
    };
    const inflight: InflightEntry = {
      requestId: 'req_in_flight',
      accountId,
      keyId: key.id,
      modelRequested: 'gpt-6-luna',
      served: { modelId: 'gpt-6-luna', provider: 'openai', providerModel: 'gpt-6-luna' },
      streamed: true,
      attempts: 1,
      startedAt: Date.now() - 5_000,
      ttftMs: 200,
      promptTokens: 5,
      reportedPrompt: null,
      completionTokens: 40,
      leaseId: null,
      holdMicro: '0',
      capped: false,
    };
    writeFileSync(join(dir, `${owner}.log`), `+${encodeRow(row)}\n`);
    writeFileSync(join(dir, `${owner}.inflight`), JSON.stringify([inflight]));

    const registry = g.t.app.get(InflightRegistry);
    expect(await registry.reconcile()).toBe(2);
    expect(await registry.reconcile()).toBe(0); // done once: the files are gone

    const events = await usageEvents(g.t, accountId);
    expect(events.map((e) => [e.request_id, e.status, e.completion_tokens, e.estimated])).toEqual([
      ['req_written_ahead', 'completed', 199, false],
      ['req_in_flight', 'aborted', 40, true],
    ]);
    const lostCost = 5n * 10n + 40n * 50n;
    const m = await money(g.t, accountId);
    expect(m.balance).toBe(500n * MICRO - COST - lostCost);
    expect(m.ledger).toBe(m.balance);
  });
});
