import { describe, expect, it } from 'vitest';
import { fakeText, useGateway } from './support.js';

/**
 * Models served by two providers (gpt-oss-120b on Cerebras and Groq): the healthy, cheaper deployment serves first
 * (catalog order breaks ties), and a failing deployment hands over to the same model at the next provider before
 * any fallback model.
 */
describe('routing over two providers of one model', () => {
  const g = useGateway();
  const hi = [{ role: 'user' as const, content: 'hi' }];

  // Issue 5: among equally healthy deployments the cheaper comes first (Groq charges $0.15/$0.60 per M for
  // gpt-oss-120b, Cerebras $0.35/$0.75); the catalog's order breaks ties.
  it('serves gpt-oss-120b from its cheaper healthy deployment (Groq), and Cerebras when Groq fails', async () => {
    const { response } = await g.live.chat.completions
      .create({ model: 'gpt-oss-120b', messages: hi, max_tokens: 1 })
      .withResponse();
    expect(response.headers.get('x-conflux-provider')).toBe('groq');
    expect(g.fakes.cerebras.chatRequests()).toHaveLength(0);
  });

  it('fails over to the same model at the other provider, not to the fallback model', async () => {
    for (const [failing, other] of [
      [g.fakes.cerebras, 'groq'],
      [g.fakes.groq, 'cerebras'],
    ] as const) {
      g.fakes.reset();
      failing.addFault({ kind: 'status', status: 500 }, { times: Infinity });
      const { data, response } = await g.live.chat.completions
        .create({ model: 'gpt-oss-120b', messages: hi, max_tokens: 3 })
        .withResponse();
      expect(data.choices[0].message.content).toBe(fakeText(3));
      expect(data.model).toBe('gpt-oss-120b');
      expect(response.headers.get('x-conflux-provider')).toBe(other);
      expect(response.headers.get('x-conflux-model')).toBe('gpt-oss-120b');
      const streamed = await g.live.chat.completions
        .stream({ model: 'gpt-oss-120b', messages: hi, max_tokens: 3 })
        .finalChatCompletion();
      expect(streamed.choices[0].message.content).toBe(fakeText(3));
      expect(streamed.model).toBe('gpt-oss-120b');
      failing.clearFaults();
    }
  });

  it('both providers of the model failing → the fallback model serves it', async () => {
    g.fakes.cerebras.addFault({ kind: 'rate_limit' }, { times: Infinity, model: 'gpt-oss-120b' });
    g.fakes.groq.addFault({ kind: 'rate_limit' }, { times: Infinity, model: 'openai/gpt-oss-120b' });
    const { data, response } = await g.live.chat.completions
      .create({ model: 'gpt-oss-120b', messages: hi, max_tokens: 2 })
      .withResponse();
    expect(data.model).toBe('openai/gpt-oss-20b');
    expect(response.headers.get('x-conflux-model')).toBe('openai/gpt-oss-20b');
    expect(response.headers.get('x-conflux-provider')).toBe('groq');
    expect(data.choices[0].message.content).toBe(fakeText(2));
  });
});
