import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { LocationPicker } from '../location-picker';
import { BASE } from '../paths';
import { useResource } from '../resource';
import { Badge, Loaded } from '../ui';

/** Contacts shown per page. */
export const CONTACTS_PAGE = 20;

/**
 * The contacts of a location, searched by name, email or phone by the API (`?search=`), a page at a
 * time with the API's cursor: Next follows `nextCursor`, Previous goes back to the cursor before.
 */
export function Contacts() {
  const [loc, setLoc] = useState<number | null>(null);
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  // the cursors of the pages before this one, and this one's (undefined: the first page)
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors.at(-1);
  // the search is asked for once typing pauses, and starts again from the first page; only a search
  // that changed does (the page shown stays when nothing was typed, or the text typed came back)
  useEffect(() => {
    const term = q.trim();
    if (term === search) return;
    const timer = setTimeout(() => {
      setSearch(term);
      setCursors([]);
    }, 250);
    return () => clearTimeout(timer);
  }, [q, search]);
  const contacts = useResource(
    () =>
      loc === null
        ? Promise.resolve({ data: undefined, error: undefined, response: new Response() })
        : api.GET('/api/locations/{locationId}/contacts', {
            params: {
              path: { locationId: loc },
              query: {
                limit: CONTACTS_PAGE,
                ...(search !== '' ? { search } : {}),
                ...(after !== undefined ? { after: Number(after) } : {}),
              },
            },
          }),
    [loc, search, after],
  );
  return (
    <>
      <h1>Contacts</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <LocationPicker
          value={loc}
          onChange={(id) => {
            setLoc(id);
            setCursors([]);
          }}
        />
        <label>
          Search <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
      </form>
      {loc !== null && (
        <Loaded data={contacts.data} error={contacts.error}>
          {(page) => (
            <>
              {page.data.length === 0 ? (
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
                      {page.data.map((c) => (
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
              )}
              <nav class="pager" aria-label="Contact pages">
                <button
                  type="button"
                  disabled={cursors.length === 0}
                  onClick={() => setCursors((c) => c.slice(0, -1))}
                >
                  Previous page
                </button>{' '}
                <span>Page {cursors.length + 1}</span>{' '}
                <button
                  type="button"
                  disabled={page.nextCursor === null}
                  onClick={() => {
                    const next = page.nextCursor;
                    if (next !== null) setCursors((c) => [...c, next]);
                  }}
                >
                  Next page
                </button>
              </nav>
            </>
          )}
        </Loaded>
      )}
    </>
  );
}
