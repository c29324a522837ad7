import { api } from '../api';
import { useResource } from '../resource';
import { Json, Loaded } from '../ui';

/** Every event type on offer, with its description, JSON Schema and an example payload. */
export function Catalog() {
  const catalog = useResource(() => api.GET('/api/event-types'), []);
  return (
    <>
      <h1>Event catalog</h1>
      <p>
        One change to a contact can fire several events (a coalescing window): they are delivered with the
        same <code>x-fpt-window-id</code> header, so a receiver can handle them together.
      </p>
      <Loaded data={catalog.data} error={catalog.error}>
        {(c) => (
          <>
            {c.data.map((e) => (
              <article key={e.type} class="event-type" aria-labelledby={`type-${e.type}`}>
                <h2 id={`type-${e.type}`}>{e.type}</h2>
                <p>{e.description}</p>
                <details>
                  <summary>JSON Schema</summary>
                  <Json label={`JSON Schema of ${e.type}`} value={e.schema} />
                </details>
                <details>
                  <summary>Example payload</summary>
                  <Json label={`Example payload of ${e.type}`} value={e.example} />
                </details>
              </article>
            ))}
          </>
        )}
      </Loaded>
    </>
  );
}
