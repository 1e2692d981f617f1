import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  event?: string;
  data: string;
}

/** What came after the last SSE event and is not SSE (Gemini writes its error body there). */
export interface SseTrailer {
  text: string;
}

/**
 * Reads a provider's SSE body with eventsource-parser and yields its events. Lines that are not SSE fields are
 * collected, and whatever of them follows the last event is left in `trailer.text` when the body ends: a parser
 * drops such lines, but Gemini ends a failing stream with a plain JSON error body there.
 */
export async function* readSse(
  body: AsyncIterable<Uint8Array>,
  trailer?: SseTrailer,
): AsyncGenerator<SseEvent> {
  const pending: EventSourceMessage[] = [];
  let stray: string[] = [];
  const parser = createParser({
    onEvent: (event) => {
      pending.push(event);
      stray = [];
    },
    onError: (error) => {
      if (error.type === 'unknown-field' && error.line !== undefined) {
        stray.push(error.line);
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    while (pending.length > 0) {
      const event = pending.shift()!;
      yield { event: event.event, data: event.data };
    }
  }
  parser.feed(decoder.decode() + '\n\n');
  for (const event of pending) {
    yield { event: event.event, data: event.data };
  }
  if (trailer) {
    trailer.text = stray.join('\n').trim();
  }
}
