import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import { Instance } from '../common/instance.js';
import { RedisService } from '../redis/redis.service.js';
import type { SettlementRow } from './settlement.repository.js';

/**
 * What an instance knows of a request still in flight, written every second: enough to bill what was delivered
 * if the instance dies before settling it. No content: counts and ids only.
 */
export interface InflightEntry {
  requestId: string;
  accountId: string;
  keyId: string | null;
  modelRequested: string;
  served: { modelId: string; provider: string; providerModel: string } | null;
  streamed: boolean;
  attempts: number;
  startedAt: number;
  ttftMs: number | null;
  promptTokens: number;
  reportedPrompt: number | null;
  completionTokens: number;
  leaseId: string | null;
  holdMicro: string;
  /** The hold's amount caps the charge on the Free plan (null: paid plan, no cap). */
  capped: boolean;
  /** What the charge is capped at (the smaller of the account's and the key's holds); absent in older entries. */
  capMicro?: string | null;
}

/** What another (dead) instance left behind: settlements not known to have landed, and requests in flight. */
export interface Orphans {
  owner: string;
  pending: SettlementRow[];
  inflight: InflightEntry[];
}

/** How an instance writes ahead: where it is written decides who can finish its work if it dies. */
interface Backend {
  append(rows: readonly SettlementRow[]): Promise<void>;
  landed(requestIds: readonly string[]): Promise<void>;
  inflight(entries: readonly InflightEntry[]): Promise<void>;
  /** Work of instances that are gone, each claimed by this instance alone. */
  orphans(): Promise<Orphans[]>;
  /** The orphan's work is done: forget it. */
  release(owner: string): Promise<void>;
  /** Still this instance's, but shutting down cleanly: nothing in flight. */
  close(): Promise<void>;
}

export function encodeRow(row: SettlementRow): string {
  return JSON.stringify(row, (_key, value: unknown) =>
    typeof value === 'bigint' ? { $big: value.toString() } : value,
  );
}

export function decodeRow(text: string): SettlementRow {
  const row = JSON.parse(text, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && '$big' in value
      ? BigInt((value as { $big: string }).$big)
      : value,
  ) as SettlementRow & { endedAt: string };
  return { ...row, endedAt: new Date(row.endedAt) };
}

/**
 * Redis: one hash of pending settlements and one of requests in flight per instance, and a heartbeat key. Any
 * instance can finish the work of one whose heartbeat has stopped (it crashed, or lost its host).
 */
class RedisBackend implements Backend {
  constructor(
    private readonly redis: RedisService,
    private readonly owner: string,
    /** How long the heartbeat outlives the instance's last sign of life. */
    private readonly timeoutMs: number,
  ) {}

  private get client() {
    if (!this.redis.available || !this.redis.client) {
      throw new Error('redis is unavailable');
    }
    return this.redis.client;
  }

  async append(rows: readonly SettlementRow[]): Promise<void> {
    const fields = rows.flatMap((row) => [row.record.requestId, encodeRow(row)]);
    await this.client
      .multi()
      .hset(`conflux:journal:${this.owner}`, ...fields)
      .set(`conflux:instance:${this.owner}`, '1', 'PX', this.timeoutMs)
      .exec();
  }

  async landed(requestIds: readonly string[]): Promise<void> {
    await this.client.hdel(`conflux:journal:${this.owner}`, ...requestIds);
  }

  async inflight(entries: readonly InflightEntry[]): Promise<void> {
    const key = `conflux:inflight:${this.owner}`;
    const multi = this.client.multi().del(key);
    if (entries.length > 0) {
      multi.hset(key, ...entries.flatMap((e) => [e.requestId, JSON.stringify(e)]));
    }
    await multi.set(`conflux:instance:${this.owner}`, '1', 'PX', this.timeoutMs).exec();
  }

