import { Global, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG, loadConfig } from '../config/config.js';
import { ProvidersModule } from './providers.module.js';
import { ADAPTERS, PROVIDER_ADAPTERS } from './registry.js';
import { ProviderTransport } from './transport.js';

@Global()
@Module({ providers: [{ provide: CONFIG, useValue: loadConfig({}) }], exports: [CONFIG] })
class TestConfigModule {}

@Injectable()
class ChatUser {
  constructor(readonly transport: ProviderTransport) {}
}
@Module({ imports: [ProvidersModule.forPurpose('chat')], providers: [ChatUser] })
class ChatSide {}

@Injectable()
class ProbeUser {
  constructor(readonly transport: ProviderTransport) {}
}
@Module({ imports: [ProvidersModule.forPurpose('probes')], providers: [ProbeUser] })
class ProbeSide {}

// Nest identifies module instances by reference by default; `deep-hash` (an app option) by their metadata.
describe.each(['reference', 'deep-hash'] as const)('ProvidersModule (module ids: %s)', (algorithm) => {
  let close: () => Promise<void>;
  let get: <T>(type: new (...args: never[]) => T) => T;
  let adapters: unknown;

  beforeAll(async () => {
    const app = await Test.createTestingModule(
      { imports: [TestConfigModule, ChatSide, ProbeSide] },
      { moduleIdGeneratorAlgorithm: algorithm },
    ).compile();
    await app.init();
    get = (type) => app.get(type);
    adapters = app.get(PROVIDER_ADAPTERS);
    close = () => app.close();
  });
  afterAll(() => close());

  it('gives chat traffic and health probes a transport (and connection pools) each', () => {
    const chat = get(ChatUser).transport;
    const probes = get(ProbeUser).transport;
    expect(chat).toBeInstanceOf(ProviderTransport);
    expect(probes).toBeInstanceOf(ProviderTransport);
    expect(chat).not.toBe(probes);
  });

  it('registers the adapters', () => {
    expect(adapters).toBe(ADAPTERS);
  });
});
