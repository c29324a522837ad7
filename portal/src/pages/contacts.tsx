import { useState } from 'preact/hooks';
import { api } from '../api';
import { LocationPicker } from '../location-picker';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { Badge, Loaded } from '../ui';

/** The contacts of a location, searched by name, email, phone or id. */
export function Contacts() {
  const [loc, setLoc] = useState<number | null>(null);
  const [q, setQ] = useState('');
  const contacts = useResource(
    () =>
      loc === null
        ? Promise.resolve({ data: undefined, error: undefined, response: new Response() })
        : api.GET('/api/locations/{locationId}/contacts', {
            params: { path: { locationId: loc }, query: { limit: 500 } },
          }),
    [loc],
  );
  const needle = q.trim().toLowerCase();
  return (
    <>
      <h1>Contacts</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <LocationPicker value={loc} onChange={setLoc} />
        <label>
          Search <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </form>
      {loc !== null && (
        <Loaded data={contacts.data} error={contacts.error}>
          {(page) => {
            const rows = page.data.filter(
              (c) =>
                needle === '' ||
                [String(c.contactId), c.firstName, c.lastName, c.email, c.phone]
                  .filter((x): x is string => typeof x === 'string')
                  .some((x) => x.toLowerCase().includes(needle)),
            );
            return rows.length === 0 ? (
              <p>No contact matches.</p>
            ) : (
              <div class="scroll">
                <table>
                  <caption class="visually-hidden">Contacts</caption>
                  <thead>
                    <tr>
                      <th scope="col">Contact</th>
                      <th scope="col">Email</th>
                      <th scope="col">Group</th>
                      <th scope="col">Active</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((c) => (
                      <tr key={c.contactId}>
                        <td>
                          <a href={`${BASE}/contacts/${c.contactId}`}>
                            {[c.firstName, c.lastName].filter(Boolean).join(' ') || `#${c.contactId}`}
                          </a>
                        </td>
                        <td>{c.email ?? '—'}</td>
                        <td>{c.contactGroupId}</td>
                        <td>
                          <Badge value={c.isActive ? 'active' : 'inactive'} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          }}
        </Loaded>
      )}
    </>
  );
}
