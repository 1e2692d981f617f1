import { request, type Status } from '../api.js';
import { errorBox, fill, h, loading, stackTables } from '../dom.js';
import { ago, providerName } from '../format.js';

const LABELS: Record<string, string> = {
  healthy: 'Operational',
  degraded: 'Degraded',
  down: 'Down',
  unknown: 'Not checked yet',
  disabled: 'Not configured',
};

/** Public: provider and model health from `GET /v1/status`, read again every 30 s. */
export function statusPage(root: HTMLElement): () => void {
  const body = h('div', null, loading('Checking the providers…'));
  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Status')), body);
  const load = () =>
    request<Status>('GET', '/v1/status').then(
      (status) => {
        fill(
          body,
          h(
            'div',
            { class: `banner ${status.status}`, role: 'status' },
            dot(status.status),
            status.status === 'healthy'
              ? 'All systems operational'
              : status.status === 'degraded'
                ? 'Some models are degraded'
                : 'Major outage',
          ),
          h(
            'section',
            { class: 'card' },
            h('h2', null, 'Providers'),
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
                    h('th', null, 'Provider'),
                    h('th', null, 'State'),
                    h('th', { class: 'num' }, 'Latency'),
                    h('th', { class: 'num' }, 'Uptime 24 h'),
                    h('th', null, 'Last check'),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  status.providers.map((p) =>
                    h(
                      'tr',
                      null,
                      h('td', null, h('strong', null, providerName(p.id))),
                      h(
                        'td',
                        null,
                        dot(p.state),
                        LABELS[p.state] ?? p.state,
                        p.reason ? h('span', { class: 'muted small' }, ` (${p.reason})`) : null,
                      ),
                      h('td', { class: 'num' }, p.latency_ms === null ? '—' : `${p.latency_ms} ms`),
                      h('td', { class: 'num' }, p.uptime_24h === null ? '—' : `${p.uptime_24h.toFixed(2)} %`),
                      h('td', null, ago(p.last_checked_at)),
                    ),
                  ),
                ),
              ),
            ),
          ),
          h(
            'section',
            { class: 'card' },
            h('h2', null, 'Models'),
            h(
              'ul',
              { class: 'model-status' },
              status.models.map((m) =>
                h(
                  'li',
                  null,
                  dot(m.state),
                  h('code', null, m.id),
                  h(
                    'span',
                    { class: 'muted small' },
                    m.providers
                      .map((p) => `${providerName(p.provider)}: ${LABELS[p.state] ?? p.state}`)
                      .join(' · '),
                  ),
                ),
              ),
            ),
          ),
          h(
            'p',
            { class: 'muted small' },
            `Updated ${new Date().toLocaleTimeString('en-US')} · refreshes every 30 s`,
          ),
        );
        stackTables(body);
      },
      (error: Error) => fill(body, errorBox('Could not read the status', error.message)),
    );
  void load();
  const timer = window.setInterval(() => void load(), 30_000);
  return () => window.clearInterval(timer);
}

function dot(state: string): HTMLElement {
  return h('span', { class: `dot ${state}`, 'aria-hidden': 'true' });
}
