import {
  ApiError,
  request,
  stream,
  type Credits,
  type Key,
  type Page,
  type UsageEvent,
  type UsageGroup,
} from '../api.js';
import { UsageChart } from '../chart.js';
import { empty, errorBox, fill, h, loading, stackTables } from '../dom.js';
import { ago, credits as fmtCredits, date, daysUntil, integer, providerName } from '../format.js';
import { quickStart } from './quickstart.js';

/** How often the balance is read again when no live stream tells the page that something changed. */
const POLL_MS = 3_000;
const LATEST = 10;

export function overviewPage(root: HTMLElement): () => void {
  const abort = new AbortController();
  const cards = h('div', { class: 'cards' }, loading('Loading your balance…'));
  const chart = new UsageChart();
  const chartNote = h('p', { class: 'muted small', 'data-testid': 'chart-note' });
  const chartTotal = h('span', { class: 'chart-total', 'data-testid': 'chart-total' });
  const live = h('span', { class: 'live-badge off', 'data-testid': 'live-status' }, 'Connecting…');
  const latestBody = h('div', { 'data-testid': 'latest' }, loading('Loading the latest requests…'));
  const modelsBox = h('div');
  const quick = h('div', null, loading());
  let latest: UsageEvent[] = [];
  let usageAvailable = true;
  /** Whether the live usage stream is connected; without it, the graph moves with the balance's readings. */
  let streaming = false;
  let baseline: { used: number; requests: number } | null = null;
  let historyProblem: string | null = null;
  let streamMissing = false;
  const explain = () => {
    const polled = `moves with your balance, read every ${POLL_MS / 1000} s`;
    if (historyProblem !== null && historyProblem !== 'missing') {
      chartNote.textContent = `Could not load usage history: ${historyProblem}`;
    } else if (historyProblem === 'missing' && streamMissing) {
      chartNote.textContent = `Usage history and the live stream (GET /v1/usage, /v1/usage/stream) are not on this gateway yet: the graph starts now and ${polled}.`;
    } else if (historyProblem === 'missing') {
      chartNote.textContent =
        'Usage history (GET /v1/usage) is not on this gateway yet: the graph starts now.';
    } else if (streamMissing) {
      chartNote.textContent = `The live usage stream (GET /v1/usage/stream) is not on this gateway yet: the graph ${polled}.`;
    }
  };

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Overview'), live),
    cards,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', null, 'Last 24 hours'), chartTotal),
      chart.element,
      chartNote,
    ),
    h(
      'div',
      { class: 'grid-2' },
      h(
        'section',
        { class: 'card' },
        h(
          'div',
          { class: 'card-head' },
          h('h2', null, 'Latest requests'),
          h('a', { href: '/usage' }, 'All usage →'),
        ),
        latestBody,
      ),
      h('section', { class: 'card' }, h('h2', null, 'Spend by model this period'), modelsBox),
    ),
    quick,
  );

  const showTotals = () => {
    const totals = chart.totals();
    chartTotal.textContent = `${integer(totals.requests)} requests · ${fmtCredits(totals.credits, 4)} credits`;
  };
  showTotals();

  const renderLatest = () => {
    if (!usageAvailable && latest.length === 0) {
      fill(
        latestBody,
        empty('Request history is not available yet', 'This gateway does not serve GET /v1/usage yet.'),
      );
      return;
    }
    if (latest.length === 0) {
      fill(
        latestBody,
        empty('No requests yet', 'Create a key and make your first call: see Quick start below.'),
      );
      return;
    }
    fill(
      latestBody,
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
              h('th', null, 'When'),
              h('th', null, 'Model'),
              h('th', { class: 'num' }, 'Tokens'),
              h('th', { class: 'num' }, 'Credits'),
              h('th', null, 'Status'),
            ),
          ),
          h(
            'tbody',
            null,
            latest.map((event) =>
              h(
                'tr',
                null,
                h('td', { class: 'nowrap' }, ago(event.created_at)),
                h(
                  'td',
                  null,
                  h('code', null, event.model_served ?? event.model_requested),
                  h('div', { class: 'muted small' }, providerName(event.provider)),
                ),
                h('td', { class: 'num' }, integer(event.total_tokens)),
                h('td', { class: 'num' }, fmtCredits(event.credits, 5)),
                h('td', null, statusPill(event)),
              ),
            ),
          ),
        ),
      ),
    );
    stackTables(latestBody);
  };

  const renderCredits = (c: Credits) => {
    const included = Number(c.included);
    const used = Number(c.used);
    const percent = included > 0 ? Math.min(100, (used / included) * 100) : 0;
    const requests = c.by_model.reduce((sum, m) => sum + m.requests, 0);
    if (baseline && !streaming && (requests > baseline.requests || used > baseline.used)) {
      // No stream: what was spent since the last reading goes to the current hour.
      chart.add(
        new Date().toISOString(),
        Math.max(0, requests - baseline.requests),
        Math.max(0, used - baseline.used),
      );
      showTotals();
    }
    baseline = { used, requests };
    fill(
      cards,
      stat(
        'Balance',
        h('span', { 'data-testid': 'balance' }, fmtCredits(c.balance, 4)),
        'credits left this period',
      ),
      stat(
        'Plan',
        h('span', { class: 'cap' }, c.plan),
        `${fmtCredits(c.included, 0)} credits included`,
        h('a', { href: '/billing' }, 'Change plan'),
      ),
      stat(
        'Billing period',
        `${daysUntil(c.period.end)} days left`,
        `${date(c.period.start)} – ${date(c.period.end)}`,
      ),
      stat(
        'Used this period',
        fmtCredits(c.used),
        Number(c.overage) > 0
          ? `${fmtCredits(c.overage)} overage`
          : `${percent.toFixed(percent < 1 && percent > 0 ? 2 : 0)} % of included`,
        meter(percent),
      ),
    );
    if (c.by_model.length === 0) {
      fill(modelsBox, empty('Nothing spent yet', 'Live-key requests show here by model.'));
    } else {
      fill(
        modelsBox,
        h(
          'ul',
          { class: 'bars' },
          [...c.by_model]
            .sort((a, b) => Number(b.credits) - Number(a.credits))
            .map((m) =>
              h(
                'li',
                null,
                h('code', null, m.model),
                h('span', { class: 'muted' }, `${integer(m.requests)} req`),
                h('strong', null, fmtCredits(m.credits, 5)),
              ),
            ),
        ),
      );
    }
  };

  const loadCredits = () =>
    request<Credits>('GET', '/v1/credits').then(renderCredits, (error: Error) => {
      if (!abort.signal.aborted) {
        fill(cards, errorBox('Could not load your balance', error.message));
      }
    });

  // History: the last 24 hours by hour, and the latest requests.
  const from = new Date(Date.now() - 23 * 3_600_000);
  from.setMinutes(0, 0, 0);
  request<Page<UsageGroup>>(
    'GET',
    `/v1/usage?group_by=hour&from=${encodeURIComponent(from.toISOString())}`,
  ).then(
    (page) => {
      for (const group of page.data) {
        if (group.hour) {
          chart.add(group.hour, group.requests, Number(group.credits), false);
        }
      }
      chart.redraw();
      showTotals();
    },
    (error: ApiError) => {
      usageAvailable = false;
      historyProblem = error.status === 404 ? 'missing' : error.message;
      explain();
    },
  );
  request<Page<UsageEvent>>('GET', `/v1/usage?limit=${LATEST}`).then(
    (page) => {
      const seen = new Set(latest.map((e) => e.id));
      latest = [...latest, ...page.data.filter((e) => !seen.has(e.id))].slice(0, LATEST);
      renderLatest();
    },
    (error: ApiError) => {
      usageAvailable = false;
      if (error.status !== 404) {
        fill(latestBody, errorBox('Could not load the latest requests', error.message));
      } else {
        renderLatest();
      }
    },
  );

  // Live: each usage event moves the graph, the list and the balance at once.
  let polling = 0;
  const startPolling = () => {
    if (!polling) {
      polling = window.setInterval(() => void loadCredits(), POLL_MS);
    }
  };
  const connect = () => {
    stream(
      '/v1/usage/stream',
      (event, data) => {
        if (event === 'ready') {
          streaming = true;
          live.textContent = 'Live';
          live.className = 'live-badge on';
        } else if (event === 'usage') {
          const usage = JSON.parse(data) as UsageEvent;
          chart.add(usage.created_at, 1, Number(usage.credits));
          showTotals();
          latest = [usage, ...latest.filter((e) => e.id !== usage.id)].slice(0, LATEST);
          renderLatest();
          void loadCredits();
        }
      },
      abort.signal,
    ).then(
      () => {
        streaming = false;
        if (!abort.signal.aborted) {
          live.textContent = 'Reconnecting…';
          live.className = 'live-badge off';
          window.setTimeout(connect, 2_000);
        }
      },
      (error: unknown) => {
        streaming = false;
        if (abort.signal.aborted) {
          return;
        }
        live.className = 'live-badge off';
        if (error instanceof ApiError && error.status === 404) {
          live.textContent = `Refreshes every ${POLL_MS / 1000} s`;
          live.title = 'The live usage stream (GET /v1/usage/stream) is not available on this gateway yet.';
          streamMissing = true;
          explain();
          startPolling();
        } else if (error instanceof ApiError && error.status === 401) {
          live.textContent = 'Offline';
        } else {
          live.textContent = 'Reconnecting…';
          window.setTimeout(connect, 3_000);
        }
      },
    );
  };
  void loadCredits();
  connect();
  // The balance also moves with requests still in flight (held credit): read it now and then even when live.
  const slow = window.setInterval(() => void loadCredits(), POLL_MS * 5);

  request<{ data: Key[] }>('GET', '/v1/keys').then(
    (keys) => fill(quick, quickStart(keys.data)),
    () => fill(quick, quickStart([])),
  );

  return () => {
    abort.abort();
    window.clearInterval(polling);
    window.clearInterval(slow);
    chart.destroy();
  };
}

function stat(label: string, value: Node | string, detail: string, extra?: Node): HTMLElement {
  return h(
    'div',
    { class: 'card stat' },
    h('div', { class: 'stat-label' }, label),
    h('div', { class: 'stat-value' }, value),
    h('div', { class: 'muted small' }, detail),
    extra ?? null,
  );
}

export function statusPill(event: UsageEvent): HTMLElement {
  const ok = event.status === 'ok';
  return h(
    'span',
    { class: `pill ${ok ? 'ok' : 'bad'}`, title: event.error_code ?? '' },
    ok ? String(event.http_status || 200) : (event.error_code ?? String(event.http_status)),
  );
}

/** A bar filled to `percent` (set through the CSSOM: the CSP allows no inline style attribute). */
export function meter(percent: number): HTMLElement {
  const fillBar = h('span', { class: 'meter-fill' });
  fillBar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h('div', { class: 'meter', role: 'presentation' }, fillBar);
}
