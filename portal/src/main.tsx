import { render } from 'preact';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { EXPIRED, session, signOut } from './session';
import type { Me } from './api';
import { linkToken, OpenLink } from './pages/link';
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

/** The pages, each shown to whoever may do what it is for (`GET /api/me`'s `can`). */
const NAV: { path: string; label: string; shown: (can: Me['can']) => boolean }[] = [
  {
    path: '/endpoints',
    label: 'Endpoints',
    shown: (can) => can.manageSubscriptions || can.pausePartnerSubscriptions,
  },
  { path: '/catalog', label: 'Event catalog', shown: () => true },
  { path: '/contacts', label: 'Contacts', shown: (can) => can.readContacts },
  { path: '/automations', label: 'Automations', shown: (can) => can.manageAutomations },
  { path: '/operator', label: 'Platform', shown: (can) => can.operate },
];

function who(): string {
  const me = session.value?.me;
  if (!me) return '';
  const until = session.value?.expiresAt
    ? ` (portal session until ${new Date(session.value.expiresAt).toLocaleTimeString()})`
    : '';
  if (me.kind === 'operator') return `the operator${until}`;
  const scope = me.locationId !== null ? `location ${me.locationId}` : `organization ${me.organizationId}`;
  const via = me.limitedBy
    ? `, through ${me.limitedBy === 'staff' ? "a staff key's" : "the operator's"} link`
    : '';
  return `${me.role}, ${scope}${me.appId ? `, app ${me.appId}` : ''}${via}${until}`;
}

function Shell() {
  const { path, route } = useLocation();
  const current = session.value;
  const signedIn = current !== null;
  const onSignIn = path === `${BASE}/sign-in`;
  const [link, setLink] = useState(linkToken);
  useEffect(() => {
    if (link !== null) return;
    if (!signedIn && !onSignIn) route(`${BASE}/sign-in`, true);
    else if (signedIn && (onSignIn || path === BASE || path === `${BASE}/`)) route(`${BASE}/endpoints`, true);
  }, [signedIn, onSignIn, path, link]);
  // a portal session ends at its expiry, in this tab too
  const expiresAt = current?.expiresAt;
  useEffect(() => {
    if (expiresAt === undefined) return;
    const timer = setTimeout(() => signOut(EXPIRED), Math.max(0, Date.parse(expiresAt) - Date.now()));
    return () => clearTimeout(timer);
  }, [expiresAt]);
  if (link !== null) return <OpenLink token={link} onDone={() => setLink(null)} />;
  if (!signedIn) return <SignIn />;
  const can = current.me.can;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">fpt-events</span>
        <nav aria-label="Portal">
          <ul>
            {NAV.filter((n) => n.shown(can)).map((n) => (
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
