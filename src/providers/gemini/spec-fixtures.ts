/** Shared fixtures of the Gemini adapter's unit specs (not imported by the adapter). */
import type { Deployment } from '../../common/deployment.js';
import type { MapContext, StreamPart, ToolCallState } from '../types.js';

export function geminiContext(
  options: {
    model?: string;
    toolState?: Array<[string, ToolCallState]>;
    deployment?: Partial<Deployment>;
  } = {},
): MapContext {
  const model = options.model ?? 'gemini-3.8-flash';
  return {
    deployment: {
      provider: 'gemini',
      providerModel: model,
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
      unsupportedParams: [],
      forcedToolChoice: false,
      reasoningEffort: { minimal: 'MINIMAL', low: 'LOW', medium: 'MEDIUM', high: 'HIGH' },
      ...options.deployment,
    },
    config: {
      id: 'gemini',
      baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
      apiKey: 'AIza-test',
    },
    toolState: new Map(options.toolState ?? []),
  };
}

/** A body delivered in the given pieces (split anywhere, like TCP does). */
export async function* bodyOf(...pieces: string[]): AsyncIterable<Uint8Array> {
  const encoder = new TextEncoder();
  for (const piece of pieces) {
    yield encoder.encode(piece);
  }
}

export async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const part of parts) {
    out.push(part);
  }
  return out;
}
