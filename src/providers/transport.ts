import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Agent, errors as undiciErrors, request } from 'undici';
import type { ProviderId } from '../common/provider-ids.js';
import { CONFIG, type Config } from '../config/config.js';
import type { ProviderFailure, UpstreamRequest } from './types.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array> & { text(): Promise<string>; json(): Promise<unknown>; destroy(): void };
}

/**
 * Outbound HTTP to the providers: one undici keep-alive pool per provider, connect and first-byte timeouts
 * from the config, aborted with the client. Connection errors and timeouts become retryable failures.
 */
@Injectable()
export class ProviderTransport implements OnModuleDestroy {
  private readonly agents = new Map<ProviderId, Agent>();

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  private agent(provider: ProviderId): Agent {
    let agent = this.agents.get(provider);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: this.config.upstream.connectTimeoutMs },
        keepAliveTimeout: 30_000,
        // Sized by configuration: an open stream holds a connection, so a small pool queues streams silently.
        connections: this.config.upstream.connections,
      });
      this.agents.set(provider, agent);
    }
    return agent;
  }

  async send(
    provider: ProviderId,
    upstream: UpstreamRequest,
    signal: AbortSignal,
  ): Promise<UpstreamResponse | ProviderFailure> {
    try {
      const res = await request(upstream.url, {
        method: upstream.method,
        headers: upstream.headers,
        body: upstream.body,
        dispatcher: this.agent(provider),
        signal,
        headersTimeout: this.config.upstream.firstByteTimeoutMs,
        bodyTimeout: this.config.upstream.firstByteTimeoutMs,
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined) {
          headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        }
      }
      return { status: res.statusCode, headers, body: res.body as unknown as UpstreamResponse['body'] };
    } catch (error) {
      return connectionFailure(error);
    }
  }

  /** Lets requests in flight finish for a moment, then cuts what is left: shutdown never hangs on a provider. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(
      [...this.agents.values()].map(async (agent) => {
        const grace = new Promise((resolve) => setTimeout(resolve, 2000).unref());
        await Promise.race([agent.close().catch(() => undefined), grace]);
        await agent.destroy().catch(() => undefined);
      }),
    );
  }
}

export function isFailure(value: UpstreamResponse | ProviderFailure): value is ProviderFailure {
  return 'kind' in value;
}

export function connectionFailure(error: unknown): ProviderFailure {
  const timeout =
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError;
  return {
    kind: 'retryable',
    status: 0,
    message: timeout ? 'The provider timed out.' : 'The provider could not be reached.',
    code: timeout ? 'timeout' : 'connection_error',
  };
}
