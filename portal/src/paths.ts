/** Where the service serves the portal; every client route is under it. */
export const BASE = '/portal';
