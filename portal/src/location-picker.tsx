import { api } from './api';
import { useResource } from './resource';

/** The locations this key may read, as a select; calls `onChange` with the first one at once. */
export function LocationPicker(props: { value: number | null; onChange: (id: number) => void }) {
  const locations = useResource(() => api.GET('/api/locations'), []);
  const list = locations.data?.data ?? [];
  const first = list[0];
  if (props.value === null && first !== undefined) queueMicrotask(() => props.onChange(first.id));
  return (
    <label class="picker">
      Location{' '}
      <select value={props.value ?? ''} onChange={(e) => props.onChange(Number(e.currentTarget.value))}>
        {list.map((l) => (
          <option key={l.id} value={l.id}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}
