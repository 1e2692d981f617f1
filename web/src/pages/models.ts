import type { Model } from '../api.js';
import { empty, errorBox, field, fill, h, loading } from '../dom.js';
import { credits as fmtCredits, providerName, tokens } from '../format.js';

/** Public: the catalog, as `GET /v1/models` describes it (the same DTOs, served without a key). */
export function modelsPage(root: HTMLElement): () => void {
  const search = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'gpt, claude, gemini, groq…',
    autocomplete: 'off',
  });
  const provider = h('select', { name: 'provider' }, h('option', { value: '' }, 'All providers'));
  const count = h('span', { class: 'muted', 'data-testid': 'model-count' });
  const list = h('div', null, loading('Loading the models…'));
  let models: Model[] = [];
  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Models'), count),
    h(
      'p',
      { class: 'muted lead' },
      'Every model answers at the same OpenAI-compatible endpoint. Prices are in credits per million tokens (1 credit = $0.01); when a provider is down, the gateway fails over to the next provider, then to the fallback model.',
    ),
    h('div', { class: 'row-form filters' }, field('Search models', search), field('Provider', provider)),
    list,
  );

  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = models.filter(
      (m) =>
        (!q ||
          m.id.toLowerCase().includes(q) ||
          m.owned_by.includes(q) ||
          m.providers.some((p) => providerName(p).toLowerCase().includes(q))) &&
        (!provider.value || m.providers.includes(provider.value)),
    );
    count.textContent = `${shown.length} of ${models.length} models`;
    if (shown.length === 0) {
      fill(list, empty('No model matches', 'Try another name or provider.'));
      return;
    }
    fill(
      list,
      h(
        'div',
        { class: 'table-wrap card flush' },
        h(
          'table',
          { class: 'models stacked', 'data-testid': 'models-table' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Model'),
              h('th', null, 'Providers'),
              h('th', { class: 'num' }, 'Context'),
              h('th', { class: 'num' }, 'Input / 1M'),
              h('th', { class: 'num' }, 'Output / 1M'),
              h('th', null, 'Capabilities'),
              h('th', null, 'Fallback'),
            ),
          ),
          h(
            'tbody',
            null,
            shown.map((m) =>
              h(
                'tr',
                { 'data-model': m.id },
                h(
                  'td',
                  { 'data-label': 'Model' },
                  h('code', { class: 'model-id' }, m.id),
                  h(
                    'div',
                    { class: 'muted small' },
                    `by ${providerName(m.owned_by)} · max output ${tokens(m.max_output_tokens)}`,
                  ),
                ),
                h(
                  'td',
                  { 'data-label': 'Providers' },
                  m.providers.map((p, i) =>
                    h(
                      'span',
                      { class: `chip provider ${p}`, title: i === 0 ? 'Tried first' : 'Failover' },
                      providerName(p),
                    ),
                  ),
                ),
                h('td', { class: 'num', 'data-label': 'Context' }, tokens(m.context_window)),
                h(
                  'td',
                  { class: 'num price', 'data-label': 'Input / 1M' },
                  `${fmtCredits(m.pricing.input_credits_per_million_tokens)} cr`,
                ),
                h(
                  'td',
                  { class: 'num price', 'data-label': 'Output / 1M' },
                  `${fmtCredits(m.pricing.output_credits_per_million_tokens)} cr`,
                ),
                h(
                  'td',
                  { 'data-label': 'Capabilities' },
                  capability('Tools', m.capabilities.tools),
                  capability('Images', m.capabilities.images),
                  capability('JSON schema', m.capabilities.json_schema),
                  capability('Streaming', true),
                ),
                h(
                  'td',
                  { 'data-label': 'Fallback' },
                  m.fallback ? h('code', null, m.fallback) : h('span', { class: 'muted' }, 'none'),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  };

  search.addEventListener('input', render);
  provider.addEventListener('change', render);
  fetch('/dashboard/models.json')
    .then((response) => {
      if (!response.ok) {
        throw new Error(`${response.status} ${response.statusText}`);
      }
      return response.json() as Promise<{ data: Model[] }>;
    })
    .then(
      (answer) => {
        models = answer.data;
        for (const id of [...new Set(models.flatMap((m) => m.providers))]) {
          provider.append(h('option', { value: id }, providerName(id)));
        }
        render();
      },
      (error: Error) => fill(list, errorBox('Could not load the models', error.message)),
    );
  return () => undefined;
}

function capability(name: string, on: boolean): HTMLElement | null {
  return on ? h('span', { class: 'chip cap-chip' }, name) : null;
}
