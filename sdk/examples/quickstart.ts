import { createServer } from 'node:http';
import { ContactGroup, contactGroupName, createNodeHandler, Webhooks } from '@fpt/webhooks';

const secret = process.env.FPT_WEBHOOK_SECRET; // whsec_…, shown when you subscribed
if (!secret) throw new Error('set FPT_WEBHOOK_SECRET');

// Verifies both signatures, checks the timestamp (5 min), drops redeliveries by eventId.
const webhooks = new Webhooks({ secret });

webhooks.on('contact.status_changed', (event, { windowId }) => {
  const { contactId, previousStatusId, newStatusId } = event.data;
  const from = contactGroupName(previousStatusId);
  console.log(`contact ${contactId}: ${from} → ${contactGroupName(newStatusId)} (window ${windowId})`);
  if (newStatusId === ContactGroup.Members) {
    // welcome the new member; throwing here answers 500 and FPT retries the event
  }
});

webhooks.on('contact.updated', (event) => {
  console.log(`contact ${event.data.contactId} changed: fetch GET /api/contacts/${event.data.contactId}`);
});

// Reads the raw body, answers 200, 401 (bad signature), 400 (bad event) or 500 (handler failed).
createServer(createNodeHandler(webhooks)).listen(Number(process.env.PORT ?? 3000));
