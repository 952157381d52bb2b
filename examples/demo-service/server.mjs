// A tiny contacts/tickets API for the Envoy demo: it trusts the identity headers Envoy got from mandate.
import console from 'node:console';
import { createServer } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';

const contacts = new Map([
  ['c_1', { id: 'c_1', name: 'Ada Lovelace', tenant: 'acme_inc' }],
  ['c_2', { id: 'c_2', name: 'Grace Hopper', tenant: 'acme_inc' }],
]);
const tickets = new Map([['T-1', { id: 'T-1', title: 'Printer on fire', comments: [] }]]);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return undefined;
  }
}

const server = createServer(async (req, res) => {
  // What mandate vouched for; the service never reads the token itself.
  const who = {
    subject: req.headers['x-mandate-subject'],
    tenant: req.headers['x-mandate-tenant'],
    client: req.headers['x-mandate-client'],
    decision: req.headers['x-mandate-decision-id'],
  };
  const url = new URL(req.url ?? '/', 'http://demo');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] !== 'v1') return send(res, 404, { error: 'not_found' });
  if (parts[1] === 'contacts' && parts.length === 2 && req.method === 'GET') {
    return send(res, 200, { who, contacts: [...contacts.values()] });
  }
  if (parts[1] === 'contacts' && parts.length === 3) {
    const contact = contacts.get(parts[2]);
    if (!contact) return send(res, 404, { error: 'not_found' });
    if (req.method === 'GET') return send(res, 200, { who, contact });
    if (req.method === 'PATCH') {
      const body = await readJson(req);
      if (body === undefined) return send(res, 400, { error: 'invalid_json' });
      Object.assign(contact, typeof body.name === 'string' ? { name: body.name } : {});
      return send(res, 200, { who, contact });
    }
    if (req.method === 'DELETE') {
      contacts.delete(parts[2]);
      return send(res, 204, {});
    }
  }
  if (parts[1] === 'tickets' && parts.length >= 3) {
    const ticket = tickets.get(parts[2]);
    if (!ticket) return send(res, 404, { error: 'not_found' });
    if (parts.length === 3 && req.method === 'GET') return send(res, 200, { who, ticket });
    if (parts[3] === 'comments' && req.method === 'POST') {
      const body = await readJson(req);
      ticket.comments.push({ by: who.subject, text: String(body?.text ?? '') });
      return send(res, 201, { who, ticket });
    }
  }
  return send(res, 405, { error: 'method_not_allowed' });
});

server.listen(Number(process.env.PORT ?? 3000), '0.0.0.0', () => {
  console.log(`demo service on :${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => server.close(() => process.exit(0)));
