import { type DynamicModule, Module } from '@nestjs/common';
import { ADAPTERS, PROVIDER_ADAPTERS } from './registry.js';
import { ProviderTransport } from './transport.js';

/** The traffic one transport carries. */
export type TransportPurpose = 'chat' | 'probes';

const TRANSPORT_PURPOSE = Symbol('TRANSPORT_PURPOSE');

/**
 * The one registration of the provider adapters (`PROVIDER_ADAPTERS`) and of the outbound `ProviderTransport`.
 *
 * Each `forPurpose()` import is a module instance of its own, with its own transport and so its own keep-alive
 * pools: the health probes never queue behind chat traffic (a busy pool must not make a provider look down), and
 * chat requests never wait on a probe. The purpose is also in the module's metadata, which keeps the two
 * instances apart under either of Nest's module-id algorithms (by reference, the default, or `deep-hash`).
 */
@Module({})
export class ProvidersModule {
  static forPurpose(purpose: TransportPurpose): DynamicModule {
    return {
      module: ProvidersModule,
      providers: [
        { provide: TRANSPORT_PURPOSE, useValue: purpose },
        { provide: PROVIDER_ADAPTERS, useValue: ADAPTERS },
        ProviderTransport,
      ],
      exports: [PROVIDER_ADAPTERS, ProviderTransport],
    };
  }
}
