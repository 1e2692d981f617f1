import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countTextTokens } from '../../src/common/tokens.js';
import {
  answersWithToolCall,
  completionPieces,
  cutConnection,
  FAKE_TOOL_ARGUMENTS,
  FakeProvider,
  promptTokens,
  sleep,
  writeSse,
  type ChatIntent,
  type FakeFault,
  type FakeProtocol,
} from './base.js';

/**
 * Fake Google Gemini (Generative Language API v1beta, API-key flavour; providers.md §3, §8).
 * - auth: `x-goog-api-key` header (Google also takes `?key=`); a wrong key → 400 INVALID_ARGUMENT with ErrorInfo
 *   reason API_KEY_INVALID, no key → 403 PERMISSION_DENIED "unregistered callers";
 * - chat: POST /v1beta/models/{model}:generateContent, stream POST …:streamGenerateContent?alt=sse (frames
 *   `data: <json>\r\n\r\n`, no event names, no terminator; without alt=sse one streamed JSON array);
 * - probe: GET /v1beta/models?pageSize=N (native list) and GET /v1beta/models/{model};
 * - errors: `{"error":{"code","message","status","details"}}` pretty-printed; 429 carries QuotaFailure + RetryInfo
 *   in the body and no rate-limit headers (Gemini sends none);
 * - mid-stream error: a pretty-printed `{"error":…}` body after the last frame (not an SSE frame), then EOF;
 * - thought signatures: every functionCall returned carries one; models `gemini-3*`/`gemini-4*` reject a history
 *   whose current turn has a model step whose first functionCall part lacks it (the real rule: in parallel calls
 *   only the first part carries one; earlier turns are not checked), and any signature this fake never issued.
 */

interface NativePart {
  text?: string;
  functionCall?: { id?: string; name?: string; args?: unknown };
  functionResponse?: { id?: string; name?: string; response?: unknown };
  thoughtSignature?: string;
  [key: string]: unknown;
}
interface NativeContent {
  role?: string;
  parts?: NativePart[];
}
interface NativeRequest {
  contents?: NativeContent[];
  systemInstruction?: { parts?: NativePart[] };
  tools?: Array<{ functionDeclarations?: Array<{ name?: string }> }>;
  toolConfig?: { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } };
  generationConfig?: {
    maxOutputTokens?: number;
    candidateCount?: number;
    responseMimeType?: string;
    stopSequences?: string[];
  };
}

interface GeminiIntent extends ChatIntent {
  /** The request is malformed for Gemini: answer this native 400 instead. */
  rejection?: string;
  /** streamGenerateContent with alt=sse (otherwise one streamed JSON array). */
  sse: boolean;
}

const API_VERSION = '/v1beta';
const CHAT_PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const PROBE_PATH = /^\/v1beta\/models(?:\/([^/:]+))?$/;
/** Models that enforce thought signatures on function calls. */
const SIGNATURE_MODELS = /^gemini-[34]/;
/** Google documents these as stand-ins for histories that come from elsewhere. */
const DUMMY_SIGNATURES = new Set([
  'skip_thought_signature_validator',
  'context_engineering_is_the_way_to_go',
]);

const CATALOG = ['gemini-4-argon', 'gemini-3.8-flash', 'gemini-3.5-flash-lite'];

const STATUS_NAMES: Record<number, [string, string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: [
    'NOT_FOUND',
    'models/unknown is not found for API version v1beta, or is not supported for generateContent.',
  ],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: [
    'INTERNAL',
    'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  ],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

/** Google renders error bodies pretty-printed, two-space indented. */
function errorBody(code: number, message: string, status: string, details?: unknown[]): string {
  return JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } }, null, 2);
}

function writeJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(body);
}

function modelResource(id: string): Record<string, unknown> {
  return {
    name: `models/${id}`,
    baseModelId: id,
    version: '001',
    displayName: id,
    description: `Fake ${id}`,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: [
      'generateContent',
      'countTokens',
      'createCachedContent',
      'batchGenerateContent',
    ],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  };
}

