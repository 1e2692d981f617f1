const numberFormat = new Intl.NumberFormat('en-US');

/** Credits as the API sends them (an exact decimal string), shortened for reading. */
export function credits(value: string | number, digits = 2): string {
  const n = Number(value);
  if (!Number.isFinite(n)) {
    return String(value);
  }
  if (n !== 0 && Math.abs(n) < 0.01) {
    return n.toPrecision(2);
  }
  return n.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

export function integer(n: number): string {
  return numberFormat.format(n);
}

/** 1050000 → "1.05M", 131072 → "131K". */
export function tokens(n: number): string {
  if (n >= 1_000_000) {
    return `${+(n / 1_000_000).toFixed(2)}M`;
  }
  if (n >= 1_000) {
    return `${Math.round(n / 1_000)}K`;
  }
  return String(n);
}

export function date(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  return new Date(iso).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric' });
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  return new Date(iso).toLocaleString('en-US', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "just now", "5 min ago", "3 h ago", or the date. */
export function ago(iso: string | null | undefined): string {
  if (!iso) {
    return 'never';
  }
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) {
    return 'just now';
  }
  if (seconds < 3600) {
    return `${Math.round(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.round(seconds / 3600)} h ago`;
  }
  return date(iso);
}

export function daysUntil(iso: string): number {
  return Math.max(0, Math.ceil((new Date(iso).getTime() - Date.now()) / 86_400_000));
}

export const PROVIDER_NAMES: Record<string, string> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  gemini: 'Google Gemini',
  cerebras: 'Cerebras',
  groq: 'Groq',
  google: 'Google',
  qwen: 'Qwen',
  meta: 'Meta',
};

export function providerName(id: string | null | undefined): string {
  return id ? (PROVIDER_NAMES[id] ?? id) : '—';
}
