import type { Key } from '../api.js';
import { copyButton, h } from '../dom.js';

/** The base URL and a first request in Node, Python and curl, with the account's live key prefix filled in. */
export function quickStart(keys: Key[]): HTMLElement {
  const base = `${location.origin}/v1`;
  const key = keys.find((k) => !k.revoked_at && k.kind === 'live') ?? keys.find((k) => !k.revoked_at);
  // The list shows a key as "cf_live_bu7D…yVEJ": the snippet keeps its prefix and marks where the rest goes.
  const prefix = key ? `${key.display.split('…')[0]}…` : 'cf_live_…';
  const snippets: Record<string, string> = {
    Node: `import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: '${base}',
  apiKey: process.env.CONFLUX_API_KEY, // ${prefix}
});

const completion = await client.chat.completions.create({
  model: 'gpt-6-luna',
  messages: [{ role: 'user', content: 'Hello!' }],
});
console.log(completion.choices[0].message.content);`,
    Python: `from openai import OpenAI
import os

client = OpenAI(
    base_url="${base}",
    api_key=os.environ["CONFLUX_API_KEY"],  # ${prefix}
)

completion = client.chat.completions.create(
    model="gpt-6-luna",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(completion.choices[0].message.content)`,
    curl: `export CONFLUX_API_KEY="${prefix}"  # your full key

curl ${base}/chat/completions \\
  -H "Authorization: Bearer $CONFLUX_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "gpt-6-luna", "messages": [{"role": "user", "content": "Hello!"}]}'`,
  };
  let current = 'Node';
  const code = h('code', null, snippets[current]);
  const tabs = Object.keys(snippets).map((name) => {
    const tab = h(
      'button',
      { type: 'button', class: 'tab', 'aria-pressed': name === current ? 'true' : 'false' },
      name,
    );
    tab.addEventListener('click', () => {
      current = name;
      code.textContent = snippets[name];
      tabs.forEach((t) => t.setAttribute('aria-pressed', t === tab ? 'true' : 'false'));
    });
    return tab;
  });
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'qs-title' },
    h(
      'div',
      { class: 'card-head' },
      h('h2', { id: 'qs-title' }, 'Quick start'),
      h('a', { href: '/docs', 'data-external': true }, 'API reference →'),
    ),
    h(
      'div',
      { class: 'base-url' },
      h('span', { class: 'muted' }, 'Base URL'),
      h('code', { 'data-testid': 'base-url' }, base),
      copyButton(() => base, 'Copy URL'),
    ),
    key
      ? h(
          'p',
          { class: 'muted small' },
          'Your key ',
          h('code', null, key.display),
          ` (${key.name}) goes in CONFLUX_API_KEY. The full key was shown once, when you created it.`,
        )
      : h(
          'p',
          { class: 'muted small' },
          'You have no key yet: ',
          h('a', { href: '/keys' }, 'create one'),
          ', then put it in CONFLUX_API_KEY.',
        ),
    h('div', { class: 'tabs', role: 'group', 'aria-label': 'Language' }, tabs),
    h(
      'div',
      { class: 'code' },
      h('pre', null, code),
      copyButton(() => code.textContent ?? '', 'Copy code'),
    ),
  );
}