function randomId(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

function pathname(path: string): string {
  return new URL(path, 'http://fake').pathname;
}

class GeminiProtocol implements FakeProtocol {
  readonly name = 'gemini';
  /** Signatures handed out, so a forged or foreign one is refused like Google refuses a corrupted one. */
  private readonly issuedSignatures = new Set<string>();

  authorize(req: IncomingMessage, apiKey: string): boolean {
    return presentedKey(req) === apiKey;
  }

  unauthorized(res: ServerResponse): void {
    if (presentedKey(res.req) === undefined) {
      writeJson(
        res,
        403,
        errorBody(
          403,
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
          'PERMISSION_DENIED',
        ),
      );
      return;
    }
    writeJson(
      res,
      400,
      errorBody(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        },
        {
          '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
          locale: 'en-US',
          message: 'API key not valid. Please pass a valid API key.',
        },
      ]),
    );
  }

  isProbe(method: string, path: string): boolean {
    return method === 'GET' && PROBE_PATH.test(pathname(path));
  }

  answerProbe(res: ServerResponse, path: string): void {
    const url = new URL(path, 'http://fake');
    const single = PROBE_PATH.exec(url.pathname)?.[1];
    if (single !== undefined) {
      writeJson(res, 200, JSON.stringify(modelResource(decodeURIComponent(single)), null, 2));
      return;
    }
    const pageSize = Math.max(1, Number(url.searchParams.get('pageSize') ?? '50') || 50);
    const start = Number(url.searchParams.get('pageToken') ?? '0') || 0;
    const page = CATALOG.slice(start, start + pageSize);
    const next = start + pageSize < CATALOG.length ? String(start + pageSize) : undefined;
    writeJson(
      res,
      200,
      JSON.stringify({ models: page.map(modelResource), ...(next ? { nextPageToken: next } : {}) }, null, 2),
    );
  }

  chatIntent(method: string, path: string, body: unknown): GeminiIntent | null {
    const url = new URL(path, 'http://fake');
    const match = CHAT_PATH.exec(url.pathname);
    if (method !== 'POST' || !match) {
      return null;
    }
    const model = decodeURIComponent(match[1]);
    const request = (typeof body === 'object' && body !== null ? body : {}) as NativeRequest;
    const contents = Array.isArray(request.contents) ? request.contents : [];
    const config = request.generationConfig ?? {};

    const promptTexts: string[] = [];
    for (const part of [
      ...(request.systemInstruction?.parts ?? []),
      ...contents.flatMap((c) => c.parts ?? []),
    ]) {
      if (typeof part.text === 'string') {
        promptTexts.push(part.text);
      }
    }
    const last = contents[contents.length - 1];
    const calling = request.toolConfig?.functionCallingConfig;
    let tools = (request.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((d) => d.name ?? ''));
    if (calling?.mode === 'NONE') {
      tools = [];
    } else if (calling?.allowedFunctionNames?.length) {
      tools = calling.allowedFunctionNames.filter((name) => tools.includes(name));
    }
    return {
      model,
      stream: match[2] === 'streamGenerateContent',
      sse: url.searchParams.get('alt') === 'sse',
      maxTokens: config.maxOutputTokens,
      promptTexts,
      tools,
      lastFromUser:
        last?.role === 'user' && !(last.parts ?? []).some((p) => p.functionResponse !== undefined),
      json: config.responseMimeType === 'application/json',
      n: config.candidateCount ?? 1,
      rejection: this.validate(model, request, contents),
    };
  }

  /** The checks Google makes that an adapter can get wrong, with Google's wording. */
  private validate(model: string, request: NativeRequest, contents: NativeContent[]): string | undefined {
    if (contents.length === 0) {
      return '* GenerateContentRequest.contents: contents is not specified\n';
    }
    for (const [i, content] of contents.entries()) {
      if (content.role !== undefined && content.role !== 'user' && content.role !== 'model') {
        return `Please use a valid role: user, model.`;
      }
      if (!Array.isArray(content.parts) || content.parts.length === 0) {
        return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
      }
      for (const [j, part] of content.parts.entries()) {
        const response = part.functionResponse;
        if (response && !response.name) {
          return `* GenerateContentRequest.contents[${i}].parts[${j}].function_response.name: Name cannot be empty.\n`;
        }
        if (
          response &&
          (typeof response.response !== 'object' ||
            response.response === null ||
            Array.isArray(response.response))
        ) {
          return `Invalid JSON payload received. Unknown name "response" at 'contents[${i}].parts[${j}].function_response': Proto field is not repeating, cannot start list.`;
        }
        if (
          part.thoughtSignature !== undefined &&
          !this.issuedSignatures.has(part.thoughtSignature) &&
          !DUMMY_SIGNATURES.has(part.thoughtSignature)
        ) {
          return 'Corrupted thought signature.';
        }
      }
    }
    if ((request.generationConfig?.stopSequences?.length ?? 0) > 5) {
      return '* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences are allowed.\n';
    }
    if (SIGNATURE_MODELS.test(model)) {
      return missingSignature(contents);
    }
    return undefined;
  }

  answerChat(res: ServerResponse, intent: ChatIntent): void {
    const gemini = intent as GeminiIntent;
    if (gemini.rejection) {
      writeJson(res, 400, errorBody(400, gemini.rejection, 'INVALID_ARGUMENT'));
      return;
    }
    const candidates = Array.from({ length: intent.n }, (_, index) => ({
      content: { parts: this.answerParts(intent), role: 'model' },
      finishReason: 'STOP',
      index,
    }));
    writeJson(
      res,
      200,
      JSON.stringify(
        {
          candidates,
          usageMetadata: usage(intent, completionTokensOf(intent) * intent.n),
          modelVersion: intent.model,
          responseId: randomId(22),
        },
        null,
        2,
      ),
    );
  }

  async streamChat(
    res: ServerResponse,
    intent: ChatIntent,
    fault?: Extract<FakeFault, { afterChunks: number }>,
  ): Promise<void> {
    const gemini = intent as GeminiIntent;
    if (gemini.rejection) {
      writeJson(res, 400, errorBody(400, gemini.rejection, 'INVALID_ARGUMENT'));
      return;
    }
    const responseId = randomId(22);
    const pieces: NativePart[][] = answersWithToolCall(intent)
      ? [this.answerParts(intent)]
      : completionPieces(intent).map((text) => [{ text }]);
    const tokensPerPiece = answersWithToolCall(intent) ? [completionTokensOf(intent)] : pieces.map(() => 1);
    // A fault after the last content chunk plays before any finishReason was sent.
    const finishOnLast = !fault || fault.afterChunks < pieces.length;

    res.writeHead(200, {
      'content-type': gemini.sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
      'x-content-type-options': 'nosniff',
    });
    if (!gemini.sse) {
      res.write('[');
    }
    let completion = 0;
    for (const [k, parts] of pieces.entries()) {
      if (fault && k === fault.afterChunks) {
        this.playFault(res, fault);
        return;
      }
      completion += tokensPerPiece[k] * intent.n;
      const isLast = k === pieces.length - 1;
      const chunk = {
        candidates: Array.from({ length: intent.n }, (_, index) => ({
          content: { parts, role: 'model' },
          ...(isLast && finishOnLast ? { finishReason: 'STOP' } : {}),
          index,
        })),
        usageMetadata: usage(intent, completion),
        modelVersion: intent.model,
        responseId,
      };
      if (gemini.sse) {
        writeSse(res, JSON.stringify(chunk), { eol: '\r\n' });
      } else {
        res.write(`${k > 0 ? ',\r\n' : ''}${JSON.stringify(chunk, null, 2)}`);
      }
      await sleep(0);
    }
    if (fault) {
      this.playFault(res, fault);
      return;
    }
    res.end(gemini.sse ? undefined : ']');
  }

  private playFault(res: ServerResponse, fault: Extract<FakeFault, { afterChunks: number }>): void {
    if (fault.kind === 'stall') {
      return; // the connection stays open with nothing more written
    }
    if (fault.kind === 'cut') {
      cutConnection(res);
      return;
    }
    // Google ends a failing stream with a plain pretty-printed JSON error body, not an SSE frame.
    res.end(`${errorBody(503, 'The model is overloaded. Please try again later.', 'UNAVAILABLE')}\n`);
  }

  private answerParts(intent: ChatIntent): NativePart[] {
    if (answersWithToolCall(intent)) {
      const signature = randomBytes(48).toString('base64');
      this.issuedSignatures.add(signature);
      return [
        {
          functionCall: {
            id: randomId(8),
            name: intent.tools[0],
            args: JSON.parse(FAKE_TOOL_ARGUMENTS) as unknown,
          },
          thoughtSignature: signature,
        },
      ];
    }
    return [{ text: completionPieces(intent).join('') }];
  }

  errorAnswer(status: number): { body: string; headers?: Record<string, string> } {
    const [name, message] = STATUS_NAMES[status] ?? ['UNKNOWN', 'Unknown error.'];
    return {
      body: errorBody(status, message, name, status === 429 ? quotaDetails(37) : undefined),
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    };
  }

  rateLimited(res: ServerResponse, retryAfterSeconds: number): void {
    writeJson(
      res,
      429,
      errorBody(
        429,
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n' +
          '* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_paid_tier_requests, limit: 1000\n' +
          `Please retry in ${retryAfterSeconds}s.`,
        'RESOURCE_EXHAUSTED',
        quotaDetails(retryAfterSeconds),
      ),
    );
  }
}

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers['x-goog-api-key'];
  if (typeof header === 'string' && header.length > 0) {
    return header;
  }
  return new URL(req.url ?? '/', 'http://fake').searchParams.get('key') ?? undefined;
}

