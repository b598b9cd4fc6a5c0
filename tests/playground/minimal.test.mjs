// The minimal example bot (examples/minimal) through the Agents Playground: PLAYGROUND_BOT=minimal
// tests/playground/run. Skipped against the other bots, as their files are skipped against this one, so it runs
// alone against a fresh bot: the personal-welcome test needs a user who has not talked to the bot yet.
//
// The bot answers every message `Hello from minimal: <text>` (bot mentions stripped, trimmed) and welcomes with
// `Welcome to minimal` once per team install (in General) and once per user's first personal chat (the personal
// install or the first personal message, whichever comes first); nothing for group chats. No commands, and
// nothing is ever due at POST /api/tick.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BotServer, Playground, testsFor } from './driver.mjs';

const { test, skip } = testsFor('minimal');

/** How long we watch for extra messages after the expected one (a bounded wait, not a timing assertion). */
const QUIET_MS = 3_000;
const WELCOME = 'Welcome to minimal';

let pg;
let bot;
before(async () => {
  if (skip) return;
  pg = await Playground.connect();
  bot = new BotServer();
});
after(() => pg?.close());

const isWelcome = (e) => e.kind === 'create' && e.text.startsWith('Welcome');
const hello = (text) => `Hello from minimal: ${text}`;

test('installing the bot in a team posts exactly one Welcome to minimal, in the General channel', async () => {
  const general = pg.generalChannelId;
  const since = pg.mark();
  await pg.install(general);

  const welcome = await pg.waitFor((e) => isWelcome(e) && e.topConversationId === general, {
    since,
    what: `a Welcome in the General channel (${general})`,
  });
  assert.equal(welcome.text, WELCOME);
  assert.equal(welcome.fromId, pg.bot.id);

  const inGeneral = await pg.collect((e) => e.kind === 'create' && e.topConversationId === general, {
    since,
    ms: QUIET_MS,
  });
  assert.equal(inGeneral.length, 1, `expected only the welcome in General, got:\n${pg.describe(since)}`);
  const everywhere = await pg.collect(isWelcome, { since, ms: 0 });
  assert.equal(everywhere.length, 1, `expected one Welcome overall, got:\n${pg.describe(since)}`);
});

test('the same team install delivered again posts no second Welcome', async () => {
  const since = pg.mark();
  await pg.install(pg.generalChannelId);
  const welcomes = await pg.collect(isWelcome, { since, ms: QUIET_MS });
  assert.deepEqual(welcomes, [], `expected no Welcome for a duplicate install, got:\n${pg.describe(since)}`);
});

test('installing the bot in a group chat posts nothing', async () => {
  const since = pg.mark();
  await pg.install(pg.groupChatId);
  const posted = await pg.collect((e) => e.kind === 'create', { since, ms: QUIET_MS });
  assert.deepEqual(posted, [], `expected no message for a group chat install, got:\n${pg.describe(since)}`);
});

test('a personal install and then the first personal message give exactly one personal Welcome', async () => {
  const chat = pg.personalChatId;
  const since = pg.mark();
  await pg.install(chat);
  const welcome = await pg.waitFor((e) => isWelcome(e) && e.conversationId === chat, {
    since,
    what: `a Welcome in the personal chat (${chat})`,
  });
  assert.equal(welcome.text, WELCOME);

  const sent = await pg.sendPersonal('hello');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('Hello from minimal'), {
    since,
  });
  assert.equal(reply.text, hello('hello'));
  assert.equal(reply.fromId, pg.bot.id);

  const inChat = await pg.collect((e) => e.kind === 'create' && e.topConversationId === chat, {
    since,
    ms: QUIET_MS,
  });
  assert.deepEqual(
    inChat.map((e) => e.text),
    [WELCOME, hello('hello')],
    `expected one personal Welcome and the answer, got:\n${pg.describe(since)}`,
  );
});

test('a channel message with the bot @mentioned is answered, mention stripped, in its thread', async () => {
  const since = pg.mark();
  const sent = await pg.sendChannel('hi there');
  assert.ok(sent.postConversationId, 'a channel message starts a thread');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('Hello from minimal'), {
    since,
  });
  assert.equal(reply.text, hello('hi there'));
  const welcomes = await pg.collect(isWelcome, { since, ms: 0 });
  assert.deepEqual(welcomes, [], `a channel message brings no Welcome:\n${pg.describe(since)}`);
});

test('a group chat message with the bot @mentioned is answered, mention stripped, without a Welcome', async () => {
  const since = pg.mark();
  const sent = await pg.sendGroupChat('hi group');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('Hello from minimal'), {
    since,
  });
  assert.equal(reply.text, hello('hi group'));
  const inChat = await pg.collect((e) => e.kind === 'create' && e.topConversationId === pg.groupChatId, {
    since,
    ms: QUIET_MS,
  });
  assert.equal(inChat.length, 1, `expected only the answer in the group chat, got:\n${pg.describe(since)}`);
});

test('the text is trimmed, in a personal chat and around a channel mention', async () => {
  let since = pg.mark();
  const personal = await pg.sendPersonal('   padded text  \t');
  const first = await pg.waitForMessage(personal.conversationId, (e) => e.text.startsWith('Hello from minimal'), {
    since,
  });
  assert.equal(first.text, hello('padded text'));

  since = pg.mark();
  const channel = await pg.sendChannel('   spaced   ');
  const second = await pg.waitForMessage(channel.conversationId, (e) => e.text.startsWith('Hello from minimal'), {
    since,
  });
  assert.equal(second.text, hello('spaced'));
});

test('it has no commands, and POST /api/tick answers with nothing due', async () => {
  let since = pg.mark();
  for (const word of ['help', 'subscribe']) {
    const sent = await pg.sendPersonal(word);
    const reply = await pg.waitForMessage(sent.conversationId, () => true, { since, what: `an answer to ${word}` });
    assert.equal(reply.text, hello(word), `${word} is not a command`);
    assert.deepEqual(reply.attachments, [], `${word} gets no card`);
    since = pg.mark();
  }

  const tick = await bot.tick();
  assert.equal(tick.status, 200, `POST /api/tick: ${tick.status} ${tick.body}`);
  const posted = await pg.collect((e) => e.kind === 'create' || e.kind === 'update', { since, ms: QUIET_MS });
  assert.deepEqual(posted, [], `expected nothing from a tick, got:\n${pg.describe(since)}`);
});
