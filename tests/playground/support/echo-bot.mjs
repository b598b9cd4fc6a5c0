// A throwaway bot used ONLY to self-check the playground driver (PLAYGROUND_BOT=echo tests/playground/run).
// It is not our bot and not a model of it: the real run targets the Rust devserver. It implements just enough of
// the reference bot's words (docs/contract.md) to exercise every driver path: echo, `members`, welcome on install /
// first personal contact, and a poll (`subscribe`, POST /api/tick, card submit -> PUT update in place).
// It has no `help` or `whoami`: those tests are skipped against it.
//
// Anonymous, like the devserver without MICROSOFT_APP_ID: no inbound token check, no outbound token.
// Listens on BIND_ADDR (default 127.0.0.1:3978).

import http from 'node:http';

const [host, port] = (process.env.BIND_ADDR ?? '127.0.0.1:3978').split(':');
const allowed = (process.env.BOT_ALLOWED_SERVICE_URLS ?? '').split(',').filter(Boolean);

const welcomed = new Set(); // conversation ids (thread part dropped) that got their welcome
const subscriptions = new Map(); // conversation id (a channel, not a thread) -> {activity, pollMessageId?, answers}

function connectorUrl(serviceUrl, path) {
  if (!allowed.some((prefix) => serviceUrl.startsWith(prefix))) {
    throw new Error(`serviceUrl ${serviceUrl} not allowed`);
  }
  return `${serviceUrl.replace(/\/$/, '')}/v3/${path}`;
}

async function connector(method, serviceUrl, path, body) {
  const response = await fetch(connectorUrl(serviceUrl, path), {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

function send(activity, conversationId, message) {
  const id = encodeURIComponent(conversationId);
  const body = { type: 'message', from: activity.recipient, conversation: { id: conversationId }, ...message };
  return connector('POST', activity.serviceUrl, `conversations/${id}/activities`, body);
}

function reply(activity, message) {
  const id = encodeURIComponent(activity.conversation.id);
  const body = {
    type: 'message',
    from: activity.recipient,
    recipient: activity.from,
    conversation: activity.conversation,
    replyToId: activity.id,
    ...message,
  };
  return connector('POST', activity.serviceUrl, `conversations/${id}/activities/${encodeURIComponent(activity.id)}`, body);
}

function pollCard(answers) {
  return {
    contentType: 'application/vnd.microsoft.card.adaptive',
    content: {
      type: 'AdaptiveCard',
      version: '1.4',
      body: [{ type: 'TextBlock', text: `Poll: how is it going? Answers: ${answers}` }],
      actions: [{ type: 'Action.Submit', title: 'Good', data: { poll: 'check-in', answer: 'good' } }],
    },
  };
}

async function welcome(activity) {
  const key = activity.conversation.id.split(';')[0];
  if (welcomed.has(key)) return;
  welcomed.add(key);
  await send(activity, key, { text: 'Welcome! I echo what you say.' });
}

async function onActivity(activity) {
  const personal = activity.conversation.conversationType === 'personal';
  if (activity.type === 'installationUpdate' && activity.action === 'add') return welcome(activity);
  if (activity.type === 'conversationUpdate') {
    if ((activity.membersAdded ?? []).some((m) => m.id === activity.recipient.id)) return welcome(activity);
    return undefined;
  }
  if (activity.type !== 'message') return undefined;

  if (activity.value?.poll) {
    const sub = subscriptions.get(activity.conversation.id.split(';')[0]);
    if (!sub || sub.pollMessageId !== activity.replyToId) return undefined;
    sub.answers += 1;
    const id = encodeURIComponent(activity.conversation.id);
    return connector('PUT', activity.serviceUrl, `conversations/${id}/activities/${encodeURIComponent(sub.pollMessageId)}`, {
      type: 'message',
      id: sub.pollMessageId,
      attachments: [pollCard(sub.answers)],
    });
  }

  const mentionsOfMe = (activity.entities ?? []).filter(
    (e) => e.type === 'mention' && e.mentioned?.id === activity.recipient.id,
  );
  if (!personal && mentionsOfMe.length === 0) return undefined;
  let text = activity.text ?? '';
  for (const m of mentionsOfMe) text = text.split(m.text).join('');
  text = text.trim();
  if (personal) await welcome(activity);

  if (text === 'members') {
    const members = await connector(
      'GET',
      activity.serviceUrl,
      `conversations/${encodeURIComponent(activity.conversation.id.split(';')[0])}/members`,
    );
    return reply(activity, { text: `Members: ${members.map((m) => m.name).join(', ')}` });
  }
  if (text === 'subscribe') {
    subscriptions.set(activity.conversation.id.split(';')[0], { activity, pollMessageId: undefined, answers: 0 });
    return reply(activity, { text: 'Subscribed to the check-in poll.' });
  }
  return reply(activity, { text: `You sent ${text} which was ${[...text].length} characters` });
}

async function tick() {
  for (const [conversationId, sub] of subscriptions) {
    if (sub.pollMessageId) continue; // one poll per subscription: a second tick sends nothing
    const result = await send(sub.activity, conversationId, { attachments: [pollCard(0)] });
    sub.pollMessageId = result.id;
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/healthz') return res.end('ok');
    if (req.method === 'POST' && req.url === '/api/tick') {
      return tick().then(
        () => res.end(),
        (e) => {
          console.error(e);
          res.statusCode = 500;
          res.end(String(e));
        },
      );
    }
    if (req.method !== 'POST' || req.url !== '/api/messages') {
      res.statusCode = 404;
      return res.end();
    }
    let activity;
    try {
      activity = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.statusCode = 400;
      return res.end('malformed JSON');
    }
    res.statusCode = 200;
    res.end();
    onActivity(activity).catch((e) => console.error('echo-bot:', e.message));
    return undefined;
  });
});

server.listen(Number(port), host, () => console.log(`echo-bot listening on ${host}:${server.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
