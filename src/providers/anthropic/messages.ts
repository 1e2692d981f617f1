/**
 * OpenAI messages → Anthropic `system` + alternating `messages` (providers.md §2 "Request mapping";
 * https://docs.anthropic.com/en/api/messages#body-messages). See request.ts for the parameter table.
 */
import { ErrorCode, GatewayError } from '../../common/errors.js';
import type {
  AssistantMessage,
  ChatMessage,
  ContentPart,
  ToolMessage,
  UserMessage,
} from '../openai-types.js';
import { unsupported } from '../policy.js';
import type { MapContext } from '../types.js';
import type {
  AnthropicMediaType,
  AnthropicMessageParam,
  AnthropicRequestBlock,
  AnthropicTextBlock,
  AnthropicToolResultBlock,
} from './native-types.js';

const IMAGE_MEDIA_TYPES: readonly string[] = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

interface Turn {
  role: 'user' | 'assistant';
  /** tool_result blocks must open the user turn that follows the tool_use turn. */
  toolResults: AnthropicToolResultBlock[];
  blocks: AnthropicRequestBlock[];
}

export function mapMessages(
  input: ChatMessage[],
  ctx: MapContext,
): { system: AnthropicTextBlock[]; messages: AnthropicMessageParam[] } {
  const system: AnthropicTextBlock[] = [];
  const turns: Turn[] = [];
  // Anthropic wants alternating roles: consecutive same-role messages (tool results included) share one turn.
  const turnFor = (role: Turn['role']): Turn => {
    const last = turns[turns.length - 1];
    if (last && last.role === role) {
      return last;
    }
    const turn: Turn = { role, toolResults: [], blocks: [] };
    turns.push(turn);
    return turn;
  };

  input.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(message.content));
        break;
      case 'user':
        turnFor('user').blocks.push(...userBlocks(message, i));
        break;
      case 'assistant':
        turnFor('assistant').blocks.push(...assistantBlocks(message, i, ctx));
        break;
      case 'tool':
        turnFor('user').toolResults.push(toolResult(message));
        break;
    }
  });

  const messages = turns
    .map((turn): AnthropicMessageParam => ({
      role: turn.role,
      content: [...turn.toolResults, ...turn.blocks],
    }))
    .filter((message) => message.content.length > 0);
  if (messages.length === 0) {
    throw new GatewayError(ErrorCode.InvalidRequest, 'At least one user or assistant message is required.', {
      param: 'messages',
    });
  }
  return { system, messages };
}

/** Text blocks from a string or text parts; Anthropic rejects empty text blocks, so they are left out. */
function textBlocks(
  content: string | Array<{ type: string; text?: string; refusal?: string }> | null | undefined,
) {
  const texts =
    typeof content === 'string'
      ? [content]
      : (content ?? []).map((part) => (part.type === 'refusal' ? (part.refusal ?? '') : (part.text ?? '')));
  return texts.filter((text) => text.length > 0).map((text): AnthropicTextBlock => ({ type: 'text', text }));
}

function userBlocks(message: UserMessage, i: number): AnthropicRequestBlock[] {
  if (typeof message.content === 'string') {
    return textBlocks(message.content);
  }
  const blocks: AnthropicRequestBlock[] = [];
  message.content.forEach((part, j) => {
    const block = userPart(part, `messages[${i}].content[${j}]`);
    if (block) {
      blocks.push(block);
    }
  });
  return blocks;
}

function parseDataUri(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
  return match ? { mediaType: match[1].toLowerCase(), data: match[2] } : undefined;
}

function userPart(part: ContentPart, param: string): AnthropicRequestBlock | undefined {
  switch (part.type) {
    case 'text':
      return part.text.length > 0 ? { type: 'text', text: part.text } : undefined;
    case 'image_url': {
      // `detail` has no Anthropic equivalent and only tunes cost/resolution: dropped.
      const url = part.image_url.url;
      if (!url.startsWith('data:')) {
        return { type: 'image', source: { type: 'url', url } };
      }
      const parsed = parseDataUri(url);
      if (!parsed || !IMAGE_MEDIA_TYPES.includes(parsed.mediaType)) {
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          'Images must be base64 data URIs of type image/jpeg, image/png, image/gif or image/webp, or http(s) URLs.',
          { param: `${param}.image_url.url` },
        );
      }
      return {
        type: 'image',
        source: { type: 'base64', media_type: parsed.mediaType as AnthropicMediaType, data: parsed.data },
      };
    }
    case 'file': {
      const { file_data: fileData, file_id: fileId, filename } = part.file;
      if (fileData === undefined) {
        throw unsupported(
          fileId !== undefined ? `${param}.file.file_id` : `${param}.file`,
          'Anthropic models accept files only inline as base64 `file_data` (OpenAI file ids cannot be resolved).',
        );
      }
      const parsed = parseDataUri(fileData);
      const isPdf = parsed
        ? parsed.mediaType === 'application/pdf'
        : filename === undefined || filename.toLowerCase().endsWith('.pdf');
      if (!isPdf) {
        throw unsupported(`${param}.file.file_data`, 'Anthropic models accept PDF files only.');
      }
      return {
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data: parsed ? parsed.data : fileData },
      };
    }
    case 'input_audio':
      throw unsupported(param, 'Anthropic models do not accept audio input.');
  }
}

function assistantBlocks(message: AssistantMessage, i: number, ctx: MapContext): AnthropicRequestBlock[] {
  let blocks: AnthropicRequestBlock[] = textBlocks(message.content);
  if (blocks.length === 0 && message.refusal) {
    blocks = textBlocks(message.refusal);
  }
  const toolCalls = message.tool_calls ?? [];
  const toolUses = toolCalls.map((call, j): AnthropicRequestBlock => {
    let input: unknown;
    try {
      input = JSON.parse(call.function.arguments || '{}');
    } catch {
      input = undefined;
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new GatewayError(ErrorCode.InvalidRequest, 'Tool call arguments must be a JSON object.', {
        param: `messages[${i}].tool_calls[${j}].function.arguments`,
      });
    }
    return {
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: input as Record<string, unknown>,
    };
  });
  return [
    ...savedThinking(
      toolCalls.map((call) => call.id),
      ctx,
    ),
    ...blocks,
    ...toolUses,
  ];
}

/**
 * The thinking blocks Claude produced before these tool calls must be echoed unchanged in front of them. They
 * are bound to the model that signed them: state saved by another provider or model is ignored.
 */
function savedThinking(ids: string[], ctx: MapContext): AnthropicRequestBlock[] {
  for (const id of ids) {
    const state = ctx.toolState.get(id);
    if (
      state?.provider === 'anthropic' &&
      state.providerModel === ctx.deployment.providerModel &&
      state.thinkingBlocks &&
      state.thinkingBlocks.length > 0
    ) {
      return state.thinkingBlocks as AnthropicRequestBlock[];
    }
  }
  return [];
}

function toolResult(message: ToolMessage): AnthropicToolResultBlock {
  return {
    type: 'tool_result',
    tool_use_id: message.tool_call_id,
    content: typeof message.content === 'string' ? message.content : textBlocks(message.content),
  };
}
