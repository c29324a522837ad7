import { render } from 'preact';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect } from 'preact/hooks';
import { roleOf, session, signOut, type Role } from './session';
import { SignIn } from './pages/sign-in';
import { Endpoints } from './pages/endpoints';
import { NewEndpoint } from './pages/new-endpoint';
import { EndpointPage } from './pages/endpoint';
import { DeliveryPage } from './pages/delivery';
import { Catalog } from './pages/catalog';
import { Contacts } from './pages/contacts';
import { ContactPage } from './pages/contact';
import { Automations } from './pages/automations';
import { Operator } from './pages/operator';
import './style.css';

import { BASE } from './paths';

const NAV: { path: string; label: string; roles: Role[] }[] = [
  { path: '/endpoints', label: 'Endpoints', roles: ['partner', 'staff', 'operator'] },
  { path: '/catalog', label: 'Event catalog', roles: ['partner', 'staff', 'operator'] },
  { path: '/contacts', label: 'Contacts', roles: ['staff', 'operator'] },
  { path: '/automations', label: 'Automations', roles: ['staff', 'operator'] },
  { path: '/operator', label: 'Platform', roles: ['operator'] },
];

function who(): string {
  const me = session.value?.me;
  if (!me) return '';
  if (me.kind === 'operator') return 'the operator';
  const scope = me.locationId !== null ? `location ${me.locationId}` : `organization ${me.organizationId}`;
  return `${me.role}, ${scope}${me.appId ? `, app ${me.appId}` : ''}`;
}

function Shell() {
  const { path, route } = useLocation();
  const current = session.value;
  const signedIn = current !== null;
  const onSignIn = path === `${BASE}/sign-in`;
  useEffect(() => {
    if (!signedIn && !onSignIn) route(`${BASE}/sign-in`, true);
    else if (signedIn && (onSignIn || path === BASE || path === `${BASE}/`)) route(`${BASE}/endpoints`, true);
  }, [signedIn, onSignIn, path]);
  if (!signedIn) return <SignIn />;
  const role = roleOf(current.me);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">fpt-events</span>
        <nav aria-label="Portal">
          <ul>
            {NAV.filter((n) => n.roles.includes(role)).map((n) => (
              <li key={n.path}>
                <a href={BASE + n.path} aria-current={path.startsWith(BASE + n.path) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">Signed in as {who()}</span>
        <button type="button" onClick={() => signOut('You signed out.')}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Router>
          <Route path={`${BASE}/endpoints`} component={Endpoints} />
          <Route path={`${BASE}/endpoints/new`} component={NewEndpoint} />
          <Route path={`${BASE}/endpoints/:id`} component={EndpointPage} />
          <Route path={`${BASE}/deliveries/:id`} component={DeliveryPage} />
          <Route path={`${BASE}/catalog`} component={Catalog} />
          <Route path={`${BASE}/contacts`} component={Contacts} />
          <Route path={`${BASE}/contacts/:id`} component={ContactPage} />
          <Route path={`${BASE}/automations`} component={Automations} />
          <Route path={`${BASE}/operator`} component={Operator} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        No page here. <a href={`${BASE}/endpoints`}>Back to the endpoints</a>.
      </p>
    </>
  );
}

function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