  async orphans(): Promise<Orphans[]> {
    const client = this.client;
    const owners = new Set<string>();
    for (const pattern of ['conflux:journal:*', 'conflux:inflight:*']) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
        cursor = next;
        keys.forEach((key) => owners.add(key.slice(key.lastIndexOf(':') + 1)));
      } while (cursor !== '0');
    }
    owners.delete(this.owner);
    const found: Orphans[] = [];
    for (const owner of owners) {
      if (await client.exists(`conflux:instance:${owner}`)) {
        continue; // alive
      }
      // One instance takes a dead instance's work at a time.
      if ((await client.set(`conflux:reconcile:${owner}`, this.owner, 'PX', 60_000, 'NX')) !== 'OK') {
        continue;
      }
      const [pending, inflight] = await Promise.all([
        client.hvals(`conflux:journal:${owner}`),
        client.hvals(`conflux:inflight:${owner}`),
      ]);
      found.push({
        owner,
        pending: pending.map(decodeRow),
        inflight: inflight.map((text) => JSON.parse(text) as InflightEntry),
      });
    }
    return found;
  }

  async release(owner: string): Promise<void> {
    await this.client.del(
      `conflux:journal:${owner}`,
      `conflux:inflight:${owner}`,
      `conflux:reconcile:${owner}`,
    );
  }

  async close(): Promise<void> {
    await this.client.del(`conflux:inflight:${this.owner}`, `conflux:instance:${this.owner}`);
  }
}

/**
 * A local directory: an append-only log of settlements and their landing per instance (fsynced before the
 * database is written), and a snapshot of requests in flight. Work of an instance is finished by the next
 * instance started on the same directory once its process is gone.
 */
class FileBackend implements Backend {
  private readonly log: string;
  private readonly snapshot: string;
  private ready: Promise<void> | undefined;
  private outstanding = 0;
  /** File operations run one after another: the log is never removed under a write in progress. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly owner: string,
  ) {
    this.log = join(dir, `${owner}.${process.pid}.log`);
    this.snapshot = join(dir, `${owner}.${process.pid}.inflight`);
  }

  private prepare(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    return this.ready;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async write(lines: string): Promise<void> {
    await this.prepare();
    const file = await open(this.log, 'a');
    try {
      await file.write(lines);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  append(rows: readonly SettlementRow[]): Promise<void> {
    return this.serial(async () => {
      await this.write(rows.map((row) => `+${encodeRow(row)}\n`).join(''));
      this.outstanding += rows.length;
    });
  }

  landed(requestIds: readonly string[]): Promise<void> {
    return this.serial(async () => {
      this.outstanding -= requestIds.length;
      if (this.outstanding <= 0) {
        this.outstanding = 0;
        await rm(this.log, { force: true }); // everything written has landed: start a fresh log
        return;
      }
      await this.write(requestIds.map((id) => `-${JSON.stringify(id)}\n`).join(''));
    });
  }

  private lastSnapshotEmpty = true;

  async inflight(entries: readonly InflightEntry[]): Promise<void> {
    if (entries.length === 0 && this.lastSnapshotEmpty) {
      return;
    }
    this.lastSnapshotEmpty = entries.length === 0;
    await this.prepare();
    const temp = `${this.snapshot}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, JSON.stringify(entries));
    await rename(temp, this.snapshot);
  }

  async orphans(): Promise<Orphans[]> {
    await this.prepare();
    const owners = new Map<string, { log?: string; snapshot?: string }>();
    for (const name of await readdir(this.dir)) {
      const match = /^(inst_[0-9a-f]+)\.(\d+)\.(log|inflight)$/.exec(name);
      if (!match || match[1] === this.owner || alive(Number(match[2]))) {
        continue;
      }
      const files = owners.get(`${match[1]}.${match[2]}`) ?? {};
      files[match[3] === 'log' ? 'log' : 'snapshot'] = join(this.dir, name);
      owners.set(`${match[1]}.${match[2]}`, files);
    }
    const found: Orphans[] = [];
    for (const [owner, files] of owners) {
      const pending = new Map<string, SettlementRow>();
      for (const line of files.log ? (await readFile(files.log, 'utf8')).split('\n') : []) {
        if (line.startsWith('+')) {
          const row = decodeRow(line.slice(1));
          pending.set(row.record.requestId, row);
        } else if (line.startsWith('-')) {
          pending.delete(JSON.parse(line.slice(1)) as string);
        }
        // a torn last line (the process died mid-write) was never acknowledged: skipped
      }
      const inflight = files.snapshot
        ? (JSON.parse(await readFile(files.snapshot, 'utf8')) as InflightEntry[])
        : [];
      found.push({ owner, pending: [...pending.values()], inflight });
    }
    return found;
  }

  async release(owner: string): Promise<void> {
    await rm(join(this.dir, `${owner}.log`), { force: true });
    await rm(join(this.dir, `${owner}.inflight`), { force: true });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      await rm(this.snapshot, { force: true });
      if (this.outstanding === 0) {
        await rm(this.log, { force: true });
      }
    });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The settlement journal: a settlement is written here before the database is attempted, so a request that
 * reached a provider is billed even if the database is unreachable or the instance dies before the batch
 * commits. In Redis when it is configured and up (any instance can finish a dead one's work), in a local
 * directory otherwise (`JOURNAL_DIR`; the next instance started there finishes it).
 */
@Injectable()
export class SettlementJournal {
  private readonly logger = new Logger(SettlementJournal.name);
  private readonly redisBackend: RedisBackend | null;
  private readonly fileBackend: FileBackend;
  /** Which backend holds each request's settlement, so its landing is recorded in the same place. */
  private readonly where = new Map<string, Backend>();

