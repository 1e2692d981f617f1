import { Injectable } from '@nestjs/common';
import type { ChatCompletionRequest } from '../providers/openai-types.js';
import type { ToolCallState } from '../providers/types.js';
import { RedisService } from '../redis/redis.service.js';

const TTL_SECONDS = 24 * 3600;
const MEMORY_LIMIT = 50_000;

/**
 * Provider-bound state of tool calls (Gemini thought signatures, Claude thinking blocks), by tool_call id, kept
 * 24 h so the next turn of the conversation can send it back. In Redis when configured (any instance can serve
 * the next turn), else in a bounded in-memory map. Holds provider signatures, never prompt or answer text.
 */
@Injectable()
export class ToolStateStore {
  private readonly memory = new Map<string, { state: ToolCallState; until: number }>();

  constructor(private readonly redis: RedisService) {}

  /** The saved state of every tool call the request's assistant messages carry. */
  async load(request: ChatCompletionRequest): Promise<Map<string, ToolCallState>> {
    const ids = request.messages.flatMap((m) =>
      m.role === 'assistant' ? (m.tool_calls ?? []).map((c) => c.id) : [],
    );
    const out = new Map<string, ToolCallState>();
    if (ids.length === 0) {
      return out;
    }
    if (this.redis.client) {
      const values = await this.redis.client.mget(ids.map((id) => `conflux:tool:${id}`));
      values.forEach((value, i) => value && out.set(ids[i], JSON.parse(value) as ToolCallState));
      return out;
    }
    const now = Date.now();
    for (const id of ids) {
      const entry = this.memory.get(id);
      if (entry && entry.until > now) {
        out.set(id, entry.state);
      }
    }
    return out;
  }

  async save(entries: Array<[string, ToolCallState]>): Promise<void> {
    if (entries.length === 0) {
      return;
    }
    if (this.redis.client) {
      const pipeline = this.redis.client.pipeline();
      for (const [id, state] of entries) {
        pipeline.set(`conflux:tool:${id}`, JSON.stringify(state), 'EX', TTL_SECONDS);
      }
      await pipeline.exec();
      return;
    }
    for (const [id, state] of entries) {
      if (this.memory.size >= MEMORY_LIMIT) {
        this.memory.delete(this.memory.keys().next().value!);
      }
      this.memory.set(id, { state, until: Date.now() + TTL_SECONDS * 1000 });
    }
  }
}
