import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { LocationPicker } from '../location-picker';
import { useResource } from '../resource';
import { Alert, Badge, Json, Loaded } from '../ui';

/** A location's automation rules, each with its trigger and action, enabled or disabled here. */
export function Automations() {
  const [loc, setLoc] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const rules = useResource(
    () =>
      loc === null
        ? Promise.resolve({ data: undefined, error: undefined, response: new Response() })
        : api.GET('/api/locations/{locationId}/automations', { params: { path: { locationId: loc } } }),
    [loc],
  );
  const toggle = async (ruleId: number, enabled: boolean) => {
    if (loc === null) return;
    setError(null);
    const {
      data,
      error: err,
      response,
    } = await api.PATCH('/api/locations/{locationId}/automations/{ruleId}', {
      params: { path: { locationId: loc, ruleId } },
      body: { enabled },
    });
    if (data === undefined) setError(errorText(err, response));
    rules.reload();
  };
  return (
    <>
      <h1>Automation rules</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <LocationPicker value={loc} onChange={setLoc} />
      </form>
      {error !== null && <Alert>{error}</Alert>}
      {loc !== null && (
        <Loaded data={rules.data} error={rules.error}>
          {(list) =>
            list.data.length === 0 ? (
              <p>No rule at this location.</p>
            ) : (
              <ul class="rules">
                {list.data.map((r) => (
                  <li key={r.ruleId}>
                    <h2>{r.name}</h2>
                    <Badge value={r.enabled ? 'enabled' : 'disabled'} />{' '}
                    <button type="button" onClick={() => void toggle(r.ruleId, !r.enabled)}>
                      {r.enabled ? 'Disable' : 'Enable'} rule {r.name}
                    </button>
                    {r.lastError !== null && <Alert>Last error: {r.lastError.message}</Alert>}
                    <details>
                      <summary>Trigger, conditions and action</summary>
                      <Json
                        label={`Rule ${r.name}`}
                        value={{ trigger: r.trigger, conditions: r.conditions, action: r.action }}
                      />
                    </details>
                  </li>
                ))}
              </ul>
            )
          }
        </Loaded>
      )}
    </>
  );
}