  constructor(redis: RedisService, @Inject(CONFIG) config: Config, instance: Instance) {
    this.redisBackend = redis.client
      ? new RedisBackend(redis, instance.id, config.recovery.instanceTimeoutMs)
      : null;
    this.fileBackend = new FileBackend(config.journalDir, instance.id);
  }

  /** Writes settlements ahead (durably) before the database is attempted. */
  async append(rows: readonly SettlementRow[]): Promise<void> {
    const backend = await this.firstThatTakes((b) => b.append(rows));
    rows.forEach((row) => this.where.set(row.record.requestId, backend));
  }

  /** These settlements are in the database: the journal forgets them. */
  async landed(requestIds: readonly string[]): Promise<void> {
    const byBackend = new Map<Backend, string[]>();
    for (const id of requestIds) {
      const backend = this.where.get(id);
      this.where.delete(id);
      if (backend) {
        byBackend.set(backend, [...(byBackend.get(backend) ?? []), id]);
      }
    }
    for (const [backend, ids] of byBackend) {
      await backend.landed(ids).catch((error: Error) => {
        // Harmless: a landed settlement replayed later changes nothing (the request id is unique).
        this.logger.warn(`could not record ${ids.length} settlements as landed: ${error.message}`);
      });
    }
  }

  async inflight(entries: readonly InflightEntry[]): Promise<void> {
    await this.firstThatTakes((b) => b.inflight(entries));
  }

  /** Work of dead instances, in Redis and in the local directory. */
  async orphans(): Promise<Array<Orphans & { done: () => Promise<void> }>> {
    const out: Array<Orphans & { done: () => Promise<void> }> = [];
    for (const backend of this.backends()) {
      try {
        for (const orphan of await backend.orphans()) {
          out.push({ ...orphan, done: () => backend.release(orphan.owner) });
        }
      } catch (error) {
        this.logger.warn(
          `could not look for unfinished work of stopped instances: ${(error as Error).message}`,
        );
      }
    }
    return out;
  }

  async close(): Promise<void> {
    for (const backend of this.backends()) {
      await backend.close().catch(() => undefined);
    }
  }

  private backends(): Backend[] {
    return this.redisBackend ? [this.redisBackend, this.fileBackend] : [this.fileBackend];
  }

  private async firstThatTakes(write: (backend: Backend) => Promise<void>): Promise<Backend> {
    if (this.redisBackend) {
      try {
        await write(this.redisBackend);
        return this.redisBackend;
      } catch {
        // Redis is down: the local directory keeps it until this instance (or the next one here) lands it.
      }
    }
    await write(this.fileBackend);
    return this.fileBackend;
  }
}
