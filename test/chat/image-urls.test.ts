import { describe, expect, it } from 'vitest';
import { call, chatCount, useGateway } from './support.js';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==';

function withImage(url: string) {
  return {
    model: 'gpt-6-luna',
    max_tokens: 1,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url } },
        ],
      },
    ],
  };
}

/** An image is fetched by the provider: only web URLs and inline images may be passed on. */
describe('image URLs', () => {
  const g = useGateway();

  it.each([
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    'ftp://example.com/cat.png',
    'javascript:alert(1)',
    'ws://example.com/cat.png',
    'data:text/plain;base64,aGVsbG8=',
    'data:image/png,not-base64',
    'data:;base64,iVBORw0KGgo=',
    // the providers' mappers read inline images by a lower-case `data:image/` prefix
    'DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=',
    '//example.com/cat.png',
    'https://',
    'cat.png',
  ])('%s → 400 naming the parameter, no provider call', async (url) => {
    const res = await call(g.t, 'POST', '/v1/chat/completions', withImage(url), g.liveKey);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      type: 'invalid_request_error',
      param: 'messages[0].content[1].image_url.url',
    });
    expect(chatCount(g.fakes)).toBe(0);
  });

  it.each([
    'https://example.com/cat.png',
    'HTTP://example.com/cat.png',
    PNG,
    'data:image/jpeg;name=cat.jpg;base64,/9j/4AAQ',
  ])('%s is passed on', async (url) => {
    const res = await call(g.t, 'POST', '/v1/chat/completions', withImage(url), g.liveKey);
    expect(res.status).toBe(200);
    expect(chatCount(g.fakes)).toBe(1);
  });

  it('a test key is refused the same way', async () => {
    const res = await call(g.t, 'POST', '/v1/chat/completions', withImage('file:///etc/passwd'), g.testKey);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('messages[0].content[1].image_url.url');
  });
});