/**
 * Google checks the current turn only: the contents after the last user turn with ordinary content (not just
 * functionResponse parts). In each model step of it, the first functionCall part must carry its signature.
 */
function missingSignature(contents: NativeContent[]): string | undefined {
  let start = 0;
  contents.forEach((content, k) => {
    if (content.role === 'user' && (content.parts ?? []).some((p) => p.functionResponse === undefined)) {
      start = k + 1;
    }
  });
  for (let k = start; k < contents.length; k += 1) {
    if (contents[k].role !== 'model') {
      continue;
    }
    const parts = contents[k].parts ?? [];
    const position = parts.findIndex((p) => p.functionCall !== undefined);
    if (position >= 0 && !parts[position].thoughtSignature) {
      return (
        'Function call is missing a thought_signature in functionCall parts. This is required for tools to work ' +
        'correctly, and missing thought_signature may lead to degraded model performance. Additional data, ' +
        `function call \`default_api:${parts[position].functionCall!.name}\` , position ${position + 1}. ` +
        'Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.'
      );
    }
  }
  return undefined;
}

function completionTokensOf(intent: ChatIntent): number {
  return answersWithToolCall(intent) ? countTextTokens(FAKE_TOOL_ARGUMENTS) : completionPieces(intent).length;
}

function usage(intent: ChatIntent, completion: number): Record<string, unknown> {
  const prompt = promptTokens(intent);
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: completion,
    totalTokenCount: prompt + completion,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
  };
}

function quotaDetails(retryAfterSeconds: number): unknown[] {
  return [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
          quotaDimensions: { location: 'global', model: 'gemini' },
          quotaValue: '1000',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [
        {
          description: 'Learn more about Gemini API quotas',
          url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
        },
      ],
    },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
  ];
}

export function createGeminiFake(options: { apiKey?: string } = {}): FakeProvider {
  return new FakeProvider(new GeminiProtocol(), options);
}

/** The base URL the gateway is configured with: origin + `/v1beta`. */
export function geminiBaseUrl(fake: FakeProvider): string {
  return `${fake.origin}${API_VERSION}`;
}
