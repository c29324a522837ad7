import { api } from '../api';
import { useResource } from '../resource';
import { Json, Loaded } from '../ui';

/**
 * Every event type on offer, with its description, JSON Schema and an example payload, and which
 * types fire together (the companion rules, as the API publishes them from the coalescer's own).
 */
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
                <p data-testid={`fires-with-${e.type}`}>
                  Fires together with:{' '}
                  {e.firesWith.length === 0
                    ? 'no other type'
                    : e.firesWith.map((t, i) => (
                        <span key={t}>
                          {i > 0 && ', '}
                          <a href={`#type-${t}`}>
                            <code>{t}</code>
                          </a>
                        </span>
                      ))}
                </p>
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
            <section aria-labelledby="companions-heading">
              <h2 id="companions-heading">Companion rules: what one change sends</h2>
              <div class="scroll">
                <table>
                  <caption class="visually-hidden">The events one coalescing window sends, by change</caption>
                  <thead>
                    <tr>
                      <th scope="col">A contact, within one window</th>
                      <th scope="col">Events, in delivery order</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.companionRules.map((r) => (
                      <tr key={r.change}>
                        <td>{r.change}</td>
                        <td>
                          {r.events.length === 0 ? (
                            <span class="muted">nothing</span>
                          ) : (
                            r.events.map((t, i) => (
                              <span key={t}>
                                {i > 0 && ' → '}
                                <code>{t}</code>
                              </span>
                            ))
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          </>
        )}
      </Loaded>
    </>
  );
}
