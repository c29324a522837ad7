import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export function Alert({ children }: { children: ComponentChildren }) {
  return (
    <p class="alert" role="alert">
      {children}
    </p>
  );
}

export function Note({ children }: { children: ComponentChildren }) {
  return (
    <p class="note" role="status">
      {children}
    </p>
  );
}

/** A page's loading and error states, then its content once the data is there. */
export function Loaded<T>(props: {
  data: T | undefined;
  error: string | undefined;
  children: (data: T) => ComponentChildren;
}) {
  if (props.error !== undefined && props.data === undefined) return <Alert>{props.error}</Alert>;
  if (props.data === undefined) return <p aria-busy="true">Loading…</p>;
  return <>{props.children(props.data)}</>;
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value}`}>{value}</span>;
}

export const when = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—';

/**
 * A row of bars, one per delivery, oldest first: full height green for a success, red for a
 * failure, grey for one not finished. Hand-drawn SVG: a chart library would cost more bytes than
 * the whole portal for this one figure.
 */
export function Sparkline({ outcomes, label }: { outcomes: string[]; label: string }) {
  const w = 4;
  const width = Math.max(outcomes.length * w, w);
  return (
    <svg
      class="sparkline"
      width={width}
      height={16}
      viewBox={`0 0 ${width} 16`}
      role="img"
      aria-label={label}
    >
      {outcomes.map((o, i) => (
        <rect
          key={i}
          x={i * w}
          y={o === 'succeeded' ? 0 : o === 'failed' ? 4 : 10}
          width={w - 1}
          height={o === 'succeeded' ? 16 : o === 'failed' ? 12 : 6}
          class={`spark-${o}`}
        />
      ))}
    </svg>
  );
}

/** A secret shown this once, with a button that copies it. */
export function SecretOnce({ label, secret }: { label: string; secret: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = () => {
    navigator.clipboard.writeText(secret).then(
      () => setCopied('Copied.'),
      () => setCopied('Could not copy: select the text and copy it.'),
    );
  };
  return (
    <section class="secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{label}</h2>
      <p>It is shown this once: keep it now.</p>
      <code data-testid="secret">{secret}</code>{' '}
      <button type="button" onClick={copy}>
        Copy
      </button>
      {copied !== null && <span role="status"> {copied}</span>}
    </section>
  );
}

/** A destructive action asked twice: the button, then a confirmation in place. */
export function Confirm(props: { label: string; question: string; onConfirm: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      {props.question}{' '}
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        Yes, {props.label.toLowerCase()}
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {typeof value === 'string' ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}
