import {
  ApiError,
  download,
  request,
  type Key,
  type Model,
  type Page,
  type UsageEvent,
  type UsageGroup,
} from '../api.js';
import { empty, errorBox, field, fill, h, loading, stackTables } from '../dom.js';
import { credits as fmtCredits, dateTime, integer, providerName } from '../format.js';
import { statusPill } from './overview.js';

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function usagePage(root: HTMLElement): () => void {
  const today = new Date();
  const monthAgo = new Date(Date.now() - 29 * 86_400_000);
  const from = h('input', { type: 'date', name: 'from', value: isoDay(monthAgo) });
  const to = h('input', { type: 'date', name: 'to', value: isoDay(today) });
  const key = h('select', { name: 'key_id' }, h('option', { value: '' }, 'All keys'));
  const model = h('select', { name: 'model' }, h('option', { value: '' }, 'All models'));
  const apply = h('button', { type: 'submit', class: 'primary' }, 'Apply filters');
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export CSV');
  const filters = h(
    'form',
    { class: 'row-form filters', 'aria-label': 'Usage filters' },
    field('From', from),
    field('To', to),
    field('Key', key),
    field('Model', model),
    h('div', { class: 'field submit' }, apply),
    h('div', { class: 'field submit' }, exportButton),
  );
  const message = h('div', { 'aria-live': 'polite' });
  const totals = h('div', null, loading());
  const table = h('div', { 'data-testid': 'usage-table' }, loading('Loading usage…'));
  const more = h('div', { class: 'center' });
  const keyNames = new Map<string, string>();

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Usage')),
    h('section', { class: 'card' }, filters, message),
    h('section', { class: 'card' }, h('h2', null, 'Totals per key'), totals),
    h('section', { class: 'card' }, h('h2', null, 'Requests'), table, more),
  );

  const query = (extra: Record<string, string> = {}) => {
    const params = new URLSearchParams();
    if (from.value) {
      params.set('from', new Date(`${from.value}T00:00:00`).toISOString());
    }
    if (to.value) {
      params.set('to', new Date(new Date(`${to.value}T00:00:00`).getTime() + 86_400_000).toISOString());
    }
    if (key.value) {
      params.set('key_id', key.value);
    }
    if (model.value) {
      params.set('model', model.value);
    }
    for (const [name, value] of Object.entries(extra)) {
      params.set(name, value);
    }
    return `/v1/usage?${params.toString()}`;
  };

  const keyName = (id: string | null) => (id ? (keyNames.get(id) ?? id) : '—');

  const unavailable = (error: Error, into: HTMLElement, what: string) => {
    if (error instanceof ApiError && error.status === 404) {
      fill(
        into,
        empty(
          'Usage history is not available yet',
          'This gateway does not serve GET /v1/usage yet: the balance and spend by model are on the Overview and Billing pages.',
        ),
      );
    } else {
      fill(into, errorBox(`Could not load ${what}`, error.message));
    }
  };

  let rows: UsageEvent[] = [];
  const renderRows = (page: Page<UsageEvent>) => {
    if (rows.length === 0) {
      fill(
        table,
        empty('No requests in this range', 'Change the filters, or make a request with one of your keys.'),
      );
      fill(more);
      return;
    }
    fill(
      table,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          null,
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Time'),
              h('th', null, 'Key'),
              h('th', null, 'Model'),
              h('th', null, 'Provider'),
              h('th', { class: 'num' }, 'In'),
              h('th', { class: 'num' }, 'Out'),
              h('th', { class: 'num' }, 'Credits'),
              h('th', { class: 'num' }, 'Latency'),
              h('th', null, 'Status'),
            ),
          ),
          h(
            'tbody',
            null,
            rows.map((e) =>
              h(
                'tr',
                null,
                h('td', { class: 'nowrap' }, dateTime(e.created_at)),
                h('td', null, keyName(e.key_id)),
                h('td', null, h('code', null, e.model_served ?? e.model_requested)),
                h('td', null, providerName(e.provider)),
                h('td', { class: 'num' }, integer(e.prompt_tokens)),
                h('td', { class: 'num' }, integer(e.completion_tokens)),
                h('td', { class: 'num' }, fmtCredits(e.credits, 5)),
                h('td', { class: 'num' }, `${integer(e.latency_ms)} ms`),
                h('td', null, statusPill(e)),
              ),
            ),
          ),
        ),
      ),
    );
    stackTables(table);
    fill(
      more,
      page.has_more && page.next_cursor
        ? h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => void loadEvents(page.next_cursor ?? undefined),
            },
            'Load more',
          )
        : null,
    );
  };

  const loadEvents = (cursor?: string) => {
    if (!cursor) {
      rows = [];
      fill(table, loading('Loading usage…'));
    }
    return request<Page<UsageEvent>>('GET', query({ limit: '50', ...(cursor ? { cursor } : {}) })).then(
      (page) => {
        rows = [...rows, ...page.data];
        renderRows(page);
      },
      (error: Error) => unavailable(error, table, 'usage'),
    );
  };

  const loadTotals = () => {
    fill(totals, loading());
    return request<Page<UsageGroup>>('GET', query({ group_by: 'key' })).then(
      (page) => {
        if (page.data.length === 0) {
          fill(totals, empty('No usage in this range'));
          return;
        }
        fill(
          totals,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { 'data-testid': 'key-totals' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  h('th', null, 'Key'),
                  h('th', { class: 'num' }, 'Requests'),
                  h('th', { class: 'num' }, 'Errors'),
                  h('th', { class: 'num' }, 'Tokens'),
                  h('th', { class: 'num' }, 'Credits'),
                ),
              ),
              h(
                'tbody',
                null,
                page.data.map((g) =>
                  h(
                    'tr',
                    null,
                    h('td', null, keyName(g.key_id ?? null)),
                    h('td', { class: 'num' }, integer(g.requests)),
                    h('td', { class: 'num' }, integer(g.errors)),
                    h('td', { class: 'num' }, integer(g.total_tokens)),
                    h('td', { class: 'num' }, fmtCredits(g.credits, 5)),
                  ),
                ),
              ),
            ),
          ),
        );
        stackTables(totals);
      },
      (error: Error) => unavailable(error, totals, 'totals'),
    );
  };

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    fill(message);
    if (from.value && to.value && from.value > to.value) {
      fill(message, errorBox('“From” is after “To”.'));
      return;
    }
    void loadEvents();
    void loadTotals();
  });
  exportButton.addEventListener('click', () => {
    exportButton.disabled = true;
    download(
      query({ format: 'csv' }),
      `conflux-usage-${from.value || 'start'}-${to.value || 'now'}.csv`,
    ).then(
      () => (exportButton.disabled = false),
      (error: Error) => {
        exportButton.disabled = false;
        fill(
          message,
          error instanceof ApiError && error.status === 404
            ? errorBox('CSV export is not available on this gateway yet.')
            : errorBox('Export failed', error.message),
        );
      },
    );
  });

  Promise.all([
    request<{ data: Key[] }>('GET', '/v1/keys').then(
      (answer) => answer.data,
      () => [] as Key[],
    ),
    fetch('/dashboard/models.json').then(
      (r) => (r.ok ? (r.json() as Promise<{ data: Model[] }>) : { data: [] as Model[] }),
      () => ({ data: [] as Model[] }),
    ),
  ]).then(
    ([keys, models]) => {
      for (const k of keys) {
        keyNames.set(k.id, `${k.name} (${k.display})`);
        key.append(
          h('option', { value: k.id }, `${k.name} — ${k.display}${k.revoked_at ? ' (revoked)' : ''}`),
        );
      }
      for (const m of models.data) {
        model.append(h('option', { value: m.id }, m.id));
      }
      void loadEvents();
      void loadTotals();
    },
    () => undefined,
  );

  return () => undefined;
}
