/** A small element builder: `h('button', { class: 'primary', onclick }, 'Save')`. */
export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export type Props = Record<string, string | number | boolean | Handler | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      element.addEventListener(name.replace(/^on/, ''), value);
    } else if (name === 'value' && 'value' in element) {
      (element as HTMLInputElement).value = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else if (child !== null && child !== undefined && child !== false) {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
}

/** Replaces what `parent` holds. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A grey, calm placeholder while something loads. */
export function loading(what = 'Loading…'): HTMLElement {
  return h(
    'p',
    { class: 'state loading', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    what,
  );
}

export function empty(title: string, detail?: Child): HTMLElement {
  return h('div', { class: 'state empty' }, h('strong', null, title), detail ? h('p', null, detail) : null);
}

export function errorBox(message: string, detail?: Child): HTMLElement {
  return h(
    'div',
    { class: 'state error', role: 'alert' },
    h('strong', null, message),
    detail ? h('p', null, detail) : null,
  );
}

export function notice(message: Child, kind: 'info' | 'warn' = 'info'): HTMLElement {
  return h('div', { class: `notice ${kind}`, role: 'status' }, message);
}

export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null,
  );
}

/** Copies text, and says so on the button for a moment. */
export function copyButton(text: () => string, label = 'Copy'): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'secondary small' }, label);
  button.addEventListener('click', () => {
    const done = (ok: boolean) => {
      button.textContent = ok ? 'Copied' : 'Select and copy';
      window.setTimeout(() => (button.textContent = label), 1500);
    };
    navigator.clipboard.writeText(text()).then(
      () => done(true),
      () => done(false),
    );
  });
  return button;
}

/**
 * A table that becomes one card per row on a phone: each cell gets its column's name (`data-label`, shown by the
 * narrow-screen CSS of `table.stacked`).
 */
export function stacked(table: HTMLTableElement): HTMLTableElement {
  const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, i) => {
      if (!(cell as HTMLElement).dataset.label) {
        (cell as HTMLElement).dataset.label = names[i] ?? '';
      }
    });
  }
  table.classList.add('stacked');
  return table;
}

/** Every table inside `root`, stacked on a phone. */
export function stackTables(root: Element): void {
  root.querySelectorAll('table').forEach((table) => stacked(table));
}
