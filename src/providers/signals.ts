import type { ProviderId } from '../common/provider-ids.js';

/**
 * What the pure provider mappers report to the running gateway without importing it (no Nest, no metrics
 * library here). The gateway subscribes at start (Prometheus counters, warnings in the log); with no subscriber a
 * report goes nowhere. Every app in a process subscribes on its own, so each one's metrics see the reports.
 */
export interface ProviderSignals {
  /**
   * A provider ended a choice with a finish reason its mapping table does not know. The mapper still answers
   * (`stop`, or `tool_calls` when the choice called tools); this report is what keeps it from being silent.
   */
  unknownFinishReason(provider: ProviderId, reason: string): void;
}

const subscribers = new Set<ProviderSignals>();

/** Subscribes; returns the unsubscribe function (call it when the subscriber's app stops). */
export function subscribeProviderSignals(subscriber: ProviderSignals): () => void {
  subscribers.add(subscriber);
  return () => {
    subscribers.delete(subscriber);
  };
}

export function reportUnknownFinishReason(provider: ProviderId, reason: string): void {
  for (const subscriber of subscribers) {
    try {
      subscriber.unknownFinishReason(provider, reason);
    } catch {
      // A failing metric or log call must never fail the answer being mapped.
    }
  }
}
