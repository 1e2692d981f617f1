/**
 * OpenAI messages → Gemini `contents` + `systemInstruction` (providers.md §3 "Request mapping";
 * https://ai.google.dev/api/caching#Content, https://ai.google.dev/gemini-api/docs/function-calling,
 * https://ai.google.dev/gemini-api/docs/thought-signatures). The table is in request.ts.
 */
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type {
  AssistantMessage,
  ChatCompletionRequest,
  ContentPart,
  TextPart,
  ToolMessage,
} from '../openai-types.js';
import { unsupported } from '../policy.js';
import type { MapContext } from '../types.js';
import type { GeminiContent, GeminiPart } from './native-types.js';

/** Remote files Gemini reads itself: Cloud Storage and its own Files API. Anything else it cannot fetch. */
const FILES_API_URI = /^https:\/\/generativelanguage\.googleapis\.com\/.*\bfiles\//;

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

export interface MappedMessages {
  systemParts: GeminiPart[];
  contents: GeminiContent[];
}

export function mapMessages(request: ChatCompletionRequest, ctx: MapContext): MappedMessages {
  const systemParts: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  /** Tool-call names by id, from the assistant turns seen so far (OpenAI tool messages carry only the id). */
  const toolNames = new Map<string, string>();

  const push = (role: 'user' | 'model', parts: GeminiPart[]): void => {
    const last = contents[contents.length - 1];
    // Gemini wants user/model alternation: merge a turn into the previous one of the same role.
    if (last && last.role === role) {
      last.parts!.push(...parts);
    } else {
      contents.push({ role, parts });
    }
  };

  request.messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        systemParts.push(...textsOf(message.content).map((text) => ({ text })));
        break;
      case 'user':
        push('user', userParts(message.content, i));
        break;
      case 'assistant':
        push('model', assistantParts(message, i, ctx, toolNames));
        break;
      case 'tool':
        push('user', [toolResponsePart(message, i, toolNames)]);
        break;
    }
  });
  return { systemParts, contents };
}

function textsOf(content: string | TextPart[]): string[] {
  return typeof content === 'string' ? [content] : content.map((part) => part.text);
}

function userParts(content: string | ContentPart[], i: number): GeminiPart[] {
  if (typeof content === 'string') {
    return [{ text: content }];
  }
  return content.map((part, j) => {
    switch (part.type) {
      case 'text':
        return { text: part.text };
      case 'image_url':
        return imagePart(part.image_url.url, `messages[${i}].content[${j}].image_url`);
      case 'input_audio':
        return { inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } };
      case 'file': {
        const data = part.file.file_data ? parseDataUri(part.file.file_data) : undefined;
        if (!data) {
          throw unsupported(
            `messages[${i}].content[${j}].file`,
            'Only inline files (`file_data` as a base64 data URI) can be sent to this model; `file_id` is not supported.',
          );
        }
        return { inlineData: data };
      }
    }
  });
}

function imagePart(url: string, param: string): GeminiPart {
  const inline = parseDataUri(url);
  if (inline) {
    return { inlineData: inline };
  }
  if (url.startsWith('gs://') || FILES_API_URI.test(url)) {
    const mimeType = guessMimeType(url);
    return { fileData: mimeType ? { mimeType, fileUri: url } : { fileUri: url } };
  }
  // The gateway does not fetch URLs on the client's behalf (cost, SSRF), and Gemini only reads its own files.
  throw unsupported(
    param,
    'This model accepts images only as base64 data URIs, gs:// URIs or Gemini Files API URIs; download the image and send it as a data URI.',
  );
}

/** `data:<mime>[;base64],<data>` → inlineData (base64). Returns undefined for anything else. */
function parseDataUri(uri: string): { mimeType: string; data: string } | undefined {
  const match = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s.exec(uri);
  if (!match) {
    return undefined;
  }
  const [, mimeType, params, payload] = match;
  const isBase64 = params.split(';').includes('base64');
  const data = isBase64 ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64');
  return { mimeType, data };
}

function guessMimeType(uri: string): string | undefined {
  const path = uri.split(/[?#]/)[0];
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return extension ? MIME_BY_EXTENSION[extension] : undefined;
}

function assistantParts(
  message: AssistantMessage,
  i: number,
  ctx: MapContext,
  toolNames: Map<string, string>,
): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const content = message.content;
  if (typeof content === 'string') {
    if (content.length > 0) {
      parts.push({ text: content });
    }
  } else if (Array.isArray(content)) {
    for (const part of content) {
      const text = part.type === 'text' ? part.text : part.refusal;
      if (text.length > 0) {
        parts.push({ text });
      }
    }
  }
  (message.tool_calls ?? []).forEach((call, j) => {
    toolNames.set(call.id, call.function.name);
    const part: GeminiPart = {
      functionCall: {
        id: call.id,
        name: call.function.name,
        args: parseArguments(call.function.arguments, i, j),
      },
    };
    // Signatures are bound to the model that produced them: never replay another provider's or model's.
    const state = ctx.toolState.get(call.id);
    if (
      state?.provider === 'gemini' &&
      state.providerModel === ctx.deployment.providerModel &&
      state.thoughtSignature
    ) {
      part.thoughtSignature = state.thoughtSignature;
    }
    parts.push(part);
  });
  return parts;
}

function parseArguments(args: string, i: number, j: number): Record<string, unknown> {
  const param = `messages[${i}].tool_calls[${j}].function.arguments`;
  if (args.trim() === '') {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new GatewayError(ErrorCode.InvalidRequest, `${param} is not valid JSON.`, { param });
  }
  if (!isPlainObject(parsed)) {
    throw new GatewayError(ErrorCode.InvalidRequest, `${param} must be a JSON object.`, { param });
  }
  return parsed;
}

function toolResponsePart(message: ToolMessage, i: number, toolNames: Map<string, string>): GeminiPart {
  const name = toolNames.get(message.tool_call_id);
  if (name === undefined) {
    const param = `messages[${i}].tool_call_id`;
    throw new GatewayError(
      ErrorCode.InvalidRequest,
      `${param} '${message.tool_call_id}' does not match a tool call of an earlier assistant message.`,
      { param },
    );
  }
  const text = textsOf(message.content).join('');
  return { functionResponse: { id: message.tool_call_id, name, response: toolResponse(text) } };
}

/** `response` must be a JSON object: a JSON object result is sent as is, anything else wrapped. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed)) {
      return parsed;
    }
  } catch {
    // not JSON: wrapped below
  }
  return { result: text };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
