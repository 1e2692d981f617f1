import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes, type Fakes } from '../fakes/index.js';
import { createKey, signup, startApp, type TestApp } from '../support/app.js';

describe('smoke', () => {
  let fakes: Fakes;
  let t: TestApp;
  let live: OpenAI;
  let test: OpenAI;
  beforeAll(async () => {
    fakes = await startFakes();
    t = await startApp(fakes.env);
    const { token } = await signup(t);
    live = new OpenAI({
      baseURL: `${t.url}/v1`,
      apiKey: (await createKey(t, token, 'live')).key,
      maxRetries: 0,
    });
    test = new OpenAI({
      baseURL: `${t.url}/v1`,
      apiKey: (await createKey(t, token, 'test')).key,
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await t?.close();
    await fakes?.close();
  });

  it('test key', async () => {
    const res = await test.chat.completions.create({
      model: 'gpt-6-luna',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices[0].message.content).toContain('test response');
  });

  it.each(['gpt-6-luna', 'claude-haiku-5-5', 'gemini-3.8-flash', 'gpt-oss-120b', 'openai/gpt-oss-20b'])(
    'live %s',
    async (model) => {
      const res = await live.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 5,
      });
      expect(res.choices[0].message.content).toBe('Hello hello hello hello hello');
      const stream = live.chat.completions.stream({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 5,
      });
      const final = await stream.finalChatCompletion();
      expect(final.choices[0].message.content).toBe('Hello hello hello hello hello');
    },
  );
});
