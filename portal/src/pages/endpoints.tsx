import { api } from '../api';
import { useResource } from '../resource';
import { Badge, Loaded, Sparkline } from '../ui';
import { BASE } from '../paths';
import { ShareLink } from '../share-link';

/** The last deliveries of one endpoint as a sparkline (oldest first). */
function RecentDeliveries({ id }: { id: string }) {
  const r = useResource(
    () => api.GET('/api/subscriptions/{id}/deliveries', { params: { path: { id }, query: { limit: 30 } } }),
    [id],
  );
  if (r.data === undefined) return <span aria-busy={r.error === undefined}>{r.error ?? ''}</span>;
  const outcomes = r.data.data.map((d) => d.status).reverse();
  if (outcomes.length === 0) return <span class="muted">no deliveries yet</span>;
  const ok = outcomes.filter((o) => o === 'succeeded').length;
  return <Sparkline outcomes={outcomes} label={`last ${outcomes.length} deliveries: ${ok} succeeded`} />;
}

export function Endpoints() {
  const subs = useResource(() => api.GET('/api/subscriptions'), []);
  return (
    <>
      <h1>Endpoints</h1>
      <p>
        <a class="button" href={`${BASE}/endpoints/new`}>
          New endpoint
        </a>
      </p>
      <Loaded data={subs.data} error={subs.error}>
        {(list) =>
          list.data.length === 0 ? (
            <p>No endpoint yet.</p>
          ) : (
            <div class="scroll">
              <table>
                <caption class="visually-hidden">Your webhook endpoints</caption>
                <thead>
                  <tr>
                    <th scope="col">URL</th>
                    <th scope="col">Status</th>
                    <th scope="col">Events</th>
                    <th scope="col">App</th>
                    <th scope="col">Recent deliveries</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.map((s) => (
                    <tr key={s.id}>
                      <td>
                        <a href={`${BASE}/endpoints/${s.id}`}>{s.url}</a>
                        {s.description && <div class="muted">{s.description}</div>}
                      </td>
                      <td>
                        <Badge value={s.status} />
                      </td>
                      <td>{s.eventTypes === null ? 'all' : s.eventTypes.join(', ')}</td>
                      <td>{s.appId ?? '—'}</td>
                      <td>
                        <RecentDeliveries id={s.id} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      <ShareLink />
    </>
  );
}
