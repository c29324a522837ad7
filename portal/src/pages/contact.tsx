import { api } from '../api';
import { useResource } from '../resource';
import { Loaded, when } from '../ui';

const show = (v: unknown): string =>
  v === null || v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v);

/** A contact and every step of its history: who changed what, from which source, before → after. */
export function ContactPage({ id }: { id: string }) {
  const contactId = Number(id);
  const contact = useResource(
    () => api.GET('/api/contacts/{contactId}', { params: { path: { contactId } } }),
    [id],
  );
  const history = useResource(
    () =>
      api.GET('/api/contacts/{contactId}/history', {
        params: { path: { contactId }, query: { limit: 1000 } },
      }),
    [id],
  );
  return (
    <>
      <Loaded data={contact.data} error={contact.error}>
        {(c) => (
          <h1>
            {[c.firstName, c.lastName].filter(Boolean).join(' ') || 'Contact'}{' '}
            <span class="muted">#{c.contactId}</span>
          </h1>
        )}
      </Loaded>
      <h2>Timeline</h2>
      <Loaded data={history.data} error={history.error}>
        {(h) => (
          <ol class="timeline">
            {h.data.map((step) => (
              <li key={step.seq}>
                <h3>
                  {step.operation}{' '}
                  <span class="muted">
                    by {step.actorType}
                    {step.actor !== null ? ` ${step.actor}` : ''} via {step.source}
                  </span>
                </h3>
                <p class="muted">{when(step.at)}</p>
                <ul>
                  {Object.entries(step.changes).map(([field, c]) => (
                    <li key={field}>
                      <code>{field}</code>: {show(c.from)} → {show(c.to)}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
        )}
      </Loaded>
    </>
  );
}
