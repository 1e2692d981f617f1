import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { deriveKey, seal, unseal } from '../common/seal.js';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ToolCallState } from '../providers/types.js';
import { RedisService } from '../redis/redis.service.js';

const TTL_SECONDS = 24 * 3600;
const MEMORY_LIMIT = 50_000;

/** Who is asking: state is stored per account and sealed with the caller's API key. */
export interface ToolStateOwner {
  auth: { accountId: string };
  rawKey: string;
}

/**
 * Provider-bound state of tool calls (Gemini thought signatures, Claude thinking blocks), kept 24 h so the next
 * turn of the conversation can send it back. Entries are scoped to the account (another tenant reusing a tool
 * call id finds nothing) and sealed with a key derived from the caller's API key, so the thinking text they
 * carry is not readable at rest. In Redis when configured (any instance serves the next turn), else in a
 * bounded in-memory map.
 */
@Injectable()
export class ToolStateStore {
  private readonly memory = new Map<string, { sealed: Buffer; until: number }>();

  constructor(private readonly redis: RedisService) {}

  /** The saved state of every tool call the request's assistant messages carry. */
  async load(owner: ToolStateOwner, request: ChatCompletionRequest): Promise<Map<string, ToolCallState>> {
    const ids = request.messages.flatMap((m) =>
      m.role === 'assistant' ? (m.tool_calls ?? []).map((c) => c.id) : [],
    );
    const out = new Map<string, ToolCallState>();
    if (ids.length === 0) {
      return out;
    }
    const key = deriveKey('tool-state', owner.rawKey);
    const sealed = await this.fetch(ids.map((id) => slot(owner, id)));
    sealed.forEach((value, i) => {
      if (value) {
        try {
          out.set(ids[i], JSON.parse(unseal(key, value)) as ToolCallState);
        } catch {
          // sealed with another key of the account: the provider will say what is missing
        }
      }
    });
    return out;
  }

  async save(owner: ToolStateOwner, entries: Array<[string, ToolCallState]>): Promise<void> {
    if (entries.length === 0) {
      return;
    }
    const key = deriveKey('tool-state', owner.rawKey);
    const sealed = entries.map(([id, state]) => [slot(owner, id), seal(key, JSON.stringify(state))] as const);
    if (this.redis.client && this.redis.available) {
      const pipeline = this.redis.client.pipeline();
      for (const [name, value] of sealed) {
        pipeline.set(name, value, 'EX', TTL_SECONDS);
      }
      try {
        await pipeline.exec();
        return;
      } catch {
        // Redis went away: kept here instead (this instance serves the next turn)
      }
    }
    for (const [name, value] of sealed) {
      if (this.memory.size >= MEMORY_LIMIT) {
        this.memory.delete(this.memory.keys().next().value!);
      }
      this.memory.set(name, { sealed: value, until: Date.now() + TTL_SECONDS * 1000 });
    }
  }

  private async fetch(names: string[]): Promise<Array<Buffer | null>> {
    if (this.redis.client && this.redis.available) {
      try {
        return await this.redis.client.mgetBuffer(names);
      } catch {
        // Redis went away: what this instance kept meanwhile
      }
    }
    const now = Date.now();
    return names.map((name) => {
      const entry = this.memory.get(name);
      return entry && entry.until > now ? entry.sealed : null;
    });
  }
}

function slot(owner: ToolStateOwner, toolCallId: string): string {
  return `conflux:tool:${createHash('sha256').update(`${owner.auth.accountId}\n${toolCallId}`).digest('hex')}`;
}
