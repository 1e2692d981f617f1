import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';

/** Requests (bars) and credits (line) per hour over the last 24 hours, updated in place as events arrive. */
export class UsageChart {
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly hours: number[] = [];
  private readonly requests: number[] = [];
  private readonly credits: number[] = [];
  private readonly observer: ResizeObserver;

  constructor() {
    const now = Math.floor(Date.now() / 3_600_000) * 3600;
    for (let i = 23; i >= 0; i--) {
      this.hours.push(now - i * 3600);
      this.requests.push(0);
      this.credits.push(0);
    }
    this.element = h('div', {
      class: 'chart',
      role: 'img',
      'aria-label': 'Requests and credits per hour, last 24 hours',
    });
    const styles = getComputedStyle(document.documentElement);
    const accent = styles.getPropertyValue('--accent').trim() || '#6d5efc';
    const second = styles.getPropertyValue('--accent-2').trim() || '#14b8a6';
    const grid = { stroke: 'rgba(127,127,127,0.15)', width: 1 };
    this.plot = new uPlot(
      {
        width: 600,
        height: 220,
        legend: { show: true },
        cursor: { points: { size: 6 } },
        scales: {
          // Half an hour of margin each side, so the first and last hours' bars are whole.
          x: { time: true, range: (_u, min, max) => [min - 1800, max + 1800] },
          req: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.2))] },
        },
        axes: [
          { grid, stroke: '#8b8fa3', ticks: { show: false } },
          { scale: 'req', grid, stroke: '#8b8fa3', ticks: { show: false }, size: 40 },
          {
            scale: 'cr',
            side: 1,
            grid: { show: false },
            stroke: '#8b8fa3',
            values: (_u, splits) => splits.map((v) => String(+v.toPrecision(2))),
            ticks: { show: false },
            size: 56,
          },
        ],
        series: [
          {},
          {
            label: 'Requests',
            scale: 'req',
            stroke: accent,
            fill: accent + '55',
            paths: uPlot.paths.bars?.({ size: [0.6, 40] }),
            points: { show: false },
          },
          {
            label: 'Credits',
            scale: 'cr',
            stroke: second,
            width: 2,
            points: { show: false },
            value: (_u, v) => (v === null ? '—' : v.toPrecision(3)),
          },
        ],
      },
      [this.hours, this.requests, this.credits],
      this.element,
    );
    this.observer = new ResizeObserver(() => {
      const width = Math.max(260, this.element.clientWidth);
      this.plot.setSize({ width, height: width < 500 ? 180 : 240 });
    });
    this.observer.observe(this.element);
  }

  /** Adds requests and credits to the hour of `at` (ignored when outside the 24 hours shown). */
  add(at: string, requests: number, credits: number, redraw = true): void {
    const hour = Math.floor(new Date(at).getTime() / 3_600_000) * 3600;
    let index = this.hours.indexOf(hour);
    if (index < 0 && hour > this.hours[this.hours.length - 1]) {
      // a new hour started since the page opened: slide the window
      while (this.hours[this.hours.length - 1] < hour) {
        this.hours.push(this.hours[this.hours.length - 1] + 3600);
        this.requests.push(0);
        this.credits.push(0);
        this.hours.shift();
        this.requests.shift();
        this.credits.shift();
      }
      index = this.hours.length - 1;
    }
    if (index < 0) {
      return;
    }
    this.requests[index] += requests;
    this.credits[index] += credits;
    if (redraw) {
      this.redraw();
    }
  }

  redraw(): void {
    this.plot.setData([this.hours, this.requests, this.credits]);
  }

  totals(): { requests: number; credits: number } {
    return {
      requests: this.requests.reduce((a, b) => a + b, 0),
      credits: this.credits.reduce((a, b) => a + b, 0),
    };
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
