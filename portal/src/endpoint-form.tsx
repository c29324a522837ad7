import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, type EventType } from './api';
import { useResource } from './resource';
import { Alert } from './ui';

export interface EndpointFields {
  url: string;
  description: string;
  /** null: every event type */
  eventTypes: string[] | null;
}

/** URL, description and event types (from the catalog): what creating and editing share. */
export function EndpointForm(props: {
  initial: EndpointFields;
  submitLabel: string;
  error: string | null;
  busy: boolean;
  extra?: ComponentChildren;
  onSubmit: (fields: EndpointFields) => void;
}) {
  const catalog = useResource(() => api.GET('/api/event-types'), []);
  const [url, setUrl] = useState(props.initial.url);
  const [description, setDescription] = useState(props.initial.description);
  const [types, setTypes] = useState<string[] | null>(props.initial.eventTypes);
  const toggle = (t: string, on: boolean) => {
    const all = catalog.data?.data.map((e: EventType) => e.type) ?? [];
    const current = types ?? all;
    const next = on ? [...current, t] : current.filter((x) => x !== t);
    setTypes(next.length === all.length ? null : next);
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit({ url: url.trim(), description: description.trim(), eventTypes: types });
      }}
    >
      <label for="endpoint-url">URL</label>
      <input
        id="endpoint-url"
        type="url"
        required
        placeholder="https://example.com/webhooks"
        value={url}
        onInput={(e) => setUrl(e.currentTarget.value)}
      />
      <label for="endpoint-description">Description</label>
      <input
        id="endpoint-description"
        value={description}
        onInput={(e) => setDescription(e.currentTarget.value)}
      />
      <fieldset>
        <legend>Event types (all when every one is ticked)</legend>
        {catalog.data?.data.map((e) => (
          <label key={e.type} class="check">
            <input
              type="checkbox"
              checked={types === null || types.includes(e.type)}
              onChange={(ev) => toggle(e.type, ev.currentTarget.checked)}
            />{' '}
            {e.type}
          </label>
        ))}
        {catalog.error !== undefined && <Alert>{catalog.error}</Alert>}
      </fieldset>
      {props.extra}
      <button type="submit" disabled={props.busy}>
        {props.submitLabel}
      </button>
      {props.error !== null && <Alert>{props.error}</Alert>}
    </form>
  );
}
